//! The `tungsten.ini` keys the replicator knows, their aliases and value
//! kinds, and the parsers of typed values (ports, counts, durations, sizes,
//! booleans).

use std::time::Duration;

/// How a key's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (user names, passwords, paths, addresses).
    Text,
    /// One host name.
    Host,
    /// Comma-separated host names.
    HostList,
    /// One dataservice name.
    Name,
    /// Comma-separated dataservice names.
    NameList,
    /// TCP port, 1..=65535.
    Port,
    /// Non-negative integer.
    Count,
    /// `7d`, `12h`, `30m`, `1s`, `500ms`, `2w`; a bare number is seconds.
    Duration,
    /// Bytes: `100000000`, or with a binary suffix `64k`, `100M`, `1G` (`b`
    /// optional).
    Size,
    /// `true/false`, `yes/no`, `on/off`, `1/0`; a bare flag is true.
    Bool,
    /// One of these words, in any case.
    OneOf(&'static [&'static str]),
    /// Accepted and not used by the replicator (connectors, managers, ...).
    Ignored,
}

/// Where a key belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Describes a dataservice's hosts and links (not valid in `[defaults]`).
    Topology,
    /// A setting: in `[defaults]` or a section, the section wins.
    Setting,
}

/// One known key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub scope: Scope,
}

const fn k(name: &'static str, kind: Kind, scope: Scope) -> KeySpec {
    KeySpec { name, kind, scope }
}

use Kind::*;
use Scope::*;

/// Every key the replicator reads or knowingly ignores (canonical names).
pub const KEYS: &[KeySpec] = &[
    k("topology", Text, Setting),
    k("master", Host, Topology),
    k("relay", Host, Topology),
    k("members", HostList, Topology),
    k("slaves", HostList, Topology),
    k("relay-source", Name, Topology),
    k("composite-datasources", NameList, Topology),
    k("connectors", Ignored, Topology),
    k("witnesses", Ignored, Topology),
    k("replication-user", Text, Setting),
    k("replication-password", Text, Setting),
    k("replication-port", Port, Setting),
    k("thl-port", Port, Setting),
    k("rest-api-admin-user", Text, Setting),
    k("rest-api-admin-password", Text, Setting),
    k("rest-api-readonly-user", Text, Setting),
    k("rest-api-readonly-password", Text, Setting),
    k("rest-api-allow-anonymous", Bool, Setting),
    k("replicator-rest-api-address", Text, Setting),
    k("replicator-rest-api-port", Port, Setting),
    k("replicator-rest-api", Bool, Setting),
    k("rest-api-ssl", Bool, Setting),
    k("thl-log-retention", Duration, Setting),
    k("thl-reader-expiry", Duration, Setting),
    k("thl-log-file-size", Size, Setting),
    k("thl-frag-size", Size, Setting),
    k("thl-log-fsync", Bool, Setting),
    k("thl-do-checksum", Bool, Setting),
    k("thl-ssl", Bool, Setting),
    k("thl-auth", OneOf(&["mtls", "none"]), Setting),
    k("ssl-cert", Text, Setting),
    k("ssl-key", Text, Setting),
    k("ssl-ca", Text, Setting),
    k("svc-applier-block-commit-size", Count, Setting),
    k("svc-applier-block-commit-interval", Duration, Setting),
    k("log-slave-updates", Bool, Setting),
    k("auto-enable", Bool, Setting),
    k("install-directory", Text, Setting),
    k("datasource-log-directory", Text, Setting),
    k("datasource-log-pattern", Text, Setting),
    // The local MariaDB as `tprovision` restores it; `{host}` in a value is
    // replaced by the host's ini name.
    k("datasource-mysql-data-directory", Text, Setting),
    k("datasource-mysql-conf", Text, Setting),
    k("datasource-boot-script", Text, Setting),
    k("disable-relay-logs", Bool, Setting),
    k("buffer-size", Count, Setting),
    k("channels", Count, Setting),
    k(
        "svc-parallelization-type",
        OneOf(&["none", "disk", "memory", "key"]),
        Setting,
    ),
    k(
        "svc-fail-on-zero-row-update",
        OneOf(&["stop", "warn", "ignore"]),
        Setting,
    ),
    k("master-preferred-role", Text, Setting),
    k("auto-recovery-max-attempts", Count, Setting),
    k("auto-recovery-delay-interval", Duration, Setting),
    k("auto-recovery-reset-interval", Duration, Setting),
    k("svc-extractor-filters", Text, Setting),
    k("svc-thl-filters", Text, Setting),
    k("svc-remote-filters", Text, Setting),
    k("svc-applier-filters", Text, Setting),
    // tpm keys that concern other components or the installer.
    k("user", Ignored, Setting),
    k("profile-script", Ignored, Setting),
    k("home-directory", Ignored, Setting),
    k("application-user", Ignored, Setting),
    k("application-password", Ignored, Setting),
    k("application-port", Ignored, Setting),
    k("connector-rest-api-address", Ignored, Setting),
    k("manager-rest-api-address", Ignored, Setting),
    k("start", Ignored, Setting),
    k("start-and-report", Ignored, Setting),
    k("skip-validation-check", Ignored, Setting),
    k("java-user-timezone", Ignored, Setting),
    k("rmi-port", Ignored, Setting),
    k("property", Ignored, Setting),
];

/// Alternative spellings → canonical names (checked after dropping a
/// `repl-` prefix, which tpm treats as optional).
pub const ALIASES: &[(&str, &str)] = &[
    ("primary", "master"),
    ("masters", "master"),
    ("replicas", "slaves"),
    ("master-dataservice", "relay-source"),
    ("dataservice-relay-source", "relay-source"),
    ("datasource-port", "replication-port"),
    ("replicator-rest-api-listen-address", "replicator-rest-api-address"),
    ("enable-thl-ssl", "thl-ssl"),
];

/// The known key for `written` (already lower-cased), after aliases and the
/// optional `repl-` prefix.
pub fn lookup(written: &str) -> Option<&'static KeySpec> {
    let direct = |w: &str| {
        let canon = ALIASES.iter().find(|(a, _)| *a == w).map(|(_, c)| *c).unwrap_or(w);
        KEYS.iter().find(|s| s.name == canon)
    };
    direct(written).or_else(|| written.strip_prefix("repl-").and_then(direct))
}

/// Topology values tpm knows.
pub const TOPOLOGIES: &[&str] = &[
    "clustered",
    "master-slave",
    "fan-in",
    "all-masters",
    "star",
    "direct",
    "cluster-slave",
    "cluster-alias",
];

/// Parses a port.
pub fn parse_port(v: &str) -> Result<u16, String> {
    match v.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{v:?} is not a TCP port (1..65535)")),
    }
}

/// Parses a non-negative count.
pub fn parse_count(v: &str) -> Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("{v:?} is not a non-negative integer"))
}

/// Parses a duration: a number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`);
/// a bare number is seconds.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let t = v.trim().to_ascii_lowercase();
    let err = || format!("{v:?} is not a duration (examples: 7d, 12h, 30m, 1s, 500ms)");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| err())?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs).ok_or_else(err);
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        "w" => secs(7 * 86_400),
        _ => Err(err()),
    }
}

/// Parses a byte size: a number with an optional binary suffix
/// (`k`, `m`, `g`, optionally followed by `b`).
pub fn parse_size(v: &str) -> Result<u64, String> {
    let t = v.trim().to_ascii_lowercase();
    let err = || format!("{v:?} is not a size in bytes (examples: 100000000, 64k, 100M, 1G)");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult: u64 = match unit.trim().trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(mult).ok_or_else(err)
}

/// Parses a boolean; `None` (a bare flag) is true.
pub fn parse_bool(v: Option<&str>) -> Result<bool, String> {
    match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("true" | "yes" | "on" | "1") => Ok(true),
        Some("false" | "no" | "off" | "0") => Ok(false),
        Some(other) => Err(format!("{other:?} is not a boolean (true or false)")),
    }
}

/// Splits a comma-separated list, trimming and dropping empty items.
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_repl_prefix() {
        assert_eq!(lookup("primary").map(|s| s.name), Some("master"));
        assert_eq!(lookup("repl-thl-port").map(|s| s.name), Some("thl-port"));
        assert_eq!(lookup("repl-datasource-port").map(|s| s.name), Some("replication-port"));
        assert!(lookup("thl-prot").is_none());
    }

    #[test]
    fn typed_values() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1"), Ok(Duration::from_secs(1)));
        assert!(parse_duration("7days").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(parse_size("100000000"), Ok(100_000_000));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64kb"), Ok(64 << 10));
        assert!(parse_size("1T").is_err());
        assert_eq!(parse_port("2112"), Ok(2112));
        assert!(parse_port("0").is_err() && parse_port("70000").is_err());
        assert_eq!(parse_bool(None), Ok(true));
        assert_eq!(parse_bool(Some("No")), Ok(false));
        assert!(parse_bool(Some("maybe")).is_err());
    }
}
