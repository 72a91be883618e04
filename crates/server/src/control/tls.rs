//! TLS for the HTTP control listener (`socket-type: https`), as the control
//! agent serves it: the server's certificate chain and key, and, unless
//! `cert-required` is false, only clients with a certificate the trust
//! anchor signed. The files are read once, at start.

use std::path::Path;
use std::sync::Arc;

use leasehold_config::Tls;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// Why TLS could not be set up; each names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{key} {path}: {reason}")]
    File {
        key: &'static str,
        path: String,
        reason: String,
    },
    /// rustls refused the certificates or the key.
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The acceptor for `tls`.
pub(crate) fn acceptor(tls: &Tls) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates("cert-file", &tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|error| file_error("key-file", &tls.key_file, error))?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates("trust-anchor", &tls.trust_anchor)? {
        roots
            .add(certificate)
            .map_err(|error| file_error("trust-anchor", &tls.trust_anchor, error))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let verifier = match tls.cert_required {
        true => verifier.build(),
        false => verifier.allow_unauthenticated().build(),
    }
    .map_err(|error| TlsError::Setup(error.to_string()))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Setup(error.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Setup(error.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| file_error(key, path, error))?;
    if certificates.is_empty() {
        return Err(file_error(key, path, "no certificate in it"));
    }
    Ok(certificates)
}

fn file_error(key: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        key,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}
