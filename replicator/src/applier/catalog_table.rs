//! The applier's tables on the target: `tungsten_<service>.trep_commit_seqno`
//! (Tungsten's columns, one row per channel) and
//! `tungsten_<service>.heartbeat`.

use mysql_async::Value as P;
use thl::event::EventHeader;
use thl::seqno::{Epoch, Seqno};

use super::bind::timestamp;
use super::sql::{quote_ident, table_name};

/// The position of the last event committed by a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPosition {
    /// Last applied seqno (the end of a filtered range).
    pub seqno: Seqno,
    /// Its fragment number.
    pub fragno: u16,
    /// True when that fragment was the last one of the transaction.
    pub last_frag: bool,
    /// The epoch of the event.
    pub epoch: Epoch,
    /// Its native event id (`file:offset;session`).
    pub event_id: String,
    /// The master that extracted it.
    pub source_id: String,
}

impl AppliedPosition {
    /// The position after `h` is applied (a filtered range ends at its
    /// `seqno_end`).
    pub fn of(h: &EventHeader) -> AppliedPosition {
        AppliedPosition {
            seqno: h.seqno_end.max(h.seqno),
            fragno: h.fragno,
            last_frag: h.last_frag,
            epoch: h.epoch,
            event_id: h.event_id.clone(),
            source_id: h.source_id.clone(),
        }
    }

    /// True when the event `h` is already covered by this position.
    pub fn covers(&self, h: &EventHeader) -> bool {
        let end = h.seqno_end.max(h.seqno);
        if end != self.seqno {
            return end < self.seqno;
        }
        // Same last seqno: a complete transaction covers all its fragments;
        // a partial one covers the fragments up to its own.
        h.seqno < end || self.last_frag || h.fragno <= self.fragno
    }
}

/// Names of the catalog objects of one service.
#[derive(Debug, Clone)]
pub(crate) struct CatalogNames {
    pub schema: String,
    pub commit_seqno: String,
    pub heartbeat: String,
    /// The DDL statement a channel is running (`trep_ddl_in_flight`): written
    /// and committed before the statement, deleted with the position that
    /// follows it (`statement.rs`).
    pub ddl_in_flight: String,
    /// How parallel apply spread the transactions over the channel rows
    /// (`trep_apply_routing`, one row): a restart may not change it while
    /// the rows name different seqnos.
    pub apply_routing: String,
}

impl CatalogNames {
    pub fn new(service: &str) -> CatalogNames {
        CatalogNames::in_schema(format!("tungsten_{service}"))
    }

    /// The names in tracking schema `schema` (an upstream's, from its rows).
    pub fn in_schema(schema: String) -> CatalogNames {
        CatalogNames {
            commit_seqno: table_name(&schema, "trep_commit_seqno"),
            heartbeat: table_name(&schema, "heartbeat"),
            ddl_in_flight: table_name(&schema, "trep_ddl_in_flight"),
            apply_routing: table_name(&schema, "trep_apply_routing"),
            schema,
        }
    }

    /// The tracking schema (idempotent).
    pub fn create_schema(&self) -> String {
        format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&self.schema))
    }

    /// Tungsten's heartbeat table (idempotent).
    pub fn create_heartbeat(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             id BIGINT NOT NULL, \
             seqno BIGINT, \
             eventid VARCHAR(128), \
             source_tstamp TIMESTAMP NULL DEFAULT NULL, \
             target_tstamp TIMESTAMP NULL DEFAULT NULL, \
             lag_millis BIGINT, \
             salt BIGINT, \
             name VARCHAR(128), \
             PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            self.heartbeat
        )
    }

    /// The statements that create the catalog (idempotent).
    pub fn create_statements(&self) -> Vec<String> {
        vec![
            self.create_schema(),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 task_id INT NOT NULL, \
                 seqno BIGINT, \
                 fragno SMALLINT, \
                 last_frag CHAR(1), \
                 source_id VARCHAR(128), \
                 epoch_number BIGINT, \
                 eventid VARCHAR(128), \
                 applied_latency INT, \
                 update_timestamp TIMESTAMP NULL DEFAULT NULL, \
                 shard_id VARCHAR(128), \
                 extract_timestamp TIMESTAMP NULL DEFAULT NULL, \
                 PRIMARY KEY (task_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.commit_seqno
            ),
            self.create_heartbeat(),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 task_id INT NOT NULL, \
                 seqno BIGINT NOT NULL, \
                 eventid VARCHAR(128), \
                 before_def LONGTEXT NULL, \
                 PRIMARY KEY (task_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.ddl_in_flight
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 id TINYINT NOT NULL, \
                 scheduler VARCHAR(16) NOT NULL, \
                 PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.apply_routing
            ),
            // Catalogs made before the before image.
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS before_def LONGTEXT NULL",
                self.ddl_in_flight
            ),
            // Tungsten's initial row: task 0, nothing applied.
            format!(
                "INSERT IGNORE INTO {} (task_id, seqno, fragno, last_frag, epoch_number) \
                 VALUES (0, -1, 0, '1', -1)",
                self.commit_seqno
            ),
        ]
    }

    /// A channel's row, copied from task 0 when it does not exist (Tungsten
    /// expands one row to N channels that way).
    pub fn expand_channel(&self, channel: u32) -> String {
        format!(
            "INSERT IGNORE INTO {t} (task_id, seqno, fragno, last_frag, source_id, epoch_number, \
             eventid, applied_latency, update_timestamp, shard_id, extract_timestamp) \
             SELECT {channel}, seqno, fragno, last_frag, source_id, epoch_number, eventid, \
             applied_latency, update_timestamp, shard_id, extract_timestamp FROM {t} WHERE task_id=0",
            t = self.commit_seqno
        )
    }

    /// `SELECT` of a channel's position.
    pub fn select_position(&self, channel: u32) -> String {
        format!(
            "SELECT seqno, fragno, last_frag, epoch_number, eventid, source_id FROM {} WHERE task_id={channel}",
            self.commit_seqno
        )
    }

    /// The parameterised update of a channel's position row.
    pub fn update_position(&self) -> String {
        format!(
            "UPDATE {} SET seqno=?, fragno=?, last_frag=?, source_id=?, epoch_number=?, eventid=?, \
             applied_latency=?, update_timestamp=?, shard_id=?, extract_timestamp=? WHERE task_id=?",
            self.commit_seqno
        )
    }

    /// Marks a channel's DDL as running: parameters task id, seqno, event
    /// id, and the altered table's definition before it (`SHOW CREATE
    /// TABLE`, or NULL: `altered_table`).
    pub fn mark_ddl(&self) -> String {
        format!(
            "REPLACE INTO {} (task_id, seqno, eventid, before_def) VALUES (?, ?, ?, ?)",
            self.ddl_in_flight
        )
    }

    /// Clears a channel's DDL mark: parameter task id.
    pub fn clear_ddl(&self) -> String {
        format!("DELETE FROM {} WHERE task_id=?", self.ddl_in_flight)
    }

    /// `SELECT` of a channel's DDL mark.
    pub fn select_ddl(&self, channel: u32) -> String {
        format!(
            "SELECT seqno, eventid, before_def FROM {} WHERE task_id={channel}",
            self.ddl_in_flight
        )
    }

    /// The parameterised upsert of the heartbeat row (id 1).
    pub fn upsert_heartbeat(&self) -> String {
        format!(
            "INSERT INTO {} (id, seqno, eventid, source_tstamp, target_tstamp, lag_millis, salt, name) \
             VALUES (1, ?, ?, ?, ?, ?, 0, ?) ON DUPLICATE KEY UPDATE seqno=VALUES(seqno), \
             eventid=VALUES(eventid), source_tstamp=VALUES(source_tstamp), \
             target_tstamp=VALUES(target_tstamp), lag_millis=VALUES(lag_millis), \
             salt=salt+1, name=VALUES(name)",
            self.heartbeat
        )
    }
}

/// A TIMESTAMP parameter for a time in ms since the epoch (NULL for 0).
pub(crate) fn ms_param(ms: i64) -> P {
    if ms <= 0 {
        return P::NULL;
    }
    timestamp(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1000) as u32)
}

/// Parameters of [`CatalogNames::update_position`].
pub(crate) fn position_params(h: &EventHeader, channel: u32, now: i64) -> Vec<P> {
    let pos = AppliedPosition::of(h);
    let latency = if h.source_tstamp_ms > 0 {
        ((now - h.source_tstamp_ms).max(0) / 1000).min(i64::from(i32::MAX))
    } else {
        0
    };
    vec![
        P::Int(pos.seqno.0),
        P::Int(i64::from(pos.fragno)),
        P::Bytes(if pos.last_frag { b"1".to_vec() } else { b"0".to_vec() }),
        P::Bytes(pos.source_id.into_bytes()),
        P::Int(pos.epoch.0),
        P::Bytes(pos.event_id.into_bytes()),
        P::Int(latency),
        ms_param(now),
        P::Bytes(h.shard_id.clone().into_bytes()),
        ms_param(h.extract_tstamp_ms),
        P::UInt(u64::from(channel)),
    ]
}

/// Parameters of [`CatalogNames::upsert_heartbeat`].
pub(crate) fn heartbeat_params(h: &EventHeader, name: &str, now: i64) -> Vec<P> {
    vec![
        P::Int(h.seqno.0),
        P::Bytes(h.event_id.clone().into_bytes()),
        ms_param(h.source_tstamp_ms),
        ms_param(now),
        P::Int(if h.source_tstamp_ms > 0 {
            now - h.source_tstamp_ms
        } else {
            0
        }),
        P::Bytes(name.as_bytes().to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seqno: Seqno, seqno_end: Seqno, fragno: u16, last_frag: bool) -> EventHeader {
        EventHeader {
            seqno,
            seqno_end,
            fragno,
            last_frag,
            epoch: Epoch(0),
            source_id: "h".into(),
            event_id: "e".into(),
            shard_id: "s".into(),
            source_tstamp_ms: 0,
            extract_tstamp_ms: 0,
        }
    }

    #[test]
    fn covers() {
        let done = AppliedPosition::of(&header(Seqno(5), Seqno(5), 0, true));
        assert!(done.covers(&header(Seqno(5), Seqno(5), 0, true)));
        assert!(done.covers(&header(Seqno(4), Seqno(4), 0, true)));
        assert!(!done.covers(&header(Seqno(6), Seqno(6), 0, true)));
        let partial = AppliedPosition::of(&header(Seqno(5), Seqno(5), 1, false));
        assert!(partial.covers(&header(Seqno(5), Seqno(5), 0, false)));
        assert!(partial.covers(&header(Seqno(5), Seqno(5), 1, false)));
        assert!(!partial.covers(&header(Seqno(5), Seqno(5), 2, true)));
        // A filtered range ending at the position is covered; one beyond is not.
        let range = AppliedPosition::of(&header(Seqno(6), Seqno(9), 0, true));
        assert_eq!(range.seqno, Seqno(9));
        assert!(range.covers(&header(Seqno(7), Seqno(9), 0, true)));
        assert!(!range.covers(&header(Seqno(8), Seqno(12), 0, true)));
    }

    #[test]
    fn names() {
        let n = CatalogNames::new("alpha");
        assert_eq!(n.commit_seqno, "`tungsten_alpha`.`trep_commit_seqno`");
        assert!(n.create_statements()[1].contains("extract_timestamp TIMESTAMP"));
    }
}
