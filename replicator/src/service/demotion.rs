//! A master that becomes a relay or a slave (`trepctl setrole`, and
//! `trepctl composite switch` / `recover`, issue 13): where its applier
//! starts, and whether its data may follow another master at all.
//!
//! Invariants:
//! * its database holds every transaction of its THL (it extracted them
//!   from its own binlog, or applied them as a relay before a promotion),
//!   so the applied position written into its tracking schema is the
//!   THL's last transaction: the applier starts after it and applies
//!   nothing twice (a master keeps no applied position of its own);
//! * its binlog holds no transaction after the last one extracted: such a
//!   transaction never reached the THL, so no other host has it, and this
//!   host's data would differ from the new master's history for ever. The
//!   role change is refused, naming the transaction and the fix
//!   (`tprovision`), and nothing changes;
//! * the THL must end on a complete transaction; an empty THL needs
//!   nothing (the applier starts where the upstream's history does).

use thl::event::EventHeader;
use tracing::{info, warn};

use super::db::{self, AppliedPoint};
use super::error::{conflict, failed, ServiceError};
use crate::binlog::BinlogPosition;
use crate::catalog::Catalog;
use crate::config::ServicePlan;
use crate::extractor::event_id::EventId;
use crate::pipeline::master::promotion::recorded_start;
use crate::source::queries::first_transaction_from;

/// Checks the binlog and writes the applied position; the position
/// written (`None` for an empty THL).
pub(super) async fn hand_over(plan: &ServicePlan, host: &str) -> Result<Option<AppliedPoint>, ServiceError> {
    let Some(last) = thl_end(plan)?.last else {
        return Ok(None);
    };
    if !last.last_frag {
        return Err(conflict(format!(
            "the THL of {} ends inside seqno {} (fragment {}): a master's THL ends on a whole transaction; \
             go online as master until it does, then change the role",
            plan.service, last.seqno, last.fragno
        )));
    }
    match extracted_up_to(plan, host, &last).await? {
        Some(after) => refuse_unextracted(plan, &last, &after).await?,
        None => warn!(
            service = %plan.service,
            seqno = %last.seqno,
            from = %last.source_id,
            "the THL's last transaction came from another host and no promotion position is recorded: \
             cannot check this host's binlog for transactions never extracted"
        ),
    }
    let point = AppliedPoint {
        seqno: last.seqno.0,
        epoch: last.epoch.0,
        source_id: last.source_id.clone(),
        event_id: last.event_id.clone(),
    };
    db::write_applied_position(plan, &point)
        .await
        .map_err(|e| failed(format!("setrole: {e}")))?;
    info!(service = %plan.service, seqno = point.seqno, "former master: its applier starts after its THL's last transaction");
    Ok(Some(point))
}

/// Where the THL ends: its last record, and the last record of its last
/// whole transaction. They differ when it ends inside a transaction, the
/// first fragments of one whose sender went away (the writer's recovery
/// cuts them when the THL is next opened for writing).
#[derive(Debug, Default)]
pub(super) struct ThlEnd {
    pub last: Option<EventHeader>,
    pub last_whole: Option<EventHeader>,
}

/// Reads where the THL ends (both `None`: no THL, or an empty one).
pub(super) fn thl_end(plan: &ServicePlan) -> Result<ThlEnd, ServiceError> {
    if !plan.thl_dir.exists() {
        return Ok(ThlEnd::default());
    }
    let read = |e: thl::store::StoreError| failed(format!("reading the THL at {}: {e}", plan.thl_dir.display()));
    let reader = thl::store::Reader::open(&plan.thl_dir).map_err(read)?;
    // The last whole transaction (a reader of the files sees whole ones).
    let whole = reader.max_seqno().map_err(read)?;
    let Some(from) = whole.or(reader.min_seqno().map_err(read)?) else {
        return Ok(ThlEnd::default());
    };
    let mut cursor = reader.cursor(from).map_err(read)?;
    let mut end = ThlEnd::default();
    while let Some(record) = cursor.next().map_err(read)? {
        let h = record.header();
        if whole.is_some_and(|w| h.seqno <= w) {
            end.last_whole = Some(h.clone());
        }
        end.last = Some(h.clone());
    }
    Ok(end)
}

/// Where this host's binlog was when its last THL transaction was
/// extracted: after it when this host extracted it, at the promotion
/// position when this host was promoted and extracted nothing since.
async fn extracted_up_to(
    plan: &ServicePlan,
    host: &str,
    last: &EventHeader,
) -> Result<Option<BinlogPosition>, ServiceError> {
    if last.source_id == host {
        return EventId::parse(&last.event_id).map(|id| Some(id.at)).map_err(|e| {
            failed(format!(
                "the THL's last transaction (seqno {}) has event id {:?}: {e}",
                last.seqno, last.event_id
            ))
        });
    }
    let epoch = super::commands::with_catalog(plan.catalog_dir.clone(), Catalog::last_epoch)
        .await
        .map_err(|e| failed(format!("setrole: reading the catalog: {e}")))?;
    recorded_start(epoch.as_ref(), host, last).map_err(|e| failed(format!("setrole: {e}")))
}

/// Refuses when this host's binlog holds a transaction at or after `after`.
async fn refuse_unextracted(
    plan: &ServicePlan,
    last: &EventHeader,
    after: &BinlogPosition,
) -> Result<(), ServiceError> {
    let mut conn = mysql_async::Conn::new(db::opts(plan)).await.map_err(|e| {
        failed(format!(
            "setrole: cannot connect to this host's database to check its binlog: {e}"
        ))
    })?;
    let found = first_transaction_from(&mut conn, after)
        .await
        .map_err(|e| failed(format!("setrole: reading this host's binlog from {after}: {e}")))?;
    let _ = conn.disconnect().await;
    match found {
        None => Ok(()),
        Some((at, gtid)) => Err(conflict(format!(
            "this host's binlog holds a transaction that was never extracted ({gtid} at {at}; the THL ends with seqno {} \
             at {after}): no other host has it, so this host's data diverged from any other master's history. \
             Reprovision this host from a replica of the new master's history (tprovision -s HOST); or, if it is still \
             meant to be the master, go online as master to extract it first",
            last.seqno
        ))),
    }
}
