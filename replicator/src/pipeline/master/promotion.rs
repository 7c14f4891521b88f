//! Where a promoted relay extracts from (`trepctl setrole -role master` on
//! a relay or slave, issue 13): its THL ends with transactions another
//! host extracted, whose event ids are positions in *that* host's binlog.
//! Resuming at them in this host's binlog would start at an arbitrary
//! offset of a same-named file, or fail as "purged".
//!
//! Invariants:
//! * extraction starts in this host's **own** binlog, at its current end:
//!   the service is offline (its applier writes nothing) and has applied
//!   every transaction its THL holds, so everything the binlog gets from
//!   now on is new (whether the applied transactions are in it or not,
//!   `log_slave_updates`, does not matter: downstream hosts have them from
//!   the THL). Writes made on this database while it was a relay are not
//!   extracted: keep a passive site read-only, as Tungsten does. The
//!   position is recorded in the catalog with the new epoch
//!   (`EpochRecord::start`), so a restart before the first own transaction
//!   starts there again;
//! * promotion is refused, naming the fix, unless every transaction the
//!   THL holds is applied (`trep_commit_seqno` at its last seqno on every
//!   channel): otherwise the new master would skip them downstream;
//! * the seqno series continues: the first own transaction is the THL's
//!   last seqno + 1, in a new epoch that starts there.

use mysql_async::prelude::Queryable;
use thl::event::EventHeader;

use super::{ExtractError, MasterSettings};
use crate::binlog::BinlogPosition;
use crate::catalog::Catalog;
use crate::source::queries::current_position;

/// This host's binlog position to extract from, after `last` (another
/// host's transaction, the THL's last).
pub(super) async fn promotion_start(
    settings: &MasterSettings,
    last: &EventHeader,
    catalog: &Catalog,
) -> Result<BinlogPosition, ExtractError> {
    let next = last.seqno.next();
    if let Some(rec) = catalog.last_epoch()? {
        if let Some(start) = rec.promotion_start(&settings.source_id, next) {
            return crate::extractor::event_id::EventId::parse(start)
                .map(|id| id.at)
                .map_err(|e| promotion(last, format!("the catalog's promotion position {start:?}: {e}")));
        }
    }
    let fail = |m: String| promotion(last, m);
    let mut conn = mysql_async::Conn::new(settings.source.clone())
        .await
        .map_err(|e| fail(format!("cannot connect to this host's database: {e}")))?;
    let q = |e: mysql_async::Error| promotion(last, format!("reading this host's database: {e}"));
    let table = crate::applier::catalog_table::CatalogNames::new(&settings.service).commit_seqno;
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
        return Err(fail(format!(
            "this host applied [{}] of the {} transactions its THL holds (up to seqno {}): go online as {} until it \
             applied everything (`trepctl wait -applied {}`), go offline, then promote",
            applied.join(", "),
            if last.last_frag {
                "complete"
            } else {
                "stored (the last one incomplete)"
            },
            last.seqno,
            "relay",
            last.seqno
        )));
    }
    let at = current_position(&mut conn)
        .await
        .map_err(q)?
        .ok_or_else(|| fail("this host's binlog is off (SHOW MASTER STATUS is empty): turn log_bin on".into()))?;
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
