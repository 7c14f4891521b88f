//! SQL on an [`Instance`] as `root` over its Unix socket: the account set-up
//! at creation, and the helpers tests use ([`Instance::exec`],
//! [`Instance::query`], [`Instance::query_value`],
//! [`Instance::checksum_table`]).
//!
//! Invariants:
//! * **Clean binlog.** The set-up statements (dropping the anonymous users
//!   that `mariadb-install-db` creates, which would shadow `tungsten@'%'`,
//!   and creating the replication account with `ALL PRIVILEGES ON *.* WITH
//!   GRANT OPTION`, since the applier uses the same account) run with
//!   `sql_log_bin=0`, so a fresh instance's binlog holds no user events.
//! * Every helper connects as `root` through the socket, so it keeps working
//!   whatever a test does to the replication account, and each connect and
//!   statement has the `sql_timeout` deadline.
//! * Results are text: `NULL` as the string `"NULL"`, binary values lossily
//!   decoded as UTF-8.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::error::SandboxError;
use super::instance::Instance;

impl Instance {
    /// Drops the anonymous users and creates the replication account,
    /// without writing to the binlog.
    pub(super) async fn setup_accounts(&self) -> Result<(), SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = async {
            self.run(&mut conn, "SET SESSION sql_log_bin=0").await?;
            let anonymous = self
                .rows(&mut conn, "SELECT user, host FROM mysql.user WHERE user = ''")
                .await?;
            for row in anonymous {
                let host = row.get(1).cloned().unwrap_or_default();
                let sql = format!("DROP USER ''@'{}'", host.replace('\'', "''"));
                self.run(&mut conn, &sql).await?;
            }
            let user = self.options.user.replace('\'', "''");
            let pass = self.options.password.replace('\'', "''");
            self.run(
                &mut conn,
                &format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pass}'"),
            )
            .await?;
            self.run(
                &mut conn,
                &format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION"),
            )
            .await?;
            self.run(&mut conn, "FLUSH PRIVILEGES").await
        }
        .await;
        let _ = conn.disconnect().await;
        result
    }

    async fn root_conn(&self) -> Result<Conn, SandboxError> {
        let what = "(connect as root)";
        match tokio::time::timeout(self.options.sql_timeout, Conn::new(self.root_opts())).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(SandboxError::Sql {
                name: self.spec.name.clone(),
                sql: what.into(),
                source,
            }),
            Err(_) => Err(SandboxError::SqlTimeout {
                name: self.spec.name.clone(),
                sql: what.into(),
                waited: self.options.sql_timeout,
            }),
        }
    }

    async fn run(&self, conn: &mut Conn, sql: &str) -> Result<(), SandboxError> {
        match tokio::time::timeout(self.options.sql_timeout, conn.query_drop(sql)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SandboxError::Sql {
                name: self.spec.name.clone(),
                sql: sql.into(),
                source,
            }),
            Err(_) => Err(SandboxError::SqlTimeout {
                name: self.spec.name.clone(),
                sql: sql.into(),
                waited: self.options.sql_timeout,
            }),
        }
    }

    async fn rows(&self, conn: &mut Conn, sql: &str) -> Result<Vec<Vec<String>>, SandboxError> {
        let rows: Vec<Row> = match tokio::time::timeout(self.options.sql_timeout, conn.query(sql)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(source)) => {
                return Err(SandboxError::Sql {
                    name: self.spec.name.clone(),
                    sql: sql.into(),
                    source,
                })
            }
            Err(_) => {
                return Err(SandboxError::SqlTimeout {
                    name: self.spec.name.clone(),
                    sql: sql.into(),
                    waited: self.options.sql_timeout,
                })
            }
        };
        Ok(rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(value_to_string).collect())
            .collect())
    }

    /// Runs statements (several may be separated by `;`) as root on a fresh
    /// connection.
    pub async fn exec(&self, sql: &str) -> Result<(), SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = self.run(&mut conn, sql).await;
        let _ = conn.disconnect().await;
        result
    }

    /// Runs a query as root on a fresh connection and returns its rows, each
    /// value as text (`NULL` as the string `"NULL"`; binary values lossily
    /// decoded as UTF-8).
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>, SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = self.rows(&mut conn, sql).await;
        let _ = conn.disconnect().await;
        result
    }

    /// The first column of the first row, if any.
    pub async fn query_value(&self, sql: &str) -> Result<Option<String>, SandboxError> {
        Ok(self
            .query(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next()))
    }

    /// `CHECKSUM TABLE db.table` (for comparing source and target). Fails if
    /// the table does not exist.
    pub async fn checksum_table(&self, table: &str) -> Result<u64, SandboxError> {
        let sql = format!("CHECKSUM TABLE {table}");
        let rows = self.query(&sql).await?;
        let value = rows.first().and_then(|r| r.get(1)).cloned();
        match value.as_deref().map(str::parse::<u64>) {
            Some(Ok(v)) => Ok(v),
            _ => Err(SandboxError::Unexpected {
                name: self.spec.name.clone(),
                sql,
                detail: format!("checksum {value:?} (does the table exist?)"),
            }),
        }
    }
}

fn value_to_string(v: Value) -> String {
    match v {
        Value::NULL => "NULL".to_owned(),
        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_owned(),
    }
}
