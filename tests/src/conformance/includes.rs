//! The conformance runner's own versions of the replication framework's
//! include files (mysql-test/include/*.inc), written into the overlay
//! directory where mysqltest looks before the originals.
//!
//! Every connection a replication test opens (`master`, `master1`, `slave`,
//! `slave1`, `server_N`) points at the one primary: what a test reads "on
//! the slave" it reads on the primary, and whatever it would make a native
//! replica do (start, stop, reset, wait for a position or an error) is a
//! no-op or a checkpoint. The replicas are the replicators' slaves, which
//! the test never touches. Choices, per include:
//!
//! * `master-slave.inc`, `rpl_init.inc`, `rpl_connect.inc`: connect to the
//!   primary (`127.0.0.1:$MASTER_MYPORT`);
//! * `rpl_end.inc`, `rpl_sync.inc`, `rpl_reset.inc`, `sync_*`: a
//!   checkpoint (marker row, bounded wait, comparison of every table);
//! * `start_slave.inc`, `stop_slave.inc`, `wait_for_slave_to_*`,
//!   `check_slave_*`, `rpl_change_topology.inc` ...: nothing;
//! * `wait_for_slave_sql_error*.inc`, `wait_for_slave_io_error.inc`: the
//!   test dies with a message (it needs a replica that fails, which cannot
//!   happen on one server): the outcome is `mysqltest-error`;
//! * `rpl_restart_server.inc`, `rpl_stop_server.inc`,
//!   `rpl_start_server.inc`: server 1 (the primary) restarts through mtr's
//!   expect-file protocol, which the runner implements; other servers:
//!   nothing.

use std::fs;
use std::io;
use std::path::Path;

const CONNECT_ALL: &str = "--disable_query_log
--let $_conf_port= $MASTER_MYPORT
if (!$rpl_server_count)
{
  --let $rpl_server_count= 2
}
--let $_conf_i= $rpl_server_count
while ($_conf_i)
{
  --connect (server_$_conf_i,127.0.0.1,root,,test,$_conf_port,)
  --dec $_conf_i
}
--let $rpl_inited= 1
--let $rpl_topology= 1->2
--enable_query_log
";

fn master_slave() -> String {
    format!(
        "# conformance runner: every connection points at the primary.\n{CONNECT_ALL}--disable_query_log
--connect (master,127.0.0.1,root,,test,$MASTER_MYPORT,)
--connect (master1,127.0.0.1,root,,test,$MASTER_MYPORT,)
--connect (slave,127.0.0.1,root,,test,$MASTER_MYPORT,)
--connect (slave1,127.0.0.1,root,,test,$MASTER_MYPORT,)
--enable_query_log
--connection master
"
    )
}

fn rpl_init() -> String {
    format!("# conformance runner: every server_N is the primary.\n{CONNECT_ALL}--connection server_1\n")
}

const CHECKPOINT: &str = "--exec $CONFORMANCE_CHECKPOINT \"LABEL\"\n";
const CHECKPOINT_SLAVE: &str = "--exec $CONFORMANCE_CHECKPOINT \"LABEL\"\n--connection slave\n";

const RPL_END: &str = "# conformance runner: a checkpoint, then the server_N connections go.
--exec $CONFORMANCE_CHECKPOINT \"rpl_end.inc\"
--connection default
--let $_conf_i= $rpl_server_count
while ($_conf_i)
{
  --disconnect server_$_conf_i
  --dec $_conf_i
}
--let $rpl_inited= 0
";

const RPL_CONNECT: &str = "--connect ($rpl_connection_name,127.0.0.1,root,,test,$MASTER_MYPORT,)\n";

const NOTHING: &str = "# conformance runner: nothing to do (there is no native replica).\n";

const DIE_SLAVE_ERROR: &str =
    "--die conformance: the test waits for a native replica to fail, which cannot happen on one server\n";

const RESTART_SERVER: &str = "# conformance runner: only server 1 (the primary) exists.
if ($rpl_server_number == 1)
{
  --let $allow_rpl_inited= 1
  --let $restart_parameters= $rpl_server_parameters
  --source include/restart_mysqld.inc
}
";

const STOP_SERVER: &str = "if ($rpl_server_number == 1)
{
  --let $allow_rpl_inited= 1
  --source include/shutdown_mysqld.inc
}
";

const START_SERVER: &str = "if ($rpl_server_number == 1)
{
  --let $restart_parameters= $rpl_server_parameters
  --source include/start_mysqld.inc
}
";

/// The overridden include names.
const NAMES: &[&str] = &[
    "master-slave.inc",
    "rpl_init.inc",
    "rpl_connect.inc",
    "rpl_end.inc",
    "rpl_sync.inc",
    "rpl_reset.inc",
    "sync_slave_sql_with_master.inc",
    "sync_slave_sql_with_io.inc",
    "sync_slave_io_with_master.inc",
    "sync_io_with_master.inc",
    "sync_with_master.inc",
    "sync_with_master_gtid.inc",
    "start_slave.inc",
    "stop_slave.inc",
    "start_slave_sql.inc",
    "stop_slave_sql.inc",
    "start_slave_io.inc",
    "stop_slave_io.inc",
    "rpl_start_slaves.inc",
    "rpl_stop_slaves.inc",
    "reset_slave.inc",
    "restart_slave_sql.inc",
    "wait_for_slave_to_start.inc",
    "wait_for_slave_to_stop.inc",
    "wait_for_slave_sql_to_start.inc",
    "wait_for_slave_sql_to_stop.inc",
    "wait_for_slave_io_to_start.inc",
    "wait_for_slave_io_to_stop.inc",
    "wait_for_slave_param.inc",
    "check_slave_is_running.inc",
    "check_slave_no_error.inc",
    "rpl_change_topology.inc",
    "wait_for_slave_sql_error.inc",
    "wait_for_slave_io_error.inc",
    "wait_for_slave_sql_error_and_skip.inc",
    "rpl_restart_server.inc",
    "rpl_stop_server.inc",
    "rpl_start_server.inc",
];

/// Whether `name` (a file name) is one of ours.
pub fn is_override(name: &str) -> bool {
    NAMES.contains(&name)
}

/// The text of the override `name`, if it is one.
pub fn text_of(name: &str) -> Option<String> {
    let text = match name {
        "master-slave.inc" => master_slave(),
        "rpl_init.inc" => rpl_init(),
        "rpl_connect.inc" => RPL_CONNECT.into(),
        "rpl_end.inc" => RPL_END.into(),
        "rpl_sync.inc" | "rpl_reset.inc" => CHECKPOINT.replace("LABEL", name),
        "sync_slave_sql_with_master.inc" | "sync_slave_sql_with_io.inc" | "sync_with_master_gtid.inc" => {
            CHECKPOINT_SLAVE.replace("LABEL", name)
        }
        "sync_slave_io_with_master.inc" | "sync_io_with_master.inc" | "sync_with_master.inc" => {
            CHECKPOINT.replace("LABEL", name)
        }
        "wait_for_slave_sql_error.inc" | "wait_for_slave_io_error.inc" | "wait_for_slave_sql_error_and_skip.inc" => {
            DIE_SLAVE_ERROR.into()
        }
        "rpl_restart_server.inc" => RESTART_SERVER.into(),
        "rpl_stop_server.inc" => STOP_SERVER.into(),
        "rpl_start_server.inc" => START_SERVER.into(),
        n if is_override(n) => NOTHING.into(),
        _ => return None,
    };
    Some(text)
}

/// Writes the override `name` at `path`.
pub fn write_override_at(path: &Path, name: &str) -> io::Result<()> {
    let Some(text) = text_of(name) else {
        return Err(io::Error::other(format!("{name} is not a conformance override")));
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, text)
}

/// Writes every override into `overlay/<dir>/include/`.
pub fn write_overrides(overlay: &Path, dir: &Path) -> io::Result<()> {
    for name in NAMES {
        write_override_at(&overlay.join(dir).join("include").join(name), name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_text_and_syncs_checkpoint() {
        for n in NAMES {
            assert!(text_of(n).is_some(), "{n}");
        }
        assert!(text_of("sync_slave_sql_with_master.inc")
            .is_some_and(|t| t.contains("$CONFORMANCE_CHECKPOINT") && t.contains("--connection slave")));
        assert!(text_of("master-slave.inc").is_some_and(|t| t.contains("--connect (slave,127.0.0.1")));
        assert!(text_of("have_innodb.inc").is_none());
    }
}
