//! An instance's boot script, `<dir>/boot.sh start|stop`: what a
//! deployment's `datasource-boot-script` names so that `tprovision` can stop
//! and start the sandbox's MariaDB as it would a real host's.
//!
//! Invariants: the script starts `mariadbd` with the instance's own command
//! line and environment (`server.rs`, `argv`), detached; such a server is
//! not our child, so it is found by its pid file and killed when the
//! instance is dropped ([`kill_adopted`]) or its root swept
//! (`cleanup.rs`) — only if `/proc/<pid>/cmdline` names the instance's
//! directory, so a recycled pid is never signalled. `stop` waits until the
//! server removed its pid file (a clean shutdown), SIGKILL after 60 s;
//! `start` waits until the socket exists, up to 120 s.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::error::{io_err, SandboxError};
use super::instance::Instance;

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Instance {
    /// Writes `<dir>/boot.sh` and returns its path.
    pub fn write_boot_script(&self) -> Result<PathBuf, SandboxError> {
        let path = self.dir.join("boot.sh");
        let pid = sh_quote(&self.dir.join("mysqld.pid").display().to_string());
        let sock = sh_quote(&self.socket().display().to_string());
        let console = sh_quote(&self.dir.join("console.log").display().to_string());
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
            .collect();
        let cmd: Vec<String> = std::iter::once(self.mariadbd.display().to_string())
            .chain(self.argv())
            .map(|a| sh_quote(&a))
            .collect();
        let text = format!(
            "#!/bin/sh\n\
             # Written by the test sandbox: stops or starts the mariadbd of {dir}.\n\
             {env}\
             case \"$1\" in\n\
             stop)\n\
             \x20 [ -f {pid} ] || exit 0\n\
             \x20 p=$(cat {pid}); kill \"$p\" 2>/dev/null || true; i=0\n\
             \x20 while [ -f {pid} ]; do\n\
             \x20   i=$((i+1)); if [ $i -gt 600 ]; then kill -9 \"$p\" 2>/dev/null; rm -f {pid}; break; fi; sleep 0.1\n\
             \x20 done ;;\n\
             start)\n\
             \x20 rm -f {sock}\n\
             \x20 setsid {cmd} </dev/null >>{console} 2>&1 &\n\
             \x20 i=0\n\
             \x20 while [ ! -S {sock} ]; do\n\
             \x20   i=$((i+1)); if [ $i -gt 1200 ]; then echo \"mariadbd did not start: see the error log in {dir}\" >&2; exit 1; fi; sleep 0.1\n\
             \x20 done ;;\n\
             *) echo \"usage: $0 start|stop\" >&2; exit 2 ;;\n\
             esac\n",
            dir = self.dir.display(),
            cmd = cmd.join(" "),
        );
        std::fs::write(&path, text).map_err(io_err("write boot script", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod boot script", &path))?;
        Ok(path)
    }
}

/// SIGKILLs a `mariadbd` of `dir` that the boot script started (see the
/// module's invariants). Best effort.
pub(super) fn kill_adopted(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("mysqld.pid")) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<libc::pid_t>() else {
        return;
    };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return;
    };
    let needle = dir.display().to_string();
    if String::from_utf8_lossy(&cmdline).contains(&needle) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid's
        // command line names this instance's directory (checked above).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}
