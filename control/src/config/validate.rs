//! `validate()`: checks the whole deployment and reports every problem at
//! once, each with its fix (like `tpm validate`).

use std::collections::BTreeMap;

use super::keys::{self, Scope};
use super::model::{check_kind, Deployment, Problem, RawValue};

/// All the problems of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {} problem(s):\n{}", problems.len(), list(problems))]
pub struct ValidationErrors {
    pub origin: String,
    pub problems: Vec<Problem>,
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Deployment {
    /// Every problem in the file, in a stable order (values, dataservices,
    /// hosts, links, composites, resolution).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        self.check_values(&mut out);
        self.check_dataservices(&mut out);
        self.check_shared_hosts(&mut out);
        self.check_relay_sources(&mut out);
        self.check_composites(&mut out);
        self.check_resolution(&mut out);
        out
    }

    /// Checks the whole file; `Err` lists every problem with its fix.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                origin: self.origin.clone(),
                problems,
            })
        }
    }

    fn all_raw(&self) -> impl Iterator<Item = &RawValue> {
        self.defaults
            .values()
            .chain(self.dataservices.iter().flat_map(|d| d.entries.values()))
            .chain(self.composites.iter().map(|c| &c.raw))
    }

    fn check_values(&self, out: &mut Vec<Problem>) {
        for raw in self.all_raw() {
            let Some(spec) = keys::lookup(raw.key) else {
                continue;
            };
            if let Err(e) = check_kind(spec.kind, raw.value.as_deref()) {
                out.push(Problem::at(raw, e, format!("give {} a valid value", raw.written)));
            }
            if spec.name == "topology" {
                if let Some(v) = raw.value.as_deref().map(str::trim) {
                    if !keys::TOPOLOGIES.contains(&v) {
                        out.push(Problem::at(
                            raw,
                            format!("unknown topology {v:?}"),
                            format!("use one of: {}", keys::TOPOLOGIES.join(", ")),
                        ));
                    }
                }
            }
            if spec.scope == Scope::Topology
                && matches!(spec.kind, keys::Kind::Host)
                && raw.value.as_deref().map(keys::split_list).is_some_and(|l| l.len() > 1)
            {
                out.push(Problem::at(
                    raw,
                    "names more than one host".into(),
                    format!("give {} a single host; list the others in members=", raw.written),
                ));
            }
        }
    }

    fn check_dataservices(&self, out: &mut Vec<Problem>) {
        for ds in &self.dataservices {
            let section = Some(ds.name.clone());
            let (master, relay) = (ds.master(), ds.relay());
            match (&master, &relay) {
                (None, None) => out.push(Problem {
                    section,
                    key: None,
                    line: Some(ds.line),
                    message: format!("dataservice {} has no master and no relay", ds.name),
                    fix: "add master=<host> (active cluster) or relay=<host> with relay-source=<dataservice> \
                          (passive cluster)"
                        .into(),
                }),
                (Some(m), Some(r)) if m != r => {
                    if let Some(raw) = ds.entries.get("relay") {
                        out.push(Problem::at(
                            raw,
                            format!("relay={r} and master={m} name different hosts; they are one setting"),
                            "keep only one of them".into(),
                        ));
                    }
                }
                _ => {}
            }
            let members = ds.members();
            if let (Some(head), Some(raw)) = (ds.head(), ds.entries.get("members")) {
                if !members.contains(&head) {
                    let key = if master.is_some() { "master" } else { "relay" };
                    out.push(Problem::at(
                        raw,
                        format!("{key} {head} is not in members"),
                        format!("add {head} to members= of [{}]", ds.name),
                    ));
                }
            }
        }
    }

    fn check_shared_hosts(&self, out: &mut Vec<Problem>) {
        let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for ds in &self.dataservices {
            for h in ds.hosts() {
                owners.entry(h).or_default().push(&ds.name);
            }
        }
        for (host, dss) in owners.into_iter().filter(|(_, d)| d.len() > 1) {
            out.push(Problem {
                section: Some(dss[1].to_owned()),
                key: None,
                line: self.dataservice(dss[1]).map(|d| d.line),
                message: format!("host {host} is in several dataservices: {}", dss.join(", ")),
                fix: format!("a host belongs to one dataservice; remove {host} from all but one of them"),
            });
        }
    }

    /// The dataservices a `relay-source` value stands for: itself, or the
    /// members of a composite of that name. `None` if unknown.
    pub fn expand_source(&self, name: &str) -> Option<Vec<&str>> {
        if let Some(ds) = self.dataservice(name) {
            return Some(vec![ds.name.as_str()]);
        }
        let c = self.composite(name)?;
        Some(
            c.members
                .iter()
                .filter_map(|m| self.dataservice(m).map(|d| d.name.as_str()))
                .collect(),
        )
    }

    fn check_relay_sources(&self, out: &mut Vec<Problem>) {
        let names: Vec<&str> = self.dataservices.iter().map(|d| d.name.as_str()).collect();
        for ds in &self.dataservices {
            let (Some(src), Some(raw)) = (ds.relay_source(), ds.entries.get("relay-source")) else {
                continue;
            };
            if self.expand_source(src).is_none() {
                out.push(Problem::at(
                    raw,
                    format!("unknown dataservice {src:?}"),
                    format!("name one of the dataservices: {}", names.join(", ")),
                ));
            }
        }
        // Cycles: follow relay-source edges (a composite stands for its
        // members other than the relay's own dataservice).
        let edges = |name: &str| -> Vec<String> {
            let Some(ds) = self.dataservice(name) else {
                return Vec::new();
            };
            let Some(src) = ds.relay_source() else {
                return Vec::new();
            };
            self.expand_source(src)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| *s != name || self.dataservice(src).is_some())
                .map(str::to_owned)
                .collect()
        };
        let mut reported: Vec<Vec<String>> = Vec::new();
        for start in &names {
            // Depth-first search for a path back to `start`.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.to_string(), vec![start.to_string()])];
            while let Some((node, path)) = stack.pop() {
                for next in edges(&node) {
                    if next == *start {
                        let mut cycle = path.clone();
                        let mut key = cycle.clone();
                        key.sort();
                        if !reported.contains(&key) {
                            reported.push(key);
                            cycle.push(next.clone());
                            let raw = self.dataservice(start).and_then(|d| d.entries.get("relay-source"));
                            let message = format!("relay-source cycle: {}", cycle.join(" -> "));
                            let fix = "one dataservice of the chain must be the active one: remove its \
                                       relay-source and give it master="
                                .to_owned();
                            match raw {
                                Some(raw) => out.push(Problem::at(raw, message, fix)),
                                None => out.push(Problem {
                                    section: None,
                                    key: None,
                                    line: None,
                                    message,
                                    fix,
                                }),
                            }
                        }
                    } else if !path.contains(&next) {
                        let mut p = path.clone();
                        p.push(next.clone());
                        stack.push((next, p));
                    }
                }
            }
        }
    }

    fn check_composites(&self, out: &mut Vec<Problem>) {
        let names: Vec<&str> = self.dataservices.iter().map(|d| d.name.as_str()).collect();
        for c in &self.composites {
            for m in &c.members {
                if self.dataservice(m).is_none() {
                    out.push(Problem::at(
                        &c.raw,
                        format!("composite {} names dataservice {m:?}, which has no section", c.name),
                        format!("add a [{m}] section or name one of: {}", names.join(", ")),
                    ));
                }
            }
        }
    }

    fn check_resolution(&self, out: &mut Vec<Problem>) {
        let mut seen: Vec<String> = Vec::new();
        for ds in &self.dataservices {
            for h in ds.hosts() {
                if seen.contains(&h) {
                    continue;
                }
                seen.push(h.clone());
                if self.resolver.resolve(&h).is_none() {
                    let fix = match self.resolver.hosts_file() {
                        Some(f) => format!("add a line `<address> {h}` to the hosts file {}", f.path.display()),
                        None => format!("make {h} resolvable (DNS or /etc/hosts) or pass --hosts-file FILE"),
                    };
                    out.push(Problem {
                        section: Some(ds.name.clone()),
                        key: None,
                        line: Some(ds.line),
                        message: format!("host name {h} does not resolve"),
                        fix,
                    });
                }
            }
        }
    }
}
