//! Which dataservices hold the same history as another: what `tprovision`
//! may copy a node from, and where a chain of relays starts.
//!
//! Every host of a composite cluster carries the seqnos of the one master
//! its chain starts at (relays pass records on verbatim), so a node of
//! dataservice `D` may be copied from a host of `D` or of `D`'s
//! `relay-source` (a composite source stands for its members).

use super::model::Deployment;

impl Deployment {
    /// The dataservices a node of `ds` may be provisioned from: `ds` and
    /// the dataservices its `relay-source` stands for.
    pub fn provision_sources(&self, ds: &str) -> Vec<String> {
        let mut out = vec![ds.to_owned()];
        if let Some(src) = self.dataservice(ds).and_then(|d| d.relay_source()) {
            for s in self.expand_source(src).unwrap_or_default() {
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }

    /// The host whose extractor writes the seqnos `ds` carries: the head
    /// of the first dataservice without a `relay-source` up the chain.
    pub fn chain_master(&self, ds: &str) -> Option<String> {
        let mut at = self.dataservice(ds)?;
        for _ in 0..self.dataservices.len() {
            let Some(src) = at.relay_source() else {
                return at.head();
            };
            let next = self
                .expand_source(src)?
                .into_iter()
                .find(|s| *s != at.name)
                .and_then(|s| self.dataservice(s))?;
            at = next;
        }
        None
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
    fn sources_and_chain_master() {
        let ini = "[alpha]\nmaster=a1\nmembers=a1,a2\n[beta]\nrelay=b1\nmembers=b1,b2\nrelay-source=alpha\n\
                   [north]\nrelay=n1\nmembers=n1,n2\nrelay-source=gamma\n[gamma]\ncomposite-datasources=alpha,beta\n";
        let d = Deployment::parse(ini, "t.ini")
            .expect("valid ini")
            .with_resolver(Resolver::new(None).with_system(false));
        assert_eq!(d.provision_sources("alpha"), ["alpha"]);
        assert_eq!(d.provision_sources("beta"), ["beta", "alpha"]);
        assert_eq!(d.provision_sources("north"), ["north", "alpha", "beta"]);
        assert_eq!(d.chain_master("beta").as_deref(), Some("a1"));
        assert_eq!(d.chain_master("north").as_deref(), Some("a1"));
        assert_eq!(d.dataservice_of("b2"), Some("beta"));
        assert_eq!(d.dataservice_of("zz"), None);
    }
}
