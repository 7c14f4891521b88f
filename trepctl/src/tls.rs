//! HTTPS to a replicator whose REST API has `rest-api-ssl=true`: its
//! certificate is checked against the deployment's CA (the ini's
//! `ssl-ca`) and must name the host, as the replicators check each other;
//! `--insecure` skips that check (the answers and the credentials can then
//! be read and changed by anyone on the network path, which it says).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::client::ClientError;

/// How to check the replicator's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTls {
    /// The CA file; `None` with `--insecure`.
    pub ca: Option<PathBuf>,
    /// The name the certificate must carry (the ini host name).
    pub name: String,
}

// `ring`, as the replicator: it builds with the C compiler alone.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_error(what: String) -> ClientError {
    ClientError::Protocol {
        url: "https".into(),
        message: what,
    }
}

/// The TLS client configuration for `tls`.
pub fn client_config(tls: &TargetTls) -> Result<Arc<ClientConfig>, ClientError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?;
    let config = match &tls.ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| config_error(format!("ssl-ca={}: {e}", ca.display())))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| config_error(format!("ssl-ca={}: {e}", ca.display())))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Insecure(provider())))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name the replicator's certificate must carry.
pub fn server_name(tls: &TargetTls) -> Result<ServerName<'static>, ClientError> {
    ServerName::try_from(tls.name.clone()).map_err(|e| config_error(format!("TLS name {}: {e}", tls.name)))
}

/// `--insecure`: any certificate (signatures still checked, so the
/// session is encrypted to whoever answered).
#[derive(Debug)]
struct Insecure(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
