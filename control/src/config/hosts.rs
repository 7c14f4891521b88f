//! Host name resolution with an optional hosts file (`--hosts-file FILE`).
//!
//! The file has `/etc/hosts` format: an IPv4 or IPv6 address, then one or
//! more names, separated by blanks; `#` starts a comment (anywhere on a
//! line). Names match case-insensitively; the first line naming a host wins,
//! as with `/etc/hosts`. It lets several "hosts" share one machine, each on
//! its own loopback address (`127.0.1.1 host1.alpha`), without editing
//! `/etc/hosts`. [`Resolver::resolve`] consults the file first, then (unless
//! disabled) the system resolver, preferring an IPv4 answer.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// A bad line of a hosts file, or the file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HostsFileError {
    #[error("hosts file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hosts file {path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// A parsed hosts file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsFile {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// Lower-cased name → (address, line).
    entries: HashMap<String, (IpAddr, usize)>,
}

impl HostsFile {
    /// Reads and parses `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<HostsFile, HostsFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| HostsFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        HostsFile::parse(&text, path)
    }

    /// Parses hosts-file text; `path` is only used in messages.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<HostsFile, HostsFileError> {
        let path = path.as_ref().to_path_buf();
        let mut entries = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            let mut words = l.split_whitespace();
            let addr_text = words.next().unwrap_or("");
            let addr: IpAddr = addr_text.parse().map_err(|_| HostsFileError::Syntax {
                path: path.clone(),
                line,
                message: format!("{addr_text:?} is not an IP address (expected: ADDRESS NAME [NAME...])"),
            })?;
            let mut any = false;
            for name in words {
                any = true;
                entries.entry(name.to_ascii_lowercase()).or_insert((addr, line));
            }
            if !any {
                return Err(HostsFileError::Syntax {
                    path,
                    line,
                    message: format!("address {addr} has no host name"),
                });
            }
        }
        Ok(HostsFile { path, entries })
    }

    /// The address of `host` in this file.
    pub fn lookup(&self, host: &str) -> Option<IpAddr> {
        self.entries.get(&host.to_ascii_lowercase()).map(|(a, _)| *a)
    }

    /// Number of names in the file.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Resolves host names: the hosts file first, then the system resolver.
#[derive(Debug, Clone)]
pub struct Resolver {
    hosts: Option<HostsFile>,
    system: bool,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            hosts: None,
            system: true,
        }
    }
}

impl Resolver {
    /// A resolver using `hosts` (if any) then the system resolver.
    pub fn new(hosts: Option<HostsFile>) -> Resolver {
        Resolver { hosts, system: true }
    }

    /// Turns the system resolver fallback on or off (tests, sandboxes).
    pub fn with_system(mut self, on: bool) -> Resolver {
        self.system = on;
        self
    }

    /// The hosts file in use, if any.
    pub fn hosts_file(&self) -> Option<&HostsFile> {
        self.hosts.as_ref()
    }

    /// The address of `host`: a literal IP, the hosts file's entry, or the
    /// system resolver's answer (IPv4 preferred).
    pub fn resolve(&self, host: &str) -> Option<IpAddr> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(ip);
        }
        if let Some(ip) = self.hosts.as_ref().and_then(|h| h.lookup(host)) {
            return Some(ip);
        }
        if !self.system {
            return None;
        }
        let addrs: Vec<IpAddr> = (host, 0).to_socket_addrs().ok()?.map(|a| a.ip()).collect();
        addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied()
    }
}

/// Resolves `host` with `hosts` then the system resolver.
pub fn resolve(hosts: Option<&HostsFile>, host: &str) -> Option<IpAddr> {
    Resolver::new(hosts.cloned()).resolve(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_parsing() -> Result<(), HostsFileError> {
        let h = HostsFile::parse(
            "# sandbox\n127.0.1.1 host1.alpha h1   # primary\n\n127.0.1.2\thost2.alpha\n::1 v6host\n127.0.9.9 host1.alpha\n",
            "test-hosts",
        )?;
        assert_eq!(h.lookup("host1.alpha"), Some("127.0.1.1".parse().map_err(|_| bad())?));
        assert_eq!(h.lookup("H1"), h.lookup("host1.alpha"));
        assert_eq!(h.lookup("host2.alpha"), Some("127.0.1.2".parse().map_err(|_| bad())?));
        assert_eq!(h.lookup("v6host"), Some("::1".parse().map_err(|_| bad())?));
        assert_eq!(h.lookup("nope"), None);
        assert_eq!(h.len(), 4);
        let r = Resolver::new(Some(h)).with_system(false);
        assert_eq!(
            r.resolve("host2.alpha").map(|a| a.to_string()),
            Some("127.0.1.2".into())
        );
        assert_eq!(r.resolve("10.0.0.1").map(|a| a.to_string()), Some("10.0.0.1".into()));
        assert_eq!(r.resolve("unknown.invalid"), None);
        Ok(())
    }

    fn bad() -> HostsFileError {
        HostsFileError::Syntax {
            path: "x".into(),
            line: 0,
            message: "bad literal".into(),
        }
    }

    #[test]
    fn hosts_file_errors_name_the_line() {
        let e = HostsFile::parse("127.0.0.1 ok\nnot-an-ip host\n", "hf")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref().map(|s| s.starts_with("hosts file hf:2:")),
            Some(true),
            "{e:?}"
        );
        let e = HostsFile::parse("127.0.0.1\n", "hf").err().map(|e| e.to_string());
        assert!(e.is_some_and(|s| s.contains("no host name")));
    }
}
