//! Where a promoted relay extracts from (`trepctl setrole -role master` on
//! a relay or slave, issue 13): its THL ends with transactions another
//! host extracted, whose event ids are positions in *that* host's binlog.
//! Resuming at them in this host's binlog would start at an arbitrary
//! offset of a same-named file, or fail as "purged".
//!
//! Invariants:
//! * extraction starts in this host's **own** binlog, at its end when the
//!   operator promoted it (`trepctl setrole -role master`, which records
//!   the position in the catalog with the new epoch, `EpochRecord::start`,
//!   before it returns): the service is offline then (its applier writes
//!   nothing) and has applied every transaction its THL holds, so
//!   everything the binlog gets from then on is new, including writes
//!   made before `online` finishes (whether the applied transactions are
//!   in the binlog or not, `log_slave_updates`, does not matter: downstream
//!   hosts have them from the THL). Writes made on this database while it
//!   was a relay are not extracted: keep a passive site read-only, as
//!   Tungsten does. A master that finds no recorded position (its role set
//!   in the ini over a relay's THL) takes its binlog's end when it goes
//!   online, with the same checks;
//! * a restart before the first own transaction starts at the recorded
//!   position again;
//! * promotion is refused, naming the fix, unless every transaction the
//!   THL holds is applied (`trep_commit_seqno` at its last seqno on every
//!   channel): otherwise the new master would skip them downstream;
//! * the seqno series continues: the first own transaction is the THL's
//!   last seqno + 1, in a new epoch that starts there.

use mysql_async::prelude::Queryable;
use mysql_async::Opts;
use thl::event::{Epoch, EventHeader};

use super::{ExtractError, MasterSettings};
use crate::binlog::BinlogPosition;
use crate::catalog::{Catalog, EpochRecord};
use crate::extractor::event_id::EventId;
use crate::source::queries::current_position;

/// This host's binlog position to extract from, after `last` (another
/// host's transaction, the THL's last): the one recorded at promotion,
/// else the binlog's end now.
pub(super) async fn promotion_start(
    settings: &MasterSettings,
    last: &EventHeader,
    catalog: &Catalog,
) -> Result<BinlogPosition, ExtractError> {
    let fail = |why| promotion(last, why);
    if let Some(at) = recorded_start(catalog.last_epoch()?.as_ref(), &settings.source_id, last).map_err(fail)? {
        return Ok(at);
    }
    binlog_end_after(settings.source.clone(), &settings.service, last)
        .await
        .map_err(fail)
}

/// The position recorded when `host` was promoted after `last`, if the
/// catalog's last epoch is that promotion's.
pub fn recorded_start(
    last_epoch: Option<&EpochRecord>,
    host: &str,
    last: &EventHeader,
) -> Result<Option<BinlogPosition>, String> {
    let Some(start) = last_epoch.and_then(|rec| rec.promotion_start(host, last.seqno.next())) else {
        return Ok(None);
    };
    EventId::parse(start)
        .map(|id| Some(id.at))
        .map_err(|e| format!("the catalog's promotion position {start:?}: {e}"))
}

/// The epoch a promotion of `host` after `last` starts, extracting from
/// `at`.
pub fn promotion_epoch(host: &str, last: &EventHeader, at: &BinlogPosition, time_ms: i64) -> EpochRecord {
    let first_seqno = last.seqno.next();
    EpochRecord {
        epoch: Epoch::starting_at(first_seqno),
        first_seqno,
        source_id: host.to_owned(),
        time_ms,
        start: Some(EventId::new(at.clone(), None).to_string()),
    }
}

/// The end of this host's binlog (`source`), once every transaction of
/// the THL (ending with `last`, a whole transaction's last fragment) is
/// applied to it; otherwise why not.
pub async fn binlog_end_after(source: Opts, service: &str, last: &EventHeader) -> Result<BinlogPosition, String> {
    let mut conn = mysql_async::Conn::new(source)
        .await
        .map_err(|e| format!("cannot connect to this host's database: {e}"))?;
    let q = |e: mysql_async::Error| format!("reading this host's database: {e}");
    let table = crate::applier::catalog_table::CatalogNames::new(service).commit_seqno;
    let rows: Vec<(i64, Option<i64>, Option<String>)> = conn
        .query(format!("SELECT task_id, seqno, last_frag FROM {table}"))
        .await
        .map_err(q)?;
    let applied_all = !rows.is_empty()
        && rows
            .iter()
            .all(|(_, s, f)| *s == Some(last.seqno.0) && f.as_deref().is_some_and(|f| f == "1" || f == "Y"));
    if !applied_all || !last.last_frag {
        let applied: Vec<String> = rows
            .iter()
            .map(|(t, s, _)| format!("channel {t}: {}", s.unwrap_or(-1)))
            .collect();
        return Err(format!(
            "this host applied [{}] of the transactions its THL holds (up to seqno {}): go online as relay until \
             it applied everything (`trepctl wait -applied {}`), go offline, then promote",
            applied.join(", "),
            last.seqno,
            last.seqno
        ));
    }
    let at = current_position(&mut conn)
        .await
        .map_err(q)?
        .ok_or_else(|| "this host's binlog is off (SHOW MASTER STATUS is empty): turn log_bin on".to_owned())?;
    let _ = conn.disconnect().await;
    Ok(at)
}

fn promotion(last: &EventHeader, why: String) -> ExtractError {
    ExtractError::Promotion {
        seqno: last.seqno,
        from: last.source_id.clone(),
        why,
    }
}
