//! What one host runs: [`Deployment::service_plan`].
//!
//! Rules (those of Tungsten's installer, `tpm`, for its topologies, the
//! composite active/passive cluster included, where the passive cluster's
//! relay pulls from the active cluster's master):
//!
//! * role: the dataservice's `master=`/`relay=` host is **master** when the
//!   dataservice has no `relay-source`, **relay** when it has one; every
//!   other member is a **slave**.
//! * upstream: a slave pulls from its own dataservice's master or relay at
//!   that dataservice's `thl-port`; a relay pulls from the master (or relay)
//!   of its `relay-source` dataservice at the source's `thl-port` (a
//!   composite source gives one URI per member dataservice other than the
//!   relay's own, tried in order); a master has none. URIs use host names
//!   (`thl://host1.alpha:2112/`, `thls://` with `thl-ssl`); the client
//!   resolves them with the same [`Resolver`](super::Resolver).
//! * THL listens on the host's own address at `thl-port`.
//! * REST listens on `replicator-rest-api-address:replicator-rest-api-port`,
//!   except that `0.0.0.0` (and the loopback default `127.0.0.1`) becomes
//!   the host's own address when a hosts file is in use, so several hosts on loopback addresses of one machine share
//!   one ini.
//! * directories: `<install>/thl/<service>` and `<install>/catalog/<service>`,
//!   where `<install>` is `install-directory`, plus `/<host>` when a hosts
//!   file is in use (several hosts on one machine must not share them).
//! * the database is the host's own address at `replication-port`; its
//!   data directory, option file and boot script (what `tprovision`
//!   restores and restarts) come from `datasource-mysql-data-directory`,
//!   `datasource-mysql-conf` and `datasource-boot-script`, with `{host}`
//!   replaced by the host's name (several hosts on one machine share one
//!   ini).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::model::{Dataservice, Deployment, ServiceSettings};
use super::{ConfigError, Role};
use crate::secret::Secret;

/// Everything a replicator process on one host needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    /// The host name (lower case).
    pub host: String,
    /// Its address (hosts file, then system resolver).
    pub address: IpAddr,
    /// REST API listen address, `None` when `replicator-rest-api=false`.
    pub rest_listen: Option<SocketAddr>,
    /// HTTPS of the REST API (`rest-api-ssl=true`; `mutual` unused: REST
    /// clients authenticate with basic auth).
    pub rest_tls: Option<TlsPaths>,
    pub rest_user: Option<String>,
    pub rest_password: Option<Secret>,
    /// The read-only REST user (`rest-api-readonly-user`).
    pub rest_readonly_user: Option<String>,
    pub rest_readonly_password: Option<Secret>,
    /// The services of the host (one per dataservice it belongs to).
    pub services: Vec<ServicePlan>,
}

/// One replication service on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    /// The service name: the dataservice's name.
    pub service: String,
    pub role: Role,
    /// THL URIs to pull from, in preference order; empty for a master.
    pub upstream: Vec<String>,
    pub thl_listen: SocketAddr,
    pub thl_dir: PathBuf,
    pub catalog_dir: PathBuf,
    pub db: DbTarget,
    /// The local MariaDB's files, for provisioning.
    pub local: LocalDatabase,
    /// The THL port's TLS (`thl-ssl=true`).
    pub tls: Option<TlsPaths>,
    pub settings: ServiceSettings,
}

/// The THL port's TLS files of a host (`{host}` replaced), with
/// `thl-ssl=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// `thl-auth=mtls`: clients present their certificate too.
    pub mutual: bool,
}

impl TlsPaths {
    /// The files of `host` when `on` (and the ini names all three).
    fn of(settings: &ServiceSettings, host: &str, on: bool) -> Option<TlsPaths> {
        if !on {
            return None;
        }
        let path = |v: &Option<String>| v.as_deref().map(|v| PathBuf::from(v.replace("{host}", host)));
        Some(TlsPaths {
            cert: path(&settings.ssl_cert)?,
            key: path(&settings.ssl_key)?,
            ca: path(&settings.ssl_ca)?,
            mutual: settings.thl_mtls,
        })
    }
}

/// The local MariaDB's files and boot script (`{host}` replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDatabase {
    /// `None`: ask the server (`@@datadir`).
    pub data_directory: Option<PathBuf>,
    pub conf: Option<PathBuf>,
    /// Run with `stop` or `start`.
    pub boot_script: PathBuf,
}

impl LocalDatabase {
    fn of(settings: &ServiceSettings, host: &str) -> LocalDatabase {
        let path = |v: &Option<String>| v.as_deref().map(|v| PathBuf::from(v.replace("{host}", host)));
        LocalDatabase {
            data_directory: path(&settings.datasource_data_directory),
            conf: path(&settings.datasource_conf),
            boot_script: path(&settings.datasource_boot_script)
                .unwrap_or_else(|| PathBuf::from(super::model::DEFAULT_BOOT_SCRIPT)),
        }
    }
}

/// The local database the service extracts from or applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub address: IpAddr,
    pub port: u16,
    pub user: String,
    pub password: Secret,
}

impl Deployment {
    /// The role of `host` in `ds` (`host` lower case, a member of `ds`).
    pub fn role_in(&self, ds: &Dataservice, host: &str) -> Role {
        match (ds.head().as_deref() == Some(host), ds.relay_source().is_some()) {
            (true, false) => Role::Master,
            (true, true) => Role::Relay,
            (false, _) => Role::Slave,
        }
    }

    /// The THL URI of dataservice `ds`'s head (`thl://host:port/`, `thls`
    /// with `thl-ssl`): what its slaves, and the relays of a site that
    /// follows it, pull from.
    pub fn head_uri(&self, ds: &str) -> Option<String> {
        self.dataservice(ds).and_then(|d| self.uri(d).ok())
    }

    fn uri(&self, ds: &Dataservice) -> Result<String, ConfigError> {
        let head = ds.head().ok_or_else(|| ConfigError::NoHead {
            service: ds.name.clone(),
        })?;
        let s = self.settings(ds).map_err(|problems| self.invalid(problems))?;
        let scheme = if s.thl_ssl { "thls" } else { "thl" };
        Ok(format!("{scheme}://{head}:{}/", s.thl_port))
    }

    fn invalid(&self, problems: Vec<super::Problem>) -> ConfigError {
        ConfigError::Invalid(super::ValidationErrors {
            origin: self.origin.clone(),
            problems,
        })
    }

    /// The ini's name of the host an operator means by `given`: an ini host
    /// name (any case), or a name or address that resolves (hosts file, then
    /// DNS) to the address of exactly one ini host.
    pub fn host_named(&self, given: &str) -> Result<String, ConfigError> {
        let given = given.trim().to_ascii_lowercase();
        let mut known: Vec<String> = self.dataservices.iter().flat_map(|d| d.hosts()).collect();
        known.sort_unstable();
        known.dedup();
        if known.contains(&given) {
            return Ok(given);
        }
        let Some(ip) = self.resolver.resolve(&given) else {
            return Err(ConfigError::UnknownHost { host: given, known });
        };
        let same: Vec<String> = known
            .iter()
            .filter(|h| self.resolver.resolve(h) == Some(ip))
            .cloned()
            .collect();
        match same.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ConfigError::UnknownHost { host: given, known }),
            _ => Err(ConfigError::AmbiguousAddress {
                given,
                address: ip,
                hosts: same,
            }),
        }
    }

    /// The host a tool on this machine acts for: `given` (an ini host name,
    /// or a name or address of one), else the system host name's, else the
    /// one ini host whose address is an address of this machine (not a
    /// loopback address: on one machine they all are).
    pub fn this_host(&self, given: Option<&str>) -> Result<String, ConfigError> {
        if let Some(given) = given {
            return self.host_named(given);
        }
        let system_name = super::locate::system_host_name();
        if let Some(host) = system_name.as_deref().and_then(|n| self.host_named(n).ok()) {
            return Ok(host);
        }
        let mut known: Vec<String> = self.dataservices.iter().flat_map(|d| d.hosts()).collect();
        known.sort_unstable();
        known.dedup();
        let local: Vec<String> = known
            .into_iter()
            .filter(|h| {
                self.resolver
                    .resolve(h)
                    .is_some_and(|ip| !ip.is_loopback() && std::net::UdpSocket::bind((ip, 0)).is_ok())
            })
            .collect();
        match <[String; 1]>::try_from(local) {
            Ok([one]) => Ok(one),
            Err(local) => Err(ConfigError::NotThisMachine { system_name, local }),
        }
    }

    /// The plan of `host` (an ini host name, or a name or address of one:
    /// [`Deployment::host_named`]): its services, roles, upstreams,
    /// addresses and directories.
    pub fn service_plan(&self, host: &str) -> Result<HostPlan, ConfigError> {
        let host = self.host_named(host)?;
        let mine: Vec<&Dataservice> = self.dataservices.iter().filter(|d| d.hosts().contains(&host)).collect();
        let address = self.resolver.resolve(&host).ok_or_else(|| ConfigError::Unresolved {
            host: host.clone(),
            hosts_file: self.resolver.hosts_file().map(|f| f.path.clone()),
        })?;
        let per_host = self.resolver.hosts_file().is_some();
        let mut services = Vec::new();
        let mut first: Option<ServiceSettings> = None;
        for ds in mine {
            let settings = self.settings(ds).map_err(|p| self.invalid(p))?;
            let role = self.role_in(ds, &host);
            let upstream = match role {
                Role::Master => Vec::new(),
                Role::Slave => vec![self.uri(ds)?],
                Role::Relay => {
                    let src = ds.relay_source().unwrap_or_default();
                    let sources = self.expand_source(src).ok_or_else(|| ConfigError::UnknownSource {
                        service: ds.name.clone(),
                        source_name: src.to_owned(),
                    })?;
                    let mut uris = Vec::new();
                    for s in sources.into_iter().filter(|s| *s != ds.name) {
                        if let Some(sds) = self.dataservice(s) {
                            uris.push(self.uri(sds)?);
                        }
                    }
                    if uris.is_empty() {
                        return Err(ConfigError::UnknownSource {
                            service: ds.name.clone(),
                            source_name: src.to_owned(),
                        });
                    }
                    uris
                }
            };
            let mut base = settings.install_directory.clone();
            if per_host {
                base.push(&host);
            }
            services.push(ServicePlan {
                service: ds.name.clone(),
                role,
                upstream,
                thl_listen: SocketAddr::new(address, settings.thl_port),
                thl_dir: base.join("thl").join(&ds.name),
                catalog_dir: base.join("catalog").join(&ds.name),
                db: DbTarget {
                    address,
                    port: settings.replication_port,
                    user: settings.replication_user.clone(),
                    password: settings.replication_password.clone(),
                },
                local: LocalDatabase::of(&settings, &host),
                tls: TlsPaths::of(&settings, &host, settings.thl_ssl),
                settings: settings.clone(),
            });
            first.get_or_insert(settings);
        }
        let s = first.ok_or_else(|| ConfigError::UnknownHost {
            host: host.clone(),
            known: Vec::new(),
        })?;
        let rest_listen = if s.rest_api_enabled {
            let addr = s.rest_api_address.trim();
            // With a hosts file several hosts share one machine: a wildcard
            // or loopback REST address means "this host's own address".
            let ip = if per_host && matches!(addr, "0.0.0.0" | "127.0.0.1" | "localhost") {
                address
            } else {
                self.resolver.resolve(addr).ok_or_else(|| ConfigError::Unresolved {
                    host: addr.to_owned(),
                    hosts_file: self.resolver.hosts_file().map(|f| f.path.clone()),
                })?
            };
            Some(SocketAddr::new(ip, s.rest_api_port))
        } else {
            None
        };
        Ok(HostPlan {
            rest_tls: TlsPaths::of(&s, &host, s.rest_api_enabled && s.rest_api_ssl),
            host,
            address,
            rest_listen,
            rest_user: s.rest_api_user,
            rest_password: s.rest_api_password,
            rest_readonly_user: s.rest_api_readonly_user,
            rest_readonly_password: s.rest_api_readonly_password,
            services,
        })
    }
}
