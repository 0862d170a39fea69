//! TLS for PostgreSQL connections over rustls (ring), with libpq's `sslmode`.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::{StoreError, TlsError};

/// Whether and how a connection uses TLS: libpq's `sslmode`, read from the
/// connection string (`sslmode=verify-full`) or set with
/// [`PostgresOptions::ssl_mode`](crate::PostgresOptions::ssl_mode).
///
/// | mode | encrypted | certificate checked |
/// | --- | --- | --- |
/// | `disable` | no | - |
/// | `prefer` (the default) | when the server accepts TLS | no |
/// | `require` | yes | no; with `sslrootcert`, its chain (as `verify-ca`) |
/// | `verify-ca` | yes | chain to a trusted root, not the host name |
/// | `verify-full` | yes | chain to a trusted root, and the host name |
///
/// Over a Unix socket no TLS is used, whatever the mode (as libpq does).
///
/// ```
/// use octohook_inbox::SslMode;
///
/// assert_eq!("verify-full".parse::<SslMode>().unwrap(), SslMode::VerifyFull);
/// assert_eq!(SslMode::VerifyCa.to_string(), "verify-ca");
/// assert!("allow".parse::<SslMode>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server accepts it, plain text otherwise; the certificate is
    /// not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (encryption against
    /// eavesdroppers, not against an impostor), unless a root certificate file
    /// is given, as libpq does.
    Require,
    /// TLS, with a certificate chain leading to a trusted root; any host name.
    VerifyCa,
    /// TLS, with a certificate chain leading to a trusted root and naming the
    /// host connected to (the `host` parameter, even when `hostaddr` gives the
    /// address).
    VerifyFull,
}

impl SslMode {
    /// The mode's name in a connection string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `sslmode` this crate does not know (such as libpq's `allow`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown sslmode {0:?}: expected disable, prefer, require, verify-ca or verify-full")]
pub struct UnknownSslMode(String);

impl FromStr for SslMode {
    type Err = UnknownSslMode;

    fn from_str(mode: &str) -> Result<Self, Self::Err> {
        Ok(match mode {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => return Err(UnknownSslMode(other.to_owned())),
        })
    }
}

/// Where the trusted roots of a connection's TLS come from.
#[derive(Clone)]
pub(crate) enum Roots {
    /// Mozilla's roots, compiled in (`webpki-roots`).
    Mozilla,
    /// The PEM certificates in a file (`sslrootcert`).
    File(PathBuf),
    /// The caller's whole client configuration, verifier included.
    Config(Arc<ClientConfig>),
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mozilla => f.write_str("Mozilla"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            // A ClientConfig may hold a client key: say only that there is one.
            Self::Config(_) => f.write_str("Config(..)"),
        }
    }
}

impl PartialEq for Roots {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Mozilla, Self::Mozilla) => true,
            (Self::File(a), Self::File(b)) => a == b,
            (Self::Config(a), Self::Config(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Roots {}

/// The ring provider, shared by every configuration this crate builds.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `mode` with `roots`.
pub(crate) fn client_config(mode: SslMode, roots: &Roots) -> Result<Arc<ClientConfig>, StoreError> {
    if let Roots::Config(config) = roots {
        return Ok(Arc::clone(config));
    }
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_config_error(&error))?;
    // libpq: `require` with a root certificate file checks the chain.
    let checked = match (mode, roots) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, Roots::Mozilla) => None,
        (SslMode::Require | SslMode::VerifyCa, _) => Some(false),
        (SslMode::VerifyFull, _) => Some(true),
    };
    let mut config = match checked {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Some(check_name) => {
            let store = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider)
                .build()
                .map_err(|error| {
                    StoreError::Tls(TlsError::RootCertificates {
                        path: roots_name(roots),
                        reason: error.to_string(),
                    })
                })?;
            if check_name {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    // PostgreSQL 17's ALPN name; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(config))
}

fn tls_config_error(error: &rustls::Error) -> StoreError {
    StoreError::Config(format!("cannot set up TLS: {error}"))
}

fn roots_name(roots: &Roots) -> String {
    match roots {
        Roots::File(path) => path.display().to_string(),
        _ => "the built-in roots".to_owned(),
    }
}

fn root_store(roots: &Roots) -> Result<RootCertStore, StoreError> {
    match roots {
        Roots::File(path) => read_roots(path),
        _ => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    }
}

/// The PEM certificates in `path`, as trusted roots.
fn read_roots(path: &Path) -> Result<RootCertStore, StoreError> {
    let failed = |reason: String| {
        StoreError::Tls(TlsError::RootCertificates {
            path: path.display().to_string(),
            reason,
        })
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| failed(error.to_string()))?;
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(failed(format!(
            "no usable certificate ({ignored} could not be parsed)"
        )));
    }
    Ok(store)
}

/// `require` and `prefer`: any certificate, as long as the server proves it
/// holds its key (the handshake's signatures are still checked).
#[derive(Debug)]
struct Unchecked {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unchecked {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: WebPKI's checks, but for the host name. WebPKI checks the name
/// last, once the chain is known good, so a name error means a good chain.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres's TLS hook over tokio-rustls.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    pub(crate) fn new(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, io::Error> {
        // No host name: a Unix socket, over which PostgreSQL never accepts TLS
        // (and `connect_with` asks for none), so the name is never checked.
        let host = if host.is_empty() { "localhost" } else { host };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
        })
    }
}

/// One connection's TLS handshake.
pub(crate) struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A TLS connection to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    /// `tls-server-end-point` (RFC 5929): a hash of the server's certificate,
    /// which SCRAM-SHA-256-PLUS binds the password exchange to.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, connection) = self.0.get_ref();
        connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|certificate| end_point_hash(certificate))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// The certificate's hash for `tls-server-end-point`: with the hash of its
/// signature algorithm, SHA-256 for SHA-1 and MD5. `None` for algorithms the
/// binding does not define (Ed25519, RSA-PSS with parameters): the exchange
/// then goes without.
fn end_point_hash(certificate: &[u8]) -> Option<Vec<u8>> {
    use ring::digest::{SHA256, SHA384, SHA512, digest};
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (0x30, fields, _) = der_element(certificate)? else {
        return None;
    };
    let (_, _, after_tbs) = der_element(fields)?;
    let (0x30, algorithm, _) = der_element(after_tbs)? else {
        return None;
    };
    let (0x06, oid, _) = der_element(algorithm)? else {
        return None;
    };
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    let hash = match oid.split_last()? {
        // md5, sha1, sha256 WithRSAEncryption
        (0x04 | 0x05 | 0x0b, prefix) if prefix == RSA => &SHA256,
        (0x0c, prefix) if prefix == RSA => &SHA384,
        (0x0d, prefix) if prefix == RSA => &SHA512,
        (0x02, prefix) if prefix == ECDSA => &SHA256,
        (0x03, prefix) if prefix == ECDSA => &SHA384,
        (0x04, prefix) if prefix == ECDSA => &SHA512,
        // ecdsa-with-SHA1: 1.2.840.10045.4.1
        (0x01, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]) => &SHA256,
        _ => return None,
    };
    Some(digest(hash, certificate).as_ref().to_vec())
}

/// One DER element: its tag, its contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (bytes, rest) = rest.split_at(octets);
        let length = bytes
            .iter()
            .fold(0_usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, rest)
    };
    (rest.len() >= length).then(|| {
        let (contents, after) = rest.split_at(length);
        (tag, contents, after)
    })
}

/// The TLS failure behind a connection error, if it was one.
pub(crate) fn tls_failure(error: &tokio_postgres::Error) -> Option<TlsError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        let rustls_error = cause
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| cause.downcast_ref::<rustls::Error>());
        if let Some(rustls_error) = rustls_error {
            return Some(classify_rustls(rustls_error));
        }
        if cause.to_string() == "server does not support TLS" {
            return Some(TlsError::NotSupportedByServer);
        }
        source = cause.source();
    }
    None
}

fn classify_rustls(error: &rustls::Error) -> TlsError {
    match error {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => TlsError::HostNameMismatch(error.to_string()),
        rustls::Error::InvalidCertificate(_) => TlsError::UntrustedCertificate(error.to_string()),
        other => TlsError::Handshake(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.as_str().parse::<SslMode>(), Ok(mode));
        }
        assert!("VERIFY-FULL".parse::<SslMode>().is_err());
    }

    #[test]
    fn channel_binding_hashes_with_the_signature_algorithms_hash() {
        for (algorithm, hash) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, &ring::digest::SHA256),
            (&rcgen::PKCS_ECDSA_P384_SHA384, &ring::digest::SHA384),
        ] {
            let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
            let params = rcgen::CertificateParams::new(vec!["db.example.com".to_owned()]).unwrap();
            let der = params.self_signed(&key).unwrap().der().to_vec();
            assert_eq!(
                end_point_hash(&der),
                Some(ring::digest::digest(hash, &der).as_ref().to_vec())
            );
        }
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let params = rcgen::CertificateParams::new(vec!["db.example.com".to_owned()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        assert_eq!(end_point_hash(&der), None, "Ed25519 defines no binding");
        assert_eq!(end_point_hash(b"not a certificate"), None);
    }

    #[test]
    fn der_lengths_are_read_short_and_long() {
        assert_eq!(
            der_element(&[0x06, 0x01, 0x2a, 0xff]),
            Some((0x06, &[0x2a][..], &[0xff][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7; 0x80]);
        assert_eq!(der_element(&long).map(|(_, c, _)| c.len()), Some(0x80));
        assert_eq!(der_element(&[0x04, 0x05, 1]), None);
        assert_eq!(der_element(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
    }
}
