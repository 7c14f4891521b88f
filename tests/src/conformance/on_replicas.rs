//! Statements a test runs on the primary that no binlog carries but that
//! the replicas need too: `INSTALL PLUGIN`/`INSTALL SONAME` and
//! `UNINSTALL PLUGIN`/`UNINSTALL SONAME` (a test installs the `EXAMPLE`
//! engine, then creates tables with it; a replica without the engine stops
//! with "Unknown storage engine"). On separate machines an operator
//! installs the plugin on every server; the runner does it for the test.
//!
//! The rewrite ([`super::rewrite`]) puts after each such statement
//! `--exec $CONFORMANCE_ON_REPLICAS $mysql_errno "<statement>"`, which
//! runs `conformance on-replicas ERRNO SQL` ([`run`]): when the primary
//! refused the statement (`ERRNO`, mysqltest's `$mysql_errno` of the
//! statement, is not 0: the test expected an error) nothing happens;
//! otherwise the statement runs on every replica, as root over its socket,
//! with `sql_log_bin=0` (a relay must not pass it on). A replica that
//! already has the plugin, or never had it, is fine ([`TOLERATED`]); any
//! other error fails the command, so the test stops with it
//! (`mysqltest-error`) instead of a replica stopping later for a reason
//! that says less.
//!
//! [`set_globals`] gives the replicas the test's server options that shape
//! tables ([`super::options::replica_globals`]) before the test.
//!
//! Invariants: only plugin statements and those `SET GLOBAL`s are run
//! ([`is_plugin_statement`]); connections are bounded
//! ([`Topology::connect`]); the primary is never touched.

use mysql_async::prelude::Queryable;

use super::topology::Topology;

/// Server errors a replica may answer: `(code, meaning)`.
pub const TOLERATED: &[(u16, &str)] = &[
    (1968, "plugin already installed (ER_PLUGIN_INSTALLED)"),
    (1125, "function or plugin already exists (ER_UDF_EXISTS)"),
    (1305, "plugin or library not installed (ER_SP_DOES_NOT_EXIST)"),
];

/// What a plugin statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginStatement {
    Install,
    Uninstall,
}

/// Whether `sql` (a statement, without mysqltest's `eval`) is `INSTALL` or
/// `UNINSTALL` `PLUGIN`/`SONAME`.
pub fn is_plugin_statement(sql: &str) -> Option<PluginStatement> {
    let mut words = sql.split_whitespace().map(str::to_ascii_lowercase);
    let op = match words.next()?.as_str() {
        "install" => PluginStatement::Install,
        "uninstall" => PluginStatement::Uninstall,
        _ => return None,
    };
    matches!(words.next()?.as_str(), "plugin" | "soname").then_some(op)
}

/// Runs `sql` on every replica when `primary_errno` is `0` (module doc).
/// Returns one line per replica (what happened there).
pub async fn run(topo: &Topology, primary_errno: &str, sql: &str) -> Result<Vec<String>, String> {
    if is_plugin_statement(sql).is_none() {
        return Err(format!(
            "{sql:?} is not INSTALL/UNINSTALL PLUGIN/SONAME: on-replicas runs nothing else"
        ));
    }
    if primary_errno.trim() != "0" {
        return Ok(vec![format!(
            "the primary answered error {} to it: not run on the replicas",
            primary_errno.trim()
        )]);
    }
    let mut lines = Vec::new();
    for host in topo.replicas() {
        let mut conn = Topology::connect(host).await?;
        let result = match conn.query_drop("SET SESSION sql_log_bin=0").await {
            Ok(()) => conn.query_drop(sql).await,
            Err(e) => Err(e),
        };
        let _ = conn.disconnect().await;
        match result {
            Ok(()) => lines.push(format!("{}: done", host.name)),
            Err(mysql_async::Error::Server(e)) => match TOLERATED.iter().find(|(code, _)| *code == e.code) {
                Some((_, meaning)) => lines.push(format!("{}: {meaning}, fine", host.name)),
                None => return Err(format!("{}: `{sql}` failed: {} ({})", host.name, e.message, e.code)),
            },
            Err(e) => return Err(format!("{}: `{sql}` failed: {e}", host.name)),
        }
    }
    Ok(lines)
}

/// Runs each `SET GLOBAL` of `sets` on every replica; the first error
/// names the replica and the statement.
pub async fn set_globals(topo: &Topology, sets: &[String]) -> Result<(), String> {
    for host in topo.replicas() {
        let mut conn = Topology::connect(host).await?;
        for sql in sets {
            if let Err(e) = conn.query_drop(sql.as_str()).await {
                let _ = conn.disconnect().await;
                return Err(format!("{}: `{sql}` failed: {e}", host.name));
            }
        }
        let _ = conn.disconnect().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_statements_are_recognised() {
        use PluginStatement::*;
        assert_eq!(
            is_plugin_statement("install plugin example soname 'ha_example.so'"),
            Some(Install)
        );
        assert_eq!(is_plugin_statement("INSTALL SONAME 'ha_example'"), Some(Install));
        assert_eq!(is_plugin_statement("UNINSTALL PLUGIN example"), Some(Uninstall));
        assert_eq!(is_plugin_statement("uninstall\n  soname 'ha_example'"), Some(Uninstall));
        assert_eq!(is_plugin_statement("install"), None);
        assert_eq!(is_plugin_statement("SELECT 'install plugin'"), None);
        assert_eq!(is_plugin_statement("INSTALL_X PLUGIN y"), None);
    }
}
