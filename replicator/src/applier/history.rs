//! Whether the target has tables that keep a transaction-precise history.
//!
//! A system-versioned table whose period is `BIGINT UNSIGNED AS ROW START /
//! ROW END` records the server's own transaction ids, so MariaDB logs the
//! changes to it as statements even under `binlog_format=ROW`: every
//! replica gives them its own ids, and its history rows follow its own
//! transaction boundaries. A block that joined the source transaction
//! inserting a row with the one deleting it would leave no history row (a
//! row that lived within one transaction never existed for the table),
//! where the source and MariaDB's own replica have one. So when the target
//! has such a table, a transaction with a DML statement is alone in its
//! target transaction, as every source transaction is on a native replica.
//! Deployments without such tables keep block commit for statements.
//!
//! The answer comes from the target's `information_schema.COLUMNS`
//! (`GENERATION_EXPRESSION = 'ROW START'` on a `bigint` column), asked once
//! and again after any DDL, which may create, alter or drop such a table.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// The question asked of the target.
const QUERY: &str = "SELECT COUNT(*) FROM information_schema.COLUMNS \
                     WHERE GENERATION_EXPRESSION = 'ROW START' AND DATA_TYPE = 'bigint'";

/// The cached answer: `None` until asked (or after DDL).
#[derive(Debug, Default)]
pub(crate) struct PreciseHistory {
    known: Option<bool>,
}

impl PreciseHistory {
    /// Forgets the answer (after DDL).
    pub fn forget(&mut self) {
        self.known = None;
    }

    /// Whether the target has a table with a transaction-precise history.
    pub async fn on_target(&mut self, conn: &mut Conn) -> Result<bool, mysql_async::Error> {
        if let Some(known) = self.known {
            return Ok(known);
        }
        let n: Option<u64> = conn.query_first(QUERY).await?;
        let known = n.is_some_and(|n| n > 0);
        self.known = Some(known);
        Ok(known)
    }
}
