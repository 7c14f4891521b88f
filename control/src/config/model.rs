//! The deployment model built from a parsed `tungsten.ini`: the
//! `[defaults]`, the dataservices and the composites, each key kept with the
//! section and line it was written on, so every later message can point at
//! it. Typed values are read on demand ([`Deployment::settings`]), so a bad
//! value is reported by `validate` with its key and line rather than aborting
//! the parse.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

use super::hosts::Resolver;
use super::ini::{Ini, Section};
use super::keys::{self, Kind, Scope};

/// The `[defaults]` section name.
pub const DEFAULTS: &str = "defaults";

/// One key as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    /// The canonical key name.
    pub key: &'static str,
    /// The key as the operator wrote it (an alias, `repl-` prefix ...).
    pub written: String,
    /// `None` for a bare flag.
    pub value: Option<String>,
    pub section: String,
    pub line: usize,
}

/// A dataservice section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataservice {
    pub name: String,
    pub line: usize,
    /// Canonical key → last value written in this section.
    pub entries: BTreeMap<&'static str, RawValue>,
}

fn hosts_of(raw: Option<&RawValue>) -> Vec<String> {
    raw.and_then(|r| r.value.as_deref())
        .map(keys::split_list)
        .unwrap_or_default()
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect()
}

impl Dataservice {
    /// The `master=` (or `primary=`, `masters=`) host.
    pub fn master(&self) -> Option<String> {
        hosts_of(self.entries.get("master")).into_iter().next()
    }

    /// The `relay=` host.
    pub fn relay(&self) -> Option<String> {
        hosts_of(self.entries.get("relay")).into_iter().next()
    }

    /// The host that extracts or relays: `master=`, else `relay=`.
    pub fn head(&self) -> Option<String> {
        self.master().or_else(|| self.relay())
    }

    /// `relay-source=`, when set.
    pub fn relay_source(&self) -> Option<&str> {
        self.entries
            .get("relay-source")
            .and_then(|r| r.value.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// `members=` hosts.
    pub fn members(&self) -> Vec<String> {
        hosts_of(self.entries.get("members"))
    }

    /// Every replicator host of the dataservice: the head, members and
    /// `slaves=`, without duplicates, in that order.
    pub fn hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self
            .head()
            .into_iter()
            .chain(self.members())
            .chain(hosts_of(self.entries.get("slaves")));
        for h in all {
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out
    }
}

/// A composite section (`composite-datasources=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite {
    pub name: String,
    pub line: usize,
    pub members: Vec<String>,
    /// The `composite-datasources` entry.
    pub raw: RawValue,
}

/// A non-fatal remark about the file (an unknown key, a duplicate, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub section: String,
    pub key: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} [{}] {}: {}",
            self.line, self.section, self.key, self.message
        )
    }
}

/// A problem `validate` found, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub section: Option<String>,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub(crate) fn at(raw: &RawValue, message: String, fix: String) -> Problem {
        Problem {
            section: Some(raw.section.clone()),
            key: Some(raw.written.clone()),
            line: Some(raw.line),
            message,
            fix,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l} ")?;
        }
        if let Some(s) = &self.section {
            write!(f, "[{s}] ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "{} (fix: {})", self.message, self.fix)
    }
}

/// The typed settings of one dataservice (its section over `[defaults]`
/// over the built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings {
    pub replication_user: String,
    pub replication_password: Secret,
    /// Default 3306.
    pub replication_port: u16,
    /// Default 2112.
    pub thl_port: u16,
    pub thl_ssl: bool,
    /// Default 7 days.
    pub thl_log_retention: Duration,
    /// `thl-reader-expiry`: a downstream reader that acknowledged nothing
    /// for this long no longer holds the THL (default 7 days).
    pub thl_reader_expiry: Duration,
    /// Default 100,000,000 bytes.
    pub thl_log_file_size: u64,
    /// Default 1,000,000 bytes.
    pub thl_frag_size: u64,
    /// Default 10.
    pub block_commit_size: u64,
    /// Default 1 s.
    pub block_commit_interval: Duration,
    pub log_slave_updates: bool,
    /// Default `/opt/continuent`.
    pub install_directory: PathBuf,
    /// Default `127.0.0.1` (localhost only).
    pub rest_api_address: String,
    /// Default 8097.
    pub rest_api_port: u16,
    /// `replicator-rest-api=false` disables the REST API.
    pub rest_api_enabled: bool,
    /// `rest-api-ssl=true`: HTTPS with `ssl-cert`/`ssl-key`, clients
    /// verify it with `ssl-ca`.
    pub rest_api_ssl: bool,
    pub rest_api_user: Option<String>,
    pub rest_api_password: Option<Secret>,
    /// `rest-api-readonly-user` / `-password`: may read, not change.
    pub rest_api_readonly_user: Option<String>,
    pub rest_api_readonly_password: Option<Secret>,
    /// `rest-api-allow-anonymous`: a REST API without credentials on a
    /// loopback address (tests); without credentials it is refused on
    /// any other address.
    pub rest_api_allow_anonymous: bool,
    /// `auto-enable` (also `repl-auto-enable`): the service goes online
    /// when the replicator starts (default true).
    pub auto_enable: bool,
    /// `svc-fail-on-zero-row-update`: `stop`, `warn` (default) or `ignore`,
    /// what the applier does when an UPDATE or DELETE matches no row.
    pub zero_row_update: ZeroRowPolicy,
    /// How many channels apply in parallel: `channels` (by key, the
    /// default, [`DEFAULT_KEY_CHANNELS`] when unset; by shard,
    /// `svc-parallelization-type=disk|memory` as Tungsten names it, 1 when
    /// unset); 1 with `svc-parallelization-type=none`.
    pub apply_channels: u32,
    /// How transactions are spread over the channels
    /// (`svc-parallelization-type`).
    pub apply_scheduler: ApplyScheduler,
    /// `datasource-mysql-data-directory`, as written (`{host}` not yet
    /// replaced): the local MariaDB's data directory; unset, provisioning
    /// asks the server (`@@datadir`).
    pub datasource_data_directory: Option<String>,
    /// `datasource-mysql-conf`, as written: the local MariaDB's option file.
    pub datasource_conf: Option<String>,
    /// `datasource-boot-script`, as written: what stops and starts the
    /// local MariaDB (run with `stop` or `start`; default
    /// [`DEFAULT_BOOT_SCRIPT`]).
    pub datasource_boot_script: Option<String>,
    /// `ssl-cert`, `ssl-key`, `ssl-ca` as written (`{host}` not yet
    /// replaced): this host's certificate and key, the deployment's CA.
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    pub ssl_ca: Option<String>,
    /// `thl-auth=mtls` (the default with `thl-ssl`): THL clients present a
    /// certificate of the CA; `none`: only the server proves itself.
    pub thl_mtls: bool,
}

/// What stops and starts the local MariaDB when `datasource-boot-script` is
/// unset (Debian's init script of the `mariadb` service).
pub const DEFAULT_BOOT_SCRIPT: &str = "/etc/init.d/mariadb";

/// How parallel apply spreads transactions over its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyScheduler {
    /// By shard (the database): Tungsten's `disk` and `memory`.
    Shard,
    /// By the keys of the rows each transaction changes (`key`, the
    /// default).
    #[default]
    Key,
}

impl ApplyScheduler {
    /// Its name, as `svc-parallelization-type` and the logs say it.
    pub fn name(self) -> &'static str {
        match self {
            ApplyScheduler::Shard => "shard",
            ApplyScheduler::Key => "key",
        }
    }

    /// Its routing's name in the target's catalog (`trep_apply_routing`):
    /// a routing that changes which channel a transaction goes to gets a
    /// new name (`key` sent transactions with statements to their routed
    /// channel, `key2` sends them to channel 0).
    pub fn routing(self) -> &'static str {
        match self {
            ApplyScheduler::Shard => "shard",
            ApplyScheduler::Key => "key2",
        }
    }

    /// The scheduler whose [`routing`](Self::routing) is `routing`; `None`
    /// for another version's.
    pub fn of_routing(routing: &str) -> Option<ApplyScheduler> {
        [ApplyScheduler::Shard, ApplyScheduler::Key]
            .into_iter()
            .find(|s| s.routing() == routing)
    }

    /// The ini line that chooses it.
    pub fn setting(self) -> &'static str {
        match self {
            ApplyScheduler::Shard => "svc-parallelization-type=disk",
            ApplyScheduler::Key => "svc-parallelization-type=key",
        }
    }
}

/// Apply channels by key when `channels` is not set. A constant, not a
/// function of this machine's cores: apply waits on the target's commits
/// and round trips rather than on the replicator's CPU, and a count that
/// followed the hardware would refuse a restart after a crash on a resized
/// machine (the channel count changes only after a clean offline).
pub const DEFAULT_KEY_CHANNELS: u64 = 4;

/// The most apply channels a service may have.
pub const MAX_APPLY_CHANNELS: u64 = 64;

/// What the applier does when an UPDATE or DELETE matches no row on the
/// target (`svc-fail-on-zero-row-update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroRowPolicy {
    /// A definite error: the target has diverged.
    Stop,
    /// Log a warning with the seqno, table and key, and go on.
    #[default]
    Warn,
    /// Go on silently.
    Ignore,
}

impl std::str::FromStr for ZeroRowPolicy {
    type Err = String;

    /// The ini's spelling, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "stop" => Ok(ZeroRowPolicy::Stop),
            "warn" => Ok(ZeroRowPolicy::Warn),
            "ignore" => Ok(ZeroRowPolicy::Ignore),
            other => Err(format!("svc-fail-on-zero-row-update={other}: use stop, warn or ignore")),
        }
    }
}

/// A parsed `tungsten.ini`.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Where the file came from (for messages).
    pub origin: String,
    pub defaults: BTreeMap<&'static str, RawValue>,
    pub dataservices: Vec<Dataservice>,
    pub composites: Vec<Composite>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) resolver: Resolver,
}

fn collect(section: &Section, warnings: &mut Vec<Warning>) -> BTreeMap<&'static str, RawValue> {
    let mut out: BTreeMap<&'static str, RawValue> = BTreeMap::new();
    for e in &section.entries {
        let Some(spec) = keys::lookup(&e.key) else {
            warnings.push(Warning {
                section: section.name.clone(),
                key: e.key.clone(),
                line: e.line,
                message: "unknown key, ignored (check the spelling against tpm's option names)".into(),
            });
            continue;
        };
        if section.name == DEFAULTS && spec.scope == Scope::Topology && spec.kind != Kind::Ignored {
            warnings.push(Warning {
                section: section.name.clone(),
                key: e.key.clone(),
                line: e.line,
                message: "describes one dataservice; ignored in [defaults] (move it to the dataservice's section)"
                    .into(),
            });
            continue;
        }
        let raw = RawValue {
            key: spec.name,
            written: e.key.clone(),
            value: e.value.clone(),
            section: section.name.clone(),
            line: e.line,
        };
        if let Some(prev) = out.insert(spec.name, raw) {
            warnings.push(Warning {
                section: section.name.clone(),
                key: e.key.clone(),
                line: e.line,
                message: format!(
                    "overrides `{}` set on line {} of the same section",
                    prev.written, prev.line
                ),
            });
        }
    }
    out
}

impl Deployment {
    /// Builds the model from a parsed file. Unknown keys become warnings.
    pub fn from_ini(ini: &Ini, origin: impl Into<String>) -> Deployment {
        let mut warnings = Vec::new();
        let mut defaults = BTreeMap::new();
        let mut dataservices = Vec::new();
        let mut composites = Vec::new();
        for s in &ini.sections {
            let entries = collect(s, &mut warnings);
            if s.name == DEFAULTS {
                defaults = entries;
            } else if let Some(raw) = entries.get("composite-datasources") {
                let members = raw.value.as_deref().map(keys::split_list).unwrap_or_default();
                composites.push(Composite {
                    name: s.name.clone(),
                    line: s.line,
                    members,
                    raw: raw.clone(),
                });
            } else {
                dataservices.push(Dataservice {
                    name: s.name.clone(),
                    line: s.line,
                    entries,
                });
            }
        }
        Deployment {
            origin: origin.into(),
            defaults,
            dataservices,
            composites,
            warnings,
            resolver: Resolver::default(),
        }
    }

    /// Uses `resolver` for host names (a hosts file, system fallback).
    pub fn with_resolver(mut self, resolver: Resolver) -> Deployment {
        self.resolver = resolver;
        self
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Non-fatal remarks: unknown keys, keys set twice, misplaced keys.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    pub fn dataservice(&self, name: &str) -> Option<&Dataservice> {
        self.dataservices.iter().find(|d| d.name == name)
    }

    pub fn composite(&self, name: &str) -> Option<&Composite> {
        self.composites.iter().find(|c| c.name == name)
    }

    /// The effective raw value of `key` for `ds`: its section, else
    /// `[defaults]`.
    pub fn raw<'a>(&'a self, ds: &'a Dataservice, key: &str) -> Option<&'a RawValue> {
        ds.entries.get(key).or_else(|| self.defaults.get(key))
    }

    /// The typed settings of `ds`, or every bad value among them.
    pub fn settings(&self, ds: &Dataservice) -> Result<ServiceSettings, Vec<Problem>> {
        let mut problems = Vec::new();
        let r = |key: &str| self.raw(ds, key);
        let text = |key: &str, default: &str| {
            r(key)
                .and_then(|v| v.value.clone())
                .unwrap_or_else(|| default.to_owned())
        };
        let mut typed = |key: &str, f: &dyn Fn(Option<&str>) -> Result<(), String>| {
            if let Some(raw) = r(key) {
                if let Err(e) = f(raw.value.as_deref()) {
                    problems.push(Problem::at(raw, e, format!("write a valid value for {key}")));
                }
            }
        };
        // Check first (collecting every problem), then read with defaults.
        for spec in keys::KEYS.iter().filter(|s| s.scope == Scope::Setting) {
            typed(spec.name, &|v| check_kind(spec.kind, v));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let get = |key: &str| r(key).and_then(|v| v.value.as_deref());
        let port = |key: &str, d: u16| get(key).map(keys::parse_port).transpose().map(|v| v.unwrap_or(d));
        let dur = |key: &str, d: Duration| get(key).map(keys::parse_duration).transpose().map(|v| v.unwrap_or(d));
        let size = |key: &str, d: u64| get(key).map(keys::parse_size).transpose().map(|v| v.unwrap_or(d));
        let flag = |key: &str, d: bool| match r(key) {
            Some(raw) => keys::parse_bool(raw.value.as_deref()),
            None => Ok(d),
        };
        let build = || -> Result<ServiceSettings, String> {
            Ok(ServiceSettings {
                replication_user: text("replication-user", "tungsten"),
                replication_password: Secret::new(text("replication-password", "")),
                replication_port: port("replication-port", 3306)?,
                thl_port: port("thl-port", 2112)?,
                thl_ssl: flag("thl-ssl", false)?,
                thl_log_retention: dur("thl-log-retention", Duration::from_secs(7 * 86_400))?,
                thl_reader_expiry: dur("thl-reader-expiry", Duration::from_secs(7 * 86_400))?,
                thl_log_file_size: size("thl-log-file-size", 100_000_000)?,
                thl_frag_size: size("thl-frag-size", 1_000_000)?,
                block_commit_size: get("svc-applier-block-commit-size")
                    .map(keys::parse_count)
                    .transpose()?
                    .unwrap_or(10),
                block_commit_interval: dur("svc-applier-block-commit-interval", Duration::from_secs(1))?,
                log_slave_updates: flag("log-slave-updates", false)?,
                auto_enable: flag("auto-enable", true)?,
                install_directory: PathBuf::from(text("install-directory", "/opt/continuent")),
                rest_api_address: text("replicator-rest-api-address", "127.0.0.1"),
                rest_api_port: port("replicator-rest-api-port", 8097)?,
                rest_api_enabled: flag("replicator-rest-api", true)?,
                rest_api_ssl: flag("rest-api-ssl", false)?,
                rest_api_user: get("rest-api-admin-user").map(str::to_owned),
                rest_api_password: get("rest-api-admin-password").map(Secret::from),
                rest_api_readonly_user: get("rest-api-readonly-user").map(str::to_owned),
                rest_api_readonly_password: get("rest-api-readonly-password").map(Secret::from),
                rest_api_allow_anonymous: flag("rest-api-allow-anonymous", false)?,
                zero_row_update: text("svc-fail-on-zero-row-update", "warn").parse()?,
                apply_channels: match text("svc-parallelization-type", "key").to_ascii_lowercase().as_str() {
                    "none" => 1,
                    kind => {
                        let default = if kind == "key" { DEFAULT_KEY_CHANNELS } else { 1 };
                        let n = get("channels").map(keys::parse_count).transpose()?.unwrap_or(default);
                        if !(1..=MAX_APPLY_CHANNELS).contains(&n) {
                            return Err(format!("channels={n}: use 1 to {MAX_APPLY_CHANNELS}"));
                        }
                        n as u32
                    }
                },
                apply_scheduler: match text("svc-parallelization-type", "key").to_ascii_lowercase().as_str() {
                    "disk" | "memory" => ApplyScheduler::Shard,
                    _ => ApplyScheduler::Key,
                },
                datasource_data_directory: get("datasource-mysql-data-directory").map(str::to_owned),
                datasource_conf: get("datasource-mysql-conf").map(str::to_owned),
                datasource_boot_script: get("datasource-boot-script").map(str::to_owned),
                ssl_cert: get("ssl-cert").map(str::to_owned),
                ssl_key: get("ssl-key").map(str::to_owned),
                ssl_ca: get("ssl-ca").map(str::to_owned),
                thl_mtls: !text("thl-auth", "mtls").eq_ignore_ascii_case("none"),
            })
            .and_then(|s| {
                let complete = s.ssl_cert.is_some() && s.ssl_key.is_some() && s.ssl_ca.is_some();
                if (s.thl_ssl || s.rest_api_ssl) && !complete {
                    return Err(
                        "thl-ssl=true and rest-api-ssl=true need ssl-cert, ssl-key and ssl-ca (PEM files; {host} \
                         in a path stands for the host's name)"
                            .to_owned(),
                    );
                }
                Ok(s)
            })
        };
        // Every value was checked above; a failure here would be a bug in
        // check_kind, reported rather than panicking.
        build().map_err(|e| {
            vec![Problem {
                section: Some(ds.name.clone()),
                key: None,
                line: Some(ds.line),
                message: e,
                fix: "correct the value".into(),
            }]
        })
    }
}

/// Checks that `value` is valid for `kind`.
pub(crate) fn check_kind(kind: Kind, value: Option<&str>) -> Result<(), String> {
    let need = || "needs a value (key=value)".to_owned();
    match kind {
        Kind::Ignored => Ok(()),
        Kind::Bool => keys::parse_bool(value).map(|_| ()),
        Kind::Text | Kind::Host | Kind::Name | Kind::HostList | Kind::NameList => match value {
            Some(v) if !v.trim().is_empty() || kind == Kind::Text => Ok(()),
            _ => Err(need()),
        },
        Kind::Port => keys::parse_port(value.ok_or_else(need)?).map(|_| ()),
        Kind::Count => keys::parse_count(value.ok_or_else(need)?).map(|_| ()),
        Kind::Duration => keys::parse_duration(value.ok_or_else(need)?).map(|_| ()),
        Kind::Size => keys::parse_size(value.ok_or_else(need)?).map(|_| ()),
        Kind::OneOf(words) => {
            let v = value.ok_or_else(need)?.trim();
            if words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                Err(format!("{v}: use {}", words.join(", ")))
            }
        }
    }
}
