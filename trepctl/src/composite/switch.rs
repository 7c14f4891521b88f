//! `trepctl composite switch | failover | recover` (issue 13): moving the
//! active site of a composite cluster, as Tungsten's `cctrl` does at the
//! composite level, by driving every replicator's REST API from the ini.
//!
//! The active site is the dataservice whose head (the ini's `master=` or
//! `relay=` host) answers as master; the ini only says which dataservices
//! carry one history (`control/src/config/lineage.rs`). The roles in force
//! live in each replicator's catalog (`setrole` writes them there), so a
//! restart keeps them; the ini's `master=`/`relay=` name the heads, not
//! the current roles.
//!
//! `switch -to B` (planned), from active site A with master `a` to B's
//! relay `b`:
//!  1. fence: `read_only=ON` on `a` and `b` (writes on the old primary are
//!     refused from here on, so nothing is written that the new history
//!     would lack; users with `READ ONLY ADMIN` are not fenced);
//!  2. `flush` on `a`: the seqno S its THL holds after every fenced write;
//!  3. `a` offline; `b` applies S;
//!  4. `b` offline, `setrole master`, online (it extracts its own binlog,
//!     seqnos S+1.. in a new epoch, `master/promotion.rs`);
//!  5. `a` `setrole relay -uri thl://b/` (its applier starts after its
//!     THL's last transaction; refused when its binlog holds transactions
//!     never extracted, `service/demotion.rs`), online;
//!  6. every host that was ONLINE applies a heartbeat of `b`;
//!  7. `read_only=OFF` on `b`: the switch is done.
//!
//! Every step that changes something records its inverse; a failure runs
//! them backwards and reports the failure and each undo. The slaves keep
//! their upstream hosts and follow their roles without operator action.
//!
//! `failover -to B`: A is gone. `b` applies what its THL holds, is
//! promoted and made writable; the seqno it had is reported (what the old
//! site extracted after it is not in the new history). Refused while A's
//! master answers as ONLINE master (that is a switch).
//!
//! `recover A`: A's head rejoins as a relay of the active master, fenced
//! read-only; refused, naming `tprovision`, when its history is not a
//! prefix of the active one (the handshake's epoch check) or its binlog
//! holds transactions never extracted.

use control::config::{locate, Deployment, Role};
use control::state::State;

use super::host::{Host, STEP_LIMIT};
use crate::cli::Cli;
use crate::commands::on_off;

/// The deployment and the hosts of one history.
struct Site {
    dep: Deployment,
    ini: std::path::PathBuf,
    /// One per host of every dataservice carrying the history, heads first.
    hosts: Vec<Host>,
}

impl Site {
    fn load(cli: &Cli, ds: &str) -> Result<Site, String> {
        let ini = locate::ini_if_any(cli.config.as_deref())
            .ok_or("the composite commands need the deployment's ini: pass --config tungsten.ini")?;
        let dep = Deployment::load(&ini, cli.hosts_file.as_deref()).map_err(|e| e.to_string())?;
        if dep.dataservice(ds).is_none() {
            let names: Vec<&str> = dep.dataservices.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "{}: no dataservice {ds} (it has {})",
                ini.display(),
                names.join(", ")
            ));
        }
        let mut hosts = Vec::new();
        for name in dep.provision_sources(ds) {
            let Some(d) = dep.dataservice(&name) else { continue };
            let mut members = d.hosts();
            if let Some(h) = d.head() {
                members.retain(|m| *m != h);
                members.insert(0, h);
            }
            for m in members {
                hosts.push(Host::new(&dep, &ini, cli, &m, &name));
            }
        }
        Ok(Site { dep, ini, hosts })
    }

    /// The head host of dataservice `ds`.
    fn head(&self, ds: &str) -> Result<&Host, String> {
        let name = self
            .dep
            .dataservice(ds)
            .and_then(|d| d.head())
            .ok_or_else(|| format!("{}: dataservice {ds} has no master= or relay= host", self.ini.display()))?;
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| format!("{name} is not a host of the history of {ds}"))
    }

    /// The heads that answer as master, with their state.
    fn masters(&self) -> Vec<(&Host, State)> {
        self.hosts
            .iter()
            .filter(|h| self.dep.dataservice(&h.ds).and_then(|d| d.head()).as_deref() == Some(h.name.as_str()))
            .filter_map(|h| match h.role_state() {
                Some((Role::Master, state)) => Some((h, state)),
                _ => None,
            })
            .collect()
    }

    /// The THL URI a relay of `master`'s site pulls from.
    fn uri_of(&self, master: &Host) -> Result<String, String> {
        self.dep
            .head_uri(&master.ds)
            .ok_or_else(|| format!("no THL address for {}", master.name))
    }

    /// The hosts ONLINE now (to check they are ONLINE again at the end).
    fn online_now(&self) -> Vec<&Host> {
        self.hosts
            .iter()
            .filter(|h| h.role_state().is_some_and(|(_, s)| s == State::Online))
            .collect()
    }
}

/// A change made, and how to undo it.
enum Undo<'a> {
    ReadOnly(&'a Host, bool),
    Online(&'a Host),
    /// Offline, then back to this role (and upstream).
    Role(&'a Host, Role, Option<String>),
}

/// The inverses of the steps done so far (the steps are printed as they
/// happen).
struct Journal<'a> {
    undo: Vec<Undo<'a>>,
}

impl<'a> Journal<'a> {
    fn new() -> Journal<'a> {
        Journal { undo: Vec::new() }
    }

    fn say(&self, line: String) {
        println!("  {line}");
    }

    /// Undoes everything; the failure, what was undone and how. Roles go
    /// back first (latest change first), then the hosts go online in the
    /// order they were taken offline (the old master before the relay
    /// that follows it), then `read_only` is restored.
    fn roll_back(self, failure: String) -> String {
        let mut out = format!("{failure}\nrolling back:\n");
        let mut report = |what: String, result: Result<(), String>| match result {
            Ok(()) => out.push_str(&format!("  {what}: done\n")),
            Err(e) => out.push_str(&format!("  {what}: FAILED: {e}\n")),
        };
        for u in self.undo.iter().rev() {
            if let Undo::Role(h, role, uri) = u {
                let back = h.offline().and_then(|()| h.set_role(*role, uri.as_deref()));
                report(format!("{}: back to {role}", h.name), back);
            }
        }
        for u in &self.undo {
            if let Undo::Online(h) = u {
                report(format!("{}: online", h.name), h.online());
            }
        }
        for u in self.undo.iter().rev() {
            if let Undo::ReadOnly(h, v) = u {
                report(
                    format!("{}: read_only={}", h.name, on_off(*v)),
                    h.read_only(*v).map(|_| ()),
                );
            }
        }
        out.push_str(
            "the roles are as before the command where every undo says done; check with `trepctl composite status`",
        );
        out
    }
}

/// The relay of `to` that becomes master, checked.
fn new_master<'s>(site: &'s Site, to: &str) -> Result<&'s Host, String> {
    let b = site.head(to)?;
    match b.role_state() {
        Some((Role::Relay, _)) => Ok(b),
        Some((Role::Master, _)) => Err(format!("{to} is already the active site ({} is its master)", b.name)),
        Some((role, _)) => Err(format!(
            "{} is a {role}: the head of a passive site is a relay (check the ini's relay={})",
            b.name, b.name
        )),
        None => Err(format!(
            "{}: its replicator does not answer: {}",
            b.name,
            unreachable(b)
        )),
    }
}

fn unreachable(h: &Host) -> String {
    h.summary().err().unwrap_or_else(|| "it answers".into())
}

/// `composite switch -to DS`.
pub fn switch(cli: &Cli, to: &str) -> Result<String, String> {
    let site = Site::load(cli, to)?;
    let b = new_master(&site, to)?;
    let a = match site.masters().as_slice() {
        [(a, State::Online)] => *a,
        [(a, state)] => {
            return Err(format!(
                "the master {} of {} is {state}: a planned switch needs it ONLINE (bring it online, or use `composite \
                 failover -to {to}` if its site is gone)",
                a.name, a.ds
            ))
        }
        [] => {
            return Err(format!(
                "no head of {to}'s history answers as master: if the active site is gone, use `composite failover -to {to}`"
            ))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(h, _)| h.name.as_str()).collect();
            return Err(format!(
                "several masters answer ({}): fix the roles by hand first",
                names.join(", ")
            ));
        }
    };
    if let Some((_, state)) = b.role_state().filter(|(_, s)| *s != State::Online) {
        return Err(format!(
            "{} is {state}: a planned switch needs it ONLINE, applying {}'s transactions (`trepctl -host {} online`)",
            b.name, a.name, b.name
        ));
    }
    let online = site.online_now();
    println!("switch: {} ({}) -> {} ({})", a.ds, a.name, b.ds, b.name);
    let mut j = Journal::new();
    match switch_steps(&site, a, b, &online, &mut j) {
        Ok(seqno) => Ok(format!(
            "switch done: {} is the active site; its master {} extracts from seqno {} on (epoch {}); {} is a relay of it\n{}",
            b.ds,
            b.name,
            seqno + 1,
            b.property("latestEpochNumber"),
            a.name,
            super::status_table(&site.dep, &site.ini, cli)
        )),
        Err(e) => Err(j.roll_back(format!("switch {} -> {} failed: {e}", a.ds, b.ds))),
    }
}

fn switch_steps<'a>(
    site: &Site,
    a: &'a Host,
    b: &'a Host,
    online: &[&Host],
    j: &mut Journal<'a>,
) -> Result<i64, String> {
    let a_before = a.read_only(true)?;
    j.undo.push(Undo::ReadOnly(a, a_before));
    let b_before = b.read_only(true)?;
    j.undo.push(Undo::ReadOnly(b, b_before));
    j.say(format!("fenced: read_only=ON on {} and {}", a.name, b.name));
    let s = a.flush()?;
    j.say(format!("flushed {}: its THL ends at seqno {s}", a.name));
    a.offline()?;
    j.undo.push(Undo::Online(a));
    j.say(format!("{} OFFLINE", a.name));
    b.wait_applied(s, STEP_LIMIT)?;
    j.say(format!("{} applied seqno {s}", b.name));
    b.offline()?;
    j.undo.push(Undo::Online(b));
    b.set_role(Role::Master, None)?;
    j.undo.push(Undo::Role(b, Role::Relay, Some(site.uri_of(a)?)));
    b.online()?;
    j.say(format!("{} is master, ONLINE", b.name));
    let uri = site.uri_of(b)?;
    a.set_role(Role::Relay, Some(&uri))?;
    j.undo.push(Undo::Role(a, Role::Master, None));
    a.online()?;
    j.say(format!("{} is a relay of {uri}, ONLINE", a.name));
    open_writes(b, online, "hosts that were ONLINE", j)?;
    Ok(s)
}

/// The end of a promotion: `b` flushes a heartbeat, every one of
/// `followers` (`b` left out) applies it and is ONLINE, then `b`'s database
/// takes writes.
fn open_writes(b: &Host, followers: &[&Host], who: &str, j: &mut Journal<'_>) -> Result<(), String> {
    let beat = b.flush()?;
    let followers: Vec<&&Host> = followers.iter().filter(|h| h.name != b.name).collect();
    for h in &followers {
        h.caught_up(beat)?;
    }
    j.say(format!(
        "the {} {who} applied seqno {beat} (a heartbeat of {}), ONLINE",
        followers.len(),
        b.name
    ));
    b.read_only(false)?;
    j.say(format!("{} writable: read_only=OFF", b.name));
    Ok(())
}

/// `composite failover -to DS`.
pub fn failover(cli: &Cli, to: &str) -> Result<String, String> {
    let site = Site::load(cli, to)?;
    let b = new_master(&site, to)?;
    if let Some((a, _)) = site.masters().into_iter().find(|(_, s)| *s == State::Online) {
        return Err(format!(
            "{} answers as the ONLINE master of {}: its site is not gone; use `composite switch -to {to}` (a planned \
             switch loses nothing)",
            a.name, a.ds
        ));
    }
    println!("failover: -> {} ({})", b.ds, b.name);
    let followers: Vec<&Host> = site.hosts.iter().filter(|h| h.ds == b.ds && h.name != b.name).collect();
    let mut j = Journal::new();
    match failover_steps(b, &followers, &mut j) {
        Ok(had) => Ok(format!(
            "failover done: {} is the active site; its master {} had seqno {had} from the old site and extracts from \
             seqno {} on (epoch {}). Transactions the old master extracted after seqno {had}, if any, are not in this \
             history; when the old site is back, `trepctl composite recover` it\n{}",
            b.ds,
            b.name,
            had + 1,
            b.property("latestEpochNumber"),
            super::status_table(&site.dep, &site.ini, cli)
        )),
        Err(e) => Err(j.roll_back(format!("failover to {} failed: {e}", b.ds))),
    }
}

fn failover_steps<'a>(b: &'a Host, followers: &[&Host], j: &mut Journal<'a>) -> Result<i64, String> {
    let had = b.drain(STEP_LIMIT)?;
    j.say(format!("{} applied everything its THL holds: seqno {had}", b.name));
    b.offline()?;
    j.undo.push(Undo::Online(b));
    let upstream = b.summary()?.master_connect_uri;
    b.set_role(Role::Master, None)?;
    j.undo
        .push(Undo::Role(b, Role::Relay, Some(upstream).filter(|u| !u.is_empty())));
    b.online()?;
    j.say(format!("{} is master, ONLINE", b.name));
    open_writes(b, followers, "slaves", j)?;
    Ok(had)
}

/// `composite recover DS`.
pub fn recover(cli: &Cli, ds: &str) -> Result<String, String> {
    let site = Site::load(cli, ds)?;
    let m = match site
        .masters()
        .into_iter()
        .find(|(h, s)| *s == State::Online && h.ds != ds)
    {
        Some((m, _)) => m,
        None => {
            return Err(format!(
                "no other site's master answers as ONLINE: nothing for {ds} to rejoin (`composite failover` first)"
            ))
        }
    };
    let a = site.head(ds)?;
    a.summary()
        .map_err(|e| format!("{} must answer to rejoin: {e}", a.name))?;
    println!(
        "recover: {ds} ({}) rejoins as a passive site of {} ({})",
        a.name, m.ds, m.name
    );
    let uri = site.uri_of(m)?;
    let reprovision = |why: String| {
        let source = site
            .hosts
            .iter()
            .find(|h| h.ds == m.ds && h.name != m.name)
            .map_or(m.name.as_str(), |h| h.name.as_str());
        format!(
            "{why}\n{ds}'s history is not a prefix of {}'s: reprovision {} from it (on {}: `tprovision -s {source}`), \
             then each other host of {ds} the same way, then `trepctl composite recover {ds}` again",
            m.ds, a.name, a.name
        )
    };
    a.offline()?;
    println!("  {} OFFLINE", a.name);
    a.read_only(true)?;
    println!("  fenced: read_only=ON on {}", a.name);
    a.set_role(Role::Relay, Some(&uri)).map_err(&reprovision)?;
    a.online().map_err(&reprovision)?;
    println!("  {} is a relay of {uri}, ONLINE", a.name);
    let s = m.flush()?;
    a.caught_up(s).map_err(&reprovision)?;
    println!("  {} applied seqno {s} (a heartbeat of {})", a.name, m.name);
    let mut lagging = Vec::new();
    for h in site.hosts.iter().filter(|h| h.ds == ds && h.name != a.name) {
        if let Some((_, State::OfflineError | State::OfflineNormal)) = h.role_state() {
            // It gave up on its upstream while the site was down.
            let _ = h.offline();
            let _ = h.online();
        }
        if let Err(e) = h.caught_up(s) {
            lagging.push(e);
        }
    }
    let table = super::status_table(&site.dep, &site.ini, cli);
    if lagging.is_empty() {
        Ok(format!("recover done: {ds} is a passive site of {}\n{table}", m.ds))
    } else {
        Err(reprovision(format!(
            "{} rejoined, but not every host of {ds} did:\n  {}\n{table}",
            a.name,
            lagging.join("\n  ")
        )))
    }
}
