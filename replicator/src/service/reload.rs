//! `trepctl reload` and SIGHUP (Tungsten's `tpm update` on a running
//! node): the replicator re-reads its ini and compares this host's new plan
//! with the one it runs.
//!
//! Invariants: a reload changes nothing unless every difference can be
//! taken live; otherwise it is refused as a whole, naming each difference
//! and why it needs a restart, and the running configuration stays. What
//! can be taken live: no difference for this host (a dataservice added
//! downstream, a host added elsewhere), and a new upstream list of a slave
//! or relay whose role comes from the ini (a composite relay-source that
//! gained a member), which its next `online` uses.

use std::path::PathBuf;

use control::config::{Deployment, HostPlan, ServicePlan};
use serde::{Deserialize, Serialize};

use super::{ErrorKind, Manager, ServiceError};

/// Where the deployment is described, and how this process adjusted it:
/// re-read by a reload and by each provision.
#[derive(Debug, Clone)]
pub struct IniSource {
    pub ini: PathBuf,
    pub hosts_file: Option<PathBuf>,
    /// `--install-directory` given to the replicator.
    pub install_directory: Option<PathBuf>,
}

impl IniSource {
    /// The deployment, validated.
    pub fn load(&self) -> Result<Deployment, String> {
        let d = Deployment::load(&self.ini, self.hosts_file.as_deref()).map_err(|e| e.to_string())?;
        d.validate().map_err(|e| e.to_string())?;
        Ok(d)
    }

    /// This host's plan, as the replicator computed it at start.
    pub fn host_plan(&self, host: &str) -> Result<HostPlan, String> {
        let mut plan = self.load()?.service_plan(host).map_err(|e| e.to_string())?;
        if let Some(dir) = &self.install_directory {
            override_install_directory(&mut plan, dir);
        }
        Ok(plan)
    }
}

/// `--install-directory`: THL and catalog under `dir`.
pub fn override_install_directory(plan: &mut HostPlan, dir: &std::path::Path) {
    for s in &mut plan.services {
        s.thl_dir = dir.join("thl").join(&s.service);
        s.catalog_dir = dir.join("catalog").join(&s.service);
    }
}

/// What a reload did (`POST /api/v2/replicator/reload`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadReport {
    pub ini: String,
    /// What changed and was taken (empty: nothing changed for this host).
    pub applied: Vec<String>,
}

/// Why a plan cannot be taken live: one line per difference.
pub fn restart_needed(old: &HostPlan, new: &HostPlan) -> Vec<String> {
    let mut out = Vec::new();
    if old.rest_listen != new.rest_listen || old.rest_user != new.rest_user || old.rest_password != new.rest_password {
        out.push("the REST API's address or credentials changed".into());
    }
    for s in &old.services {
        match new.services.iter().find(|n| n.service == s.service) {
            None => out.push(format!("this host is no longer in dataservice {}", s.service)),
            Some(n) => out.extend(service_differences(s, n)),
        }
    }
    for n in &new.services {
        if !old.services.iter().any(|s| s.service == n.service) {
            out.push(format!("this host joined dataservice {}", n.service));
        }
    }
    out.into_iter()
        .map(|d| format!("{d}: restart the replicator to take it"))
        .collect()
}

fn service_differences(old: &ServicePlan, new: &ServicePlan) -> Vec<String> {
    let name = &old.service;
    let mut out = Vec::new();
    if old.role != new.role {
        out.push(format!("service {name}: role {} -> {}", old.role, new.role));
    }
    if old.thl_listen != new.thl_listen {
        out.push(format!(
            "service {name}: THL address {} -> {}",
            old.thl_listen, new.thl_listen
        ));
    }
    if old.thl_dir != new.thl_dir || old.catalog_dir != new.catalog_dir {
        out.push(format!("service {name}: THL or catalog directory"));
    }
    if old.db != new.db {
        out.push(format!(
            "service {name}: its database (replication-port, -user or -password)"
        ));
    }
    if old.local != new.local {
        out.push(format!(
            "service {name}: the datasource-mysql-* or datasource-boot-script keys"
        ));
    }
    if old.settings != new.settings {
        out.push(format!(
            "service {name}: its settings (thl-*, svc-*, channels, rest-api-*, ...)"
        ));
    }
    out
}

/// Re-reads `source` and takes this host's new plan ([`Manager::reload`]):
/// what was taken, or why nothing was (an invalid ini: 400; a difference
/// that needs a restart: 409, each named).
pub fn reload(manager: &Manager, source: &IniSource) -> Result<ReloadReport, ServiceError> {
    let ini = source.ini.display().to_string();
    let new = source.host_plan(manager.host()).map_err(|e| {
        ServiceError::new(
            ErrorKind::BadRequest,
            format!("{ini} cannot be taken ({e}); the running configuration is unchanged (check it with `replicator validate`)"),
        )
    })?;
    match manager.reload(&new) {
        Ok(applied) => {
            tracing::info!(%ini, ?applied, "configuration reloaded");
            Ok(ReloadReport { ini, applied })
        }
        Err(refused) => Err(ServiceError::new(
            ErrorKind::Conflict,
            format!(
                "{ini} was not taken; the running configuration is unchanged: {}",
                refused.join("; ")
            ),
        )),
    }
}

impl Manager {
    /// Takes `new` (this host's re-read plan) if every difference can be
    /// taken live (module doc); else `Err` with each one.
    pub fn reload(&self, new: &HostPlan) -> Result<Vec<String>, Vec<String>> {
        let refused = restart_needed(self.plan(), new);
        if !refused.is_empty() {
            return Err(refused);
        }
        let mut applied = Vec::new();
        for s in self.services() {
            let Some(n) = new.services.iter().find(|n| n.service == s.name()) else {
                continue;
            };
            // Against the upstream in force (the last reload's, or the
            // start's), so a reverted ini is taken back and an unchanged
            // one reports nothing.
            if s.view().upstream != n.upstream {
                if s.take_upstream(&n.upstream) {
                    applied.push(format!(
                        "service {}: upstream {} (from its next online)",
                        s.name(),
                        n.upstream.join(",")
                    ));
                } else {
                    applied.push(format!(
                        "service {}: the ini's upstream is now {}, but `trepctl setrole` set the one in force; \
                         kept",
                        s.name(),
                        n.upstream.join(",")
                    ));
                }
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use control::config::Resolver;

    fn plan(ini: &str, host: &str) -> HostPlan {
        let hosts = control::config::HostsFile::parse(
            "127.0.0.1 a1\n127.0.0.2 a2\n127.0.0.3 b1\n127.0.0.4 n1\n",
            std::path::Path::new("hosts"),
        )
        .expect("hosts");
        Deployment::parse(ini, "t.ini")
            .expect("ini")
            .with_resolver(Resolver::new(Some(hosts)).with_system(false))
            .service_plan(host)
            .expect("plan")
    }

    const BASE: &str = "[defaults]\nreplication-password=x\n[alpha]\nmaster=a1\nmembers=a1,a2\n\
                        [beta]\nrelay=b1\nmembers=b1\nrelay-source=gamma\n[gamma]\ncomposite-datasources=alpha\n";

    #[test]
    fn a_dataservice_added_downstream_changes_nothing_here() {
        let grown = format!("{BASE}[north]\nrelay=n1\nmembers=n1\nrelay-source=alpha\n");
        for host in ["a1", "a2", "b1"] {
            assert!(
                restart_needed(&plan(BASE, host), &plan(&grown, host)).is_empty(),
                "{host}"
            );
        }
    }

    #[test]
    fn a_new_composite_member_changes_only_the_relays_upstream() {
        let grown = format!("{BASE}[north]\nmaster=n1\nmembers=n1\n")
            .replace("composite-datasources=alpha", "composite-datasources=alpha,north");
        let (old, new) = (plan(BASE, "b1"), plan(&grown, "b1"));
        assert!(restart_needed(&old, &new).is_empty());
        assert_ne!(old.services[0].upstream, new.services[0].upstream);
    }

    #[test]
    fn restart_changes_are_named() {
        let changed = BASE.replace("replication-password=x", "replication-password=y\nthl-port=2113");
        let why = restart_needed(&plan(BASE, "a1"), &plan(&changed, "a1"));
        assert!(why.iter().any(|w| w.contains("THL address")), "{why:?}");
        assert!(why.iter().any(|w| w.contains("its database")), "{why:?}");
        assert!(
            why.iter().all(|w| w.ends_with("restart the replicator to take it")),
            "{why:?}"
        );
        let moved = BASE.replace("members=a1,a2", "members=a1");
        let why = restart_needed(
            &plan(BASE, "a2"),
            &plan(&format!("{moved}[delta]\nmaster=a2\nmembers=a2\n"), "a2"),
        );
        assert!(
            why.iter().any(|w| w.contains("no longer in dataservice alpha")),
            "{why:?}"
        );
    }
}
