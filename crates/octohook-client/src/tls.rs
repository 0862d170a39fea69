//! Which certificate authorities the client trusts: Mozilla's roots, the
//! operating system's, a private CA (GitHub Enterprise Server behind a company
//! CA), or a combination. TLS is rustls with the *ring* provider, configured per
//! client: nothing is installed process-wide.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::ClientError;

/// The built-in trust anchors a client starts from, before
/// [`ClientOptions::ca_certificates`](crate::ClientOptions::ca_certificates) adds
/// its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultRoots {
    /// Mozilla's root program, compiled in (`webpki-roots`): the same on every
    /// machine. The default.
    #[default]
    Mozilla,
    /// The operating system's trust store (`/etc/ssl/certs` and the like on
    /// Linux, the keychain on macOS, the certificate store on Windows), read when
    /// the client is built.
    Native,
    /// None: only the certificates given with
    /// [`ClientOptions::ca_certificates`](crate::ClientOptions::ca_certificates).
    None,
}

/// Certificate authorities parsed from PEM (one or more `CERTIFICATE` blocks;
/// other blocks are ignored).
///
/// ```
/// use octohook_client::CaCertificates;
///
/// let error = CaCertificates::from_pem(b"not a certificate").unwrap_err();
/// assert!(error.to_string().contains("no PEM certificate"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CaCertificates {
    certificates: Vec<CertificateDer<'static>>,
}

impl CaCertificates {
    /// Every `CERTIFICATE` block of `pem`. Fails with [`ClientError::InvalidInput`]
    /// when there is none or one is malformed.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ClientError> {
        Self::parse(pem, "the CA bundle")
    }

    /// Like [`CaCertificates::from_pem`], reading the file at `path`.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| {
            ClientError::InvalidInput(format!(
                "could not read the CA bundle {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&pem, &format!("the CA bundle {}", path.display()))
    }

    fn parse(pem: &[u8], what: &str) -> Result<Self, ClientError> {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::InvalidInput(format!("{what} is not valid PEM: {e}")))?;
        if certificates.is_empty() {
            return Err(ClientError::InvalidInput(format!(
                "{what} holds no PEM certificate"
            )));
        }
        Ok(Self { certificates })
    }

    /// How many certificates there are.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// Adds the certificates of `other`.
    pub fn extend(&mut self, other: CaCertificates) {
        self.certificates.extend(other.certificates);
    }
}

impl fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CaCertificates({} certificates)",
            self.certificates.len()
        )
    }
}

/// The rustls configuration for `roots` plus `extra`, with the ring provider.
pub(crate) fn client_config(
    roots: DefaultRoots,
    extra: &CaCertificates,
) -> Result<rustls::ClientConfig, ClientError> {
    let mut store = RootCertStore::empty();
    match roots {
        DefaultRoots::Mozilla => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        DefaultRoots::Native => {
            let native = rustls_native_certs::load_native_certs();
            if native.certs.is_empty() {
                let why = native
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(ClientError::InvalidInput(format!(
                    "could not load the operating system's root certificates: {why}"
                )));
            }
            // Unparsable entries of a system store are skipped, as browsers do.
            let (added, ignored) = store.add_parsable_certificates(native.certs);
            tracing::debug!(added, ignored, "loaded the operating system's roots");
        }
        DefaultRoots::None => {}
    }
    for certificate in &extra.certificates {
        store.add(certificate.clone()).map_err(|e| {
            ClientError::InvalidInput(format!("a CA certificate cannot be a trust anchor: {e}"))
        })?;
    }
    if store.is_empty() {
        return Err(ClientError::InvalidInput(
            "no root certificate to trust: give a CA certificate or keep default roots".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::InvalidInput(format!("could not configure TLS: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(config)
}
