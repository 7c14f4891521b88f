//! Where a transaction goes and what it waits for when applying by key
//! (`svc-parallelization-type=key`; `channels.rs` dispatches).
//!
//! # Invariants
//!
//! * **The channel depends on the THL only** ([`route`]): a restart sends
//!   every transaction to the same channel as before, whose row says
//!   whether it is applied.
//! * **Anything not understood runs alone.** A transaction is a barrier
//!   (every channel drained before and after it) when it has a statement
//!   or is cut into fragments (`channels::alone_whatever_keys`), when its
//!   metadata marks DDL, a rollback, XA or no block commit (`ALONE`),
//!   when one of its tables is serial on the target
//!   ([`TableKeys::Serial`], also when its description cannot be read),
//!   or when it has more than
//!   [`MAX_TXN_KEYS`](super::dependencies::MAX_TXN_KEYS) keys.
//! * **The target's description is current.** Table descriptions (and the
//!   target's cascade groups) are read when a table is first met and
//!   forgotten after every transaction with a statement (which may have
//!   changed a key); that transaction ran alone, so every description read
//!   after it sees its effect.
//! * Rows of the applier's own catalog schema add no key (the applier does
//!   not apply them).

use std::collections::HashMap;

use mysql_async::{Conn, Opts};
use thl::event::{meta, Change, ReplEvent};
use tracing::{debug, warn};

use super::dependencies::{row_keys, Key};
use crate::applier::{read_cascade_groups, read_table_keys, CascadeGroups, TableKeys};

pub use super::dependencies::{route, History, Writer, HISTORY_CAP};

/// Metadata that makes a transaction run alone: DDL, a transaction the
/// applier keeps out of any block, one the source rolled back (it changed
/// a non-transactional table), and XA (a prepared transaction holds its
/// session and its locks until its completion).
const ALONE: [&str; 4] = [
    meta::SCHEMA_CHANGE,
    meta::UNSAFE_FOR_BLOCK_COMMIT,
    meta::ROLLBACK,
    meta::XA,
];

/// Counters of parallel apply since the pass started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Transactions that ran alone.
    pub barriers: u64,
    /// Transactions that waited for another channel.
    pub waits: u64,
    /// Times the history outgrew its cap and was drained.
    pub overflows: u64,
}

/// The key scheduler's state for one pass.
#[derive(Debug)]
pub struct KeyScheduler {
    opts: Opts,
    conn: Option<Conn>,
    tables: HashMap<(String, String), TableKeys>,
    /// The target's cascade groups, read with the first table after a
    /// statement.
    groups: Option<CascadeGroups>,
    own_schema: String,
    pub history: History,
}

impl KeyScheduler {
    /// `opts` reach the target; `service` names the applier's own schema.
    pub fn new(opts: Opts, service: &str, channels: usize) -> KeyScheduler {
        KeyScheduler {
            opts,
            conn: None,
            tables: HashMap::new(),
            groups: None,
            own_schema: format!("tungsten_{service}"),
            history: History::new(channels),
        }
    }

    /// The keys of a whole transaction; `None` when it must run alone.
    pub async fn keys(&mut self, event: &ReplEvent) -> Option<Vec<Key>> {
        if ALONE.iter().any(|m| event.body.metadata_value(m).is_some()) {
            return None;
        }
        let mut keys = Vec::new();
        for change in &event.body.changes {
            let Change::Rows(rc) = change else { return None };
            if rc.schema == self.own_schema {
                continue;
            }
            let table = self.table(&rc.schema, &rc.table).await;
            if !row_keys(rc, table, &mut keys) {
                if let TableKeys::Serial(why) = table {
                    debug!(seqno = %event.header.seqno, reason = %why, "runs alone");
                }
                return None;
            }
        }
        Some(keys)
    }

    /// Forgets the tables' descriptions (after a statement).
    pub fn forget_tables(&mut self) {
        self.tables.clear();
        self.groups = None;
    }

    async fn table(&mut self, schema: &str, table: &str) -> &TableKeys {
        let key = (schema.to_owned(), table.to_owned());
        let keys = match self.tables.remove(&key) {
            Some(keys) => keys,
            None => match self.read(schema, table).await {
                Ok(keys) => keys,
                Err(e) => {
                    // Runs alone until the next statement forgets it; the
                    // next table read connects again.
                    warn!(error = %e, schema, table, "cannot read the target's keys of this table: its transactions run alone");
                    self.conn = None;
                    TableKeys::Serial(format!("its keys could not be read: {e}"))
                }
            },
        };
        self.tables.entry(key).or_insert(keys)
    }

    /// Reads a table's keys (and the cascade groups first, when needed),
    /// connecting first when needed.
    async fn read(&mut self, schema: &str, table: &str) -> Result<TableKeys, mysql_async::Error> {
        let conn = match self.conn.as_mut() {
            Some(conn) => conn,
            None => self.conn.insert(Conn::new(self.opts.clone()).await?),
        };
        let groups = match self.groups.as_ref() {
            Some(g) => g,
            None => self.groups.insert(read_cascade_groups(conn).await?),
        };
        read_table_keys(conn, schema, table, groups).await
    }
}
