//! What a test's server options mean to the runner, beyond being passed to
//! the primary: the options mtr itself consumes.
//!
//! * `--timezone=X` is not a `mariadbd` option (the server exits with
//!   status 7): mtr takes it out of the options and starts the test's
//!   servers with `TZ=X` in their environment, and so does the runner for
//!   the primary ([`ServerSetup`]; `--default-time-zone=...` stays a server
//!   option and, as in mtr, also sets `TZ=GMT-8` unless a later
//!   `--timezone` says otherwise). The replicas keep their own
//!   environment: the runner gives a test's options (`.opt`,
//!   `-master.opt`) to the primary only, and a replicator or native
//!   replica applies what the binlog says, which carries the session time
//!   zone of every statement that depends on it.
//!
//! Invariants: options are matched by name with dashes and underscores
//! alike and without case; nothing here reads the server.

/// The binlog name every sandbox server starts with (`--log-bin=mysql-bin`).
pub const SANDBOX_BINLOG: &str = "mysql-bin";

/// `--name=value` split into the normalized name (no leading dashes,
/// lowercase, `-` for `_`) and the value, if any.
fn name_value(opt: &str) -> (String, Option<&str>) {
    let bare = opt.trim_start_matches('-');
    let (name, value) = match bare.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (bare, None),
    };
    (name.replace('_', "-").to_ascii_lowercase(), value)
}

/// A test's server options as the primary gets them: `mariadbd` options
/// and environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSetup {
    /// `mariadbd` options (`--timezone` taken out).
    pub args: Vec<String>,
    /// `TZ`, when the options set it (module doc).
    pub env: Vec<(String, String)>,
}

impl ServerSetup {
    /// mtr's reading of a test's options: `--timezone=X` becomes `TZ=X`;
    /// `--default-time-zone=...` stays and sets `TZ=GMT-8` (the last one
    /// wins, as in mtr).
    pub fn from_options(opts: &[String]) -> ServerSetup {
        let mut args = Vec::new();
        let mut tz = None;
        for o in opts {
            match name_value(o) {
                (n, Some(v)) if n == "timezone" => tz = Some(v.to_owned()),
                (n, _) if n == "default-time-zone" => {
                    tz = Some("GMT-8".to_owned());
                    args.push(o.clone());
                }
                _ => args.push(o.clone()),
            }
        }
        ServerSetup {
            args,
            env: tz.map(|v| vec![("TZ".to_owned(), v)]).unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.env.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn timezone_becomes_tz_in_the_environment() {
        let s = ServerSetup::from_options(&v(&["--binlog_annotate_row_events", "--timezone=GMT-3"]));
        assert_eq!(s.args, v(&["--binlog_annotate_row_events"]));
        assert_eq!(s.env, vec![("TZ".to_owned(), "GMT-3".to_owned())]);
        let d = ServerSetup::from_options(&v(&["--default-time-zone=+01:00"]));
        assert_eq!(d.args, v(&["--default-time-zone=+01:00"]));
        assert_eq!(d.env, vec![("TZ".to_owned(), "GMT-8".to_owned())]);
        let last = ServerSetup::from_options(&v(&["--default_time_zone=+01:00", "--timezone=MET"]));
        assert_eq!(last.env, vec![("TZ".to_owned(), "MET".to_owned())]);
        let none = ServerSetup::from_options(&v(&["--log-bin"]));
        assert!(none.env.is_empty());
        assert!(!none.is_empty());
        assert!(ServerSetup::from_options(&[]).is_empty());
    }
}
