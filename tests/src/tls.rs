//! A deployment's TLS material for the tests and the demo: one CA and, per
//! host, a certificate naming the host signed by it, as
//! PEM files `ca.pem`, `<host>.pem`, `<host>.key` in one directory, which
//! an ini names with `ssl-cert=<dir>/{host}.pem` and friends
//! ([`Certs::ini_keys`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// The files written.
#[derive(Debug, Clone)]
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    /// A CA named `ca_name` and a certificate for each of `hosts` (the
    /// names the THL URIs dial).
    pub fn write(dir: &Path, ca_name: &str, hosts: &[&str]) -> Result<Certs, String> {
        let named: Vec<(&str, Vec<IpAddr>)> = hosts.iter().map(|h| (*h, Vec::new())).collect();
        Certs::write_with_addresses(dir, ca_name, &named)
    }

    /// As [`Certs::write`], each host's certificate also naming its
    /// addresses, so that a browser or `curl` given an address (the demo's
    /// status page) can verify it.
    pub fn write_with_addresses(dir: &Path, ca_name: &str, hosts: &[(&str, Vec<IpAddr>)]) -> Result<Certs, String> {
        let fail = |e: &dyn std::fmt::Display| format!("test certificates: {e}");
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        let ca_key = KeyPair::generate().map_err(|e| fail(&e))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca_cert = ca.self_signed(&ca_key).map_err(|e| fail(&e))?;
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).map_err(|e| fail(&e))?;
        for (host, addresses) in hosts {
            let key = KeyPair::generate().map_err(|e| fail(&e))?;
            let mut params = CertificateParams::new(vec![host.to_string()]).map_err(|e| fail(&e))?;
            params
                .subject_alt_names
                .extend(addresses.iter().map(|a| SanType::IpAddress(*a)));
            params.distinguished_name.push(DnType::CommonName, *host);
            let cert = params.signed_by(&key, &ca_cert, &ca_key).map_err(|e| fail(&e))?;
            std::fs::write(dir.join(format!("{host}.pem")), cert.pem()).map_err(|e| fail(&e))?;
            std::fs::write(dir.join(format!("{host}.key")), key.serialize_pem()).map_err(|e| fail(&e))?;
        }
        Ok(Certs { dir: dir.to_path_buf() })
    }

    /// The `[defaults]` lines that turn TLS on with these files: the THL
    /// (`thl-auth` mtls, the default) and the REST API (HTTPS).
    pub fn ini_keys(&self) -> String {
        format!(
            "thl-ssl=true\nrest-api-ssl=true\nssl-cert={d}/{{host}}.pem\nssl-key={d}/{{host}}.key\nssl-ca={d}/ca.pem\n",
            d = self.dir.display()
        )
    }
}
