//! A relay or slave that becomes the master (`trepctl setrole -role
//! master`, issue 13): the role change is the moment of promotion, and
//! fixes where in this host's own binlog the master extracts from
//! (`pipeline/master/promotion.rs`).
//!
//! Invariants:
//! * when the THL's last transaction came from another host, `setrole`
//!   records this host's binlog end with the new epoch before it returns,
//!   so every write made after it (before `online`, or while the service
//!   goes online) is extracted; a promotion already recorded after the
//!   same transaction is kept (its position is older: nothing is skipped);
//! * it is refused, naming the fix, unless every transaction of the THL is
//!   applied; nothing is recorded and the role is unchanged then;
//! * an empty THL, or one whose last transaction this host extracted,
//!   needs nothing: the master resumes in its own binlog;
//! * the first fragments of a transaction whose master went away before
//!   sending the rest (a failover in the middle of a large transaction)
//!   are not part of the history: the promotion follows the last whole
//!   transaction, and the master's THL writer cuts them (its recovery)
//!   before it stores the first own transaction at that seqno.

use tracing::{info, warn};

use super::db;
use super::error::{conflict, failed, ServiceError};
use crate::catalog::Catalog;
use crate::config::ServicePlan;
use crate::pipeline::master::promotion::{binlog_end_after, promotion_epoch, recorded_start};

/// Records where `host`, promoted now, extracts from (see the module doc).
pub(super) async fn record_start(plan: &ServicePlan, host: &str) -> Result<(), ServiceError> {
    let end = super::demotion::thl_end(plan)?;
    if let Some(cut) = end.last.as_ref().filter(|h| !h.last_frag) {
        // Its sender went away before the rest: no host can complete it,
        // and none of it is committed here (the applier holds a
        // transaction's fragments in one target transaction).
        warn!(service = %plan.service, seqno = %cut.seqno, fragno = cut.fragno, from = %cut.source_id,
            "the THL ends inside this transaction, whose master never sent the rest: the promotion follows the \
             last whole transaction, and the master cuts this one when it opens the THL");
    }
    let Some(last) = end.last_whole else {
        return Ok(());
    };
    if last.source_id == host {
        return Ok(());
    }
    let catalog = |e: String| failed(format!("setrole: the catalog: {e}"));
    let epoch = super::commands::with_catalog(plan.catalog_dir.clone(), Catalog::last_epoch)
        .await
        .map_err(catalog)?;
    if recorded_start(epoch.as_ref(), host, &last).map_err(catalog)?.is_some() {
        return Ok(());
    }
    let at = binlog_end_after(db::opts(plan), &plan.service, &last)
        .await
        .map_err(|why| {
            conflict(format!(
                "cannot promote {host} after seqno {} (the THL's last transaction came from {}): {why}",
                last.seqno, last.source_id
            ))
        })?;
    let rec = promotion_epoch(host, &last, &at, crate::clock::now_ms());
    super::commands::with_catalog(plan.catalog_dir.clone(), move |c| c.record_epoch(&rec))
        .await
        .map_err(catalog)?;
    info!(service = %plan.service, seqno = %last.seqno, from = %last.source_id, %at,
        "promoted: the master will extract this host's binlog from here");
    Ok(())
}
