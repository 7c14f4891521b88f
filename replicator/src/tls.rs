//! TLS of the THL port (`thls://`, issue 14) with `rustls`: the deployment's
//! CA (`ssl-ca`) vouches for every replicator, each of which holds its own
//! certificate and key (`ssl-cert`, `ssl-key`, PEM, `{host}` in the paths).
//!
//! Invariants:
//! * a server is believed only when its certificate chains to the
//!   deployment's CA and names the host the client dialled (a spoofed
//!   master, or a man in the middle, fails the handshake before a byte of
//!   THL is read);
//! * with `thl-auth=mtls` a client must present a certificate of the same
//!   CA before the server reads its first THL message: a reader or a
//!   forged acknowledger without one gets no record;
//! * the files are read again when one of them changes (by modification
//!   time, checked at each connection), so renewed certificates take effect
//!   without a restart; a change that does not load (a half-written file)
//!   keeps the previous configuration and logs why;
//! * nothing read from the files is trusted: a file that is missing, holds
//!   no certificate or no key, a key that does not match, or a certificate
//!   that the CA does not verify now (expired, another CA's) is an error
//!   naming the file and the setting.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The PEM files of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// This host's certificate chain (`ssl-cert`).
    pub cert: PathBuf,
    /// Its private key (`ssl-key`).
    pub key: PathBuf,
    /// The deployment's CA (`ssl-ca`).
    pub ca: PathBuf,
}

/// Why the TLS material does not load, naming the file and the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(pub String);

/// The configurations built from the files, rebuilt when they change.
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    mutual: bool,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    stamps: Vec<Option<SystemTime>>,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Tls {
    /// Loads the files; `mutual`: servers require client certificates and
    /// clients present theirs (`thl-auth=mtls`).
    pub fn load(files: TlsFiles, mutual: bool) -> Result<Tls, TlsError> {
        let loaded = build(&files, mutual)?;
        Ok(Tls {
            files,
            mutual,
            loaded: Mutex::new(loaded),
        })
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.mutual
    }

    /// The server side, reloaded first when a file changed.
    pub fn server(&self) -> Arc<ServerConfig> {
        self.current().server.clone()
    }

    /// The client side, reloaded first when a file changed.
    pub fn client(&self) -> Arc<ClientConfig> {
        self.current().client.clone()
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Loaded> {
        let mut g = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if stamps(&self.files) != g.stamps {
            match build(&self.files, self.mutual) {
                Ok(new) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS files changed: reloaded");
                    *g = new;
                }
                Err(e) => {
                    tracing::warn!("TLS files changed but do not load, keeping the previous ones: {e}");
                    // Do not try again until they change once more.
                    g.stamps = stamps(&self.files);
                }
            }
        }
        g
    }
}

fn stamps(f: &TlsFiles) -> Vec<Option<SystemTime>> {
    [&f.cert, &f.key, &f.ca]
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// A shared [`Tls`] that compares by identity (settings structs that hold
/// one stay `PartialEq`).
#[derive(Debug, Clone)]
pub struct TlsHandle(pub Arc<Tls>);

impl PartialEq for TlsHandle {
    fn eq(&self, other: &TlsHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsHandle {}

/// The files an ini names (`thl-ssl`, `rest-api-ssl`), loaded; `mutual`:
/// see [`Tls::load`].
pub fn load(paths: &crate::config::TlsPaths, mutual: bool) -> Result<TlsHandle, TlsError> {
    let files = TlsFiles {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
        ca: paths.ca.clone(),
    };
    Tls::load(files, mutual).map(|t| TlsHandle(Arc::new(t)))
}

/// Why a TLS handshake failed, when it is the peer's identity or ours
/// (a certificate not of the deployment, none presented, one refused):
/// retrying cannot fix that. `None`: a network failure.
pub fn handshake_error(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    match inner {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::AlertReceived(_) => Some(format!(
            "TLS: {inner}: the peer is not a replicator of this deployment, or does not take this one's certificate \
             (check ssl-cert, ssl-key and ssl-ca on both hosts: one CA, certificates naming the hosts)"
        )),
        _ => None,
    }
}

/// The DNS names of the certificate a TLS peer presented (empty when it
/// presented none or it does not parse).
pub fn peer_names(conn: &rustls::ServerConnection) -> Vec<String> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
        .map(|cert| cert.valid_dns_names().map(str::to_owned).collect())
        .unwrap_or_default()
}

// `ring` lacks post-quantum key exchange (the deprecation); it builds with
// the C compiler alone, where aws-lc needs cmake.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path, setting: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let list: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("{setting}={}: {e}", path.display())))?;
    if list.is_empty() {
        return Err(TlsError(format!(
            "{setting}={}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(list)
}

fn roots(ca: &Path, certs: Vec<CertificateDer<'static>>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| TlsError(format!("ssl-ca={}: {e}", ca.display())))?;
    }
    Ok(Arc::new(roots))
}

/// This host's certificate must chain to the CA and be valid now: a peer
/// would refuse it otherwise, later and with less to go on.
fn check_chain(
    f: &TlsFiles,
    chain: &[CertificateDer<'static>],
    ca: &[CertificateDer<'static>],
) -> Result<(), TlsError> {
    let anchors = ca
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("ssl-ca={}: {e:?}", f.ca.display())))?;
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| TlsError(format!("ssl-cert={}: no certificate", f.cert.display())))?;
    let ee =
        webpki::EndEntityCert::try_from(leaf).map_err(|e| TlsError(format!("ssl-cert={}: {e:?}", f.cert.display())))?;
    ee.verify_for_usage(
        provider().signature_verification_algorithms.all,
        &anchors,
        intermediates,
        rustls::pki_types::UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| {
        TlsError(format!(
            "ssl-cert={} is not valid under ssl-ca={} now: {e:?} (expired, not yet valid, or signed by another CA)",
            f.cert.display(),
            f.ca.display()
        ))
    })
}

fn build(f: &TlsFiles, mutual: bool) -> Result<Loaded, TlsError> {
    let stamps = stamps(f);
    let chain = certs(&f.cert, "ssl-cert")?;
    let ca = certs(&f.ca, "ssl-ca")?;
    check_chain(f, &chain, &ca)?;
    let key = PrivateKeyDer::from_pem_file(&f.key)
        .map_err(|e| TlsError(format!("ssl-key={}: {e} (a PEM private key)", f.key.display())))?;
    let roots = roots(&f.ca, ca)?;
    let bad = |what: &str, e: rustls::Error| {
        TlsError(format!(
            "{what}: {e} (ssl-cert={}, ssl-key={}, ssl-ca={})",
            f.cert.display(),
            f.key.display(),
            f.ca.display()
        ))
    };
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", e))?;
    let server = if mutual {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| TlsError(format!("ssl-ca={}: {e}", f.ca.display())))?;
        server.with_client_cert_verifier(verifier)
    } else {
        server.with_no_client_auth()
    }
    .with_single_cert(chain.clone(), key.clone_key())
    .map_err(|e| bad("the certificate and key do not go together", e))?;
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", e))?
        .with_root_certificates(roots);
    let client = if mutual {
        client
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad("the certificate and key do not go together", e))?
    } else {
        client.with_no_client_auth()
    };
    Ok(Loaded {
        stamps,
        server: Arc::new(server),
        client: Arc::new(client),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and one certificate for `host`, as PEM files in `dir`.
    fn write_files(dir: &Path, host: &str) -> TlsFiles {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![host.to_owned()])
            .expect("params")
            .signed_by(&key, &ca_cert, &ca_key)
            .expect("cert");
        let files = TlsFiles {
            cert: dir.join("host.pem"),
            key: dir.join("host.key"),
            ca: dir.join("ca.pem"),
        };
        std::fs::write(&files.ca, ca_cert.pem()).expect("write");
        std::fs::write(&files.cert, cert.pem()).expect("write");
        std::fs::write(&files.key, key.serialize_pem()).expect("write");
        files
    }

    #[test]
    fn changed_files_are_taken_and_broken_ones_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = Tls::load(write_files(dir.path(), "db1"), true).expect("loads");
        let first = tls.client();
        assert!(
            Arc::ptr_eq(&first, &tls.client()),
            "unchanged files: the same configuration"
        );
        // Renewed (another CA and certificate), a second later: taken.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write_files(dir.path(), "db1");
        let renewed = tls.client();
        assert!(!Arc::ptr_eq(&first, &renewed), "renewed files are read again");
        // A half-written key: the previous configuration stays.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(dir.path().join("host.key"), "-----BEGIN PRIVATE KEY-----\nAAAA").expect("write");
        assert!(
            Arc::ptr_eq(&renewed, &tls.client()),
            "a file that does not load is not taken"
        );
    }

    #[test]
    fn missing_and_mismatched_files_name_the_setting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_files(dir.path(), "db1");
        let missing = TlsFiles {
            ca: dir.path().join("nope.pem"),
            ..files.clone()
        };
        let e = Tls::load(missing, true).expect_err("no CA file");
        assert!(e.0.contains("ssl-ca=") && e.0.contains("nope.pem"), "{e}");
        let other = tempfile::tempdir().expect("tempdir");
        let theirs = write_files(other.path(), "db2");
        let files_key = files.key.clone();
        let mismatched = TlsFiles {
            key: theirs.key,
            ..files
        };
        let e = Tls::load(mismatched.clone(), false).expect_err("a key of another certificate");
        assert!(e.0.contains("do not go together"), "{e}");
        let foreign_ca = TlsFiles {
            ca: other.path().join("ca.pem"),
            key: files_key,
            ..mismatched
        };
        let e = Tls::load(foreign_ca, false).expect_err("a certificate of another CA");
        assert!(e.0.contains("is not valid under ssl-ca"), "{e}");
    }
}
