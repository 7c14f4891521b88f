//! Which dataservices hold the same history as another: what `tprovision`
//! may copy a node from, and whose heads may be its master.
//!
//! Every host of a composite cluster carries the seqnos of the one master
//! its chain starts at (relays pass records on verbatim), and a switch or
//! a failover (`trepctl composite`) moves that master to the head of
//! another dataservice of the composite, so the dataservices linked by a
//! `relay-source` (either way) or by one `composite-datasources` carry one
//! history, whichever of them is active now. A node may be copied from a
//! host of any of them, and the master of the history is one of their
//! heads (the ini's `master=` or `relay=` hosts).

use super::model::Deployment;

impl Deployment {
    /// The dataservices a node of `ds` may be provisioned from: `ds` first,
    /// then every dataservice that carries its history.
    pub fn provision_sources(&self, ds: &str) -> Vec<String> {
        let mut out = vec![ds.to_owned()];
        let mut at = 0;
        while at < out.len() {
            let here = out[at].clone();
            at += 1;
            for next in self.linked(&here) {
                if !out.iter().any(|o| o == next) {
                    out.push(next.to_owned());
                }
            }
        }
        out
    }

    /// The heads of the dataservices that carry `ds`'s history: the live
    /// master is one of them.
    pub fn history_heads(&self, ds: &str) -> Vec<String> {
        self.provision_sources(ds)
            .iter()
            .filter_map(|d| self.dataservice(d)?.head())
            .collect()
    }

    /// The dataservices directly linked to `ds`: its relay-source's, those
    /// relaying from it (or from a composite holding it), and the other
    /// members of the composites holding it.
    fn linked(&self, ds: &str) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(src) = self.dataservice(ds).and_then(|d| d.relay_source()) {
            out.extend(self.expand_source(src).unwrap_or_default());
        }
        for d in &self.dataservices {
            let from_ds = d
                .relay_source()
                .and_then(|src| self.expand_source(src))
                .is_some_and(|s| s.contains(&ds));
            if from_ds {
                out.push(d.name.as_str());
            }
        }
        for c in self.composites.iter().filter(|c| c.members.iter().any(|m| m == ds)) {
            out.extend(
                c.members
                    .iter()
                    .filter_map(|m| self.dataservice(m).map(|d| d.name.as_str())),
            );
        }
        out
    }

    /// The dataservice `host` (an ini host name) belongs to.
    pub fn dataservice_of(&self, host: &str) -> Option<&str> {
        self.dataservices
            .iter()
            .find(|d| d.hosts().iter().any(|h| h == host))
            .map(|d| d.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Deployment, Resolver};

    #[test]
    fn one_history_links_relay_sources_and_composites() {
        let ini = "[alpha]\nmaster=a1\nmembers=a1,a2\n[beta]\nrelay=b1\nmembers=b1,b2\nrelay-source=alpha\n\
                   [north]\nrelay=n1\nmembers=n1,n2\nrelay-source=gamma\n[gamma]\ncomposite-datasources=alpha,beta\n";
        let d = Deployment::parse(ini, "t.ini")
            .expect("valid ini")
            .with_resolver(Resolver::new(None).with_system(false));
        // After a switch, alpha may follow beta: one history, either way.
        assert_eq!(d.provision_sources("alpha"), ["alpha", "beta", "north"]);
        assert_eq!(d.provision_sources("beta"), ["beta", "alpha", "north"]);
        assert_eq!(d.provision_sources("north"), ["north", "alpha", "beta"]);
        assert_eq!(d.history_heads("north"), ["n1", "a1", "b1"]);
        let apart = Deployment::parse(
            "[alpha]\nmaster=a1\nmembers=a1\n[other]\nmaster=o1\nmembers=o1\n",
            "t.ini",
        )
        .expect("valid ini");
        assert_eq!(apart.provision_sources("alpha"), ["alpha"]);
        assert_eq!(d.dataservice_of("b2"), Some("beta"));
        assert_eq!(d.dataservice_of("zz"), None);
    }
}
