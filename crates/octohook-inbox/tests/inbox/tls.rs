//! TLS against the real test server (which must run with `ssl = on`): each
//! mode connects, encrypts (or not) as the server itself reports, and checks
//! the certificate as libpq would.
//!
//! The certificate tests trust the server's own certificate (read from its
//! `ssl_cert_file`, usually Debian's self-signed snakeoil one) and expect it to
//! name `localhost`, or `OCTOHOOK_TEST_TLS_HOST` when set. Without `ssl = on`
//! or a readable certificate file they say so and pass without checking.

use std::path::PathBuf;
use std::sync::Arc;

use octohook_inbox::{PostgresOptions, PostgresStore, SslMode, StoreError, TlsError, rustls};

use crate::pg::{PgSchema, server_url};

/// The server's TLS facts, or why the TLS tests cannot run.
struct Server {
    /// The URL (`postgres://...`) of the test server.
    url: String,
    config: tokio_postgres::Config,
    /// A copy of the server's certificate.
    certificate: Option<tempfile::NamedTempFile>,
}

impl Server {
    /// `None` (after saying why) when the server has no TLS.
    async fn get() -> Option<Self> {
        let url = server_url().await;
        let config: tokio_postgres::Config = url.parse().unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        if ssl != "on" {
            eprintln!(
                "SKIPPED: the test server runs with ssl = {ssl}; the TLS tests need ssl = on"
            );
            return None;
        }
        let file: String = client
            .query_one("SHOW ssl_cert_file", &[])
            .await
            .unwrap()
            .get(0);
        let data_dir: Option<String> = client
            .query_one("SELECT current_setting('data_directory', true)", &[])
            .await
            .ok()
            .and_then(|row| row.get(0));
        let path = match (PathBuf::from(&file), data_dir) {
            (path, Some(dir)) if path.is_relative() => PathBuf::from(dir).join(path),
            (path, _) => path,
        };
        let certificate = match std::fs::read(&path) {
            Ok(pem) => {
                let copy = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(copy.path(), pem).unwrap();
                Some(copy)
            }
            Err(error) => {
                eprintln!(
                    "SKIPPED (certificate checks): cannot read the server's certificate {}: {error}",
                    path.display()
                );
                None
            }
        };
        Some(Self {
            url,
            config,
            certificate,
        })
    }

    /// A `key=value` connection string naming `host` for TLS while connecting
    /// to the test server's address.
    fn conninfo(&self, host: &str, extra: &str) -> String {
        let address = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "host={host} hostaddr={address} port={port} user={user} dbname={db} {extra}",
            user = self.config.get_user().unwrap_or("postgres"),
            db = self.config.get_dbname().unwrap_or("test"),
        )
    }

    /// The server and the path of a copy of its certificate; `None` (after
    /// saying why) when the certificate checks cannot run.
    async fn with_certificate() -> Option<(Self, String)> {
        let server = Self::get().await?;
        let certificate = server.certificate.as_ref()?.path().display().to_string();
        Some((server, certificate))
    }
}

/// The host name the server's certificate is for.
fn certificate_host() -> String {
    std::env::var("OCTOHOOK_TEST_TLS_HOST").unwrap_or_else(|_| "localhost".to_owned())
}

/// A fresh CA the server's certificate has nothing to do with.
fn unrelated_ca() -> tempfile::NamedTempFile {
    let mut params = rcgen::CertificateParams::new(vec![certificate_host()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&key).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), ca.pem()).unwrap();
    file
}

/// The TLS version of a session of a store connected with `conninfo` and
/// `options` (in a schema of its own), as the server reports it.
async fn tls_version(
    conninfo: &str,
    options: PostgresOptions,
) -> Result<Option<String>, StoreError> {
    let schema = PgSchema::new().await;
    let store =
        PostgresStore::connect_with(conninfo, options.schema(schema.schema.clone())).await?;
    store.tls_version().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_checking_the_certificate() {
    let Some(server) = Server::get().await else {
        return;
    };
    let url = format!("{}?sslmode=require", server.url);
    let version = tls_version(&url, PostgresOptions::default()).await.unwrap();
    assert!(
        version.as_deref().is_some_and(|v| v.starts_with("TLSv1.")),
        "{version:?}"
    );
    // Any host name will do: nothing is checked.
    let conninfo = server.conninfo("no-such-name.invalid", "sslmode=require");
    assert!(
        tls_version(&conninfo, PostgresOptions::default())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_is_the_default_and_encrypts_when_the_server_can() {
    let Some(server) = Server::get().await else {
        return;
    };
    let version = tls_version(&server.url, PostgresOptions::default())
        .await
        .unwrap();
    assert!(version.is_some(), "a plain-text session under prefer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_stays_in_plain_text() {
    let Some(server) = Server::get().await else {
        return;
    };
    let url = format!("{}?sslmode=disable", server.url);
    assert_eq!(
        tls_version(&url, PostgresOptions::default()).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_accepts_the_servers_certificate_under_its_name() {
    let Some((server, ca)) = Server::with_certificate().await else {
        return;
    };
    let conninfo = server.conninfo(
        &certificate_host(),
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    let version = tls_version(&conninfo, PostgresOptions::default())
        .await
        .unwrap();
    assert!(version.is_some(), "verify-full connected in plain text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_for_another_name() {
    let Some((server, ca)) = Server::with_certificate().await else {
        return;
    };
    let conninfo = server.conninfo(
        "db.example.com",
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    let error = tls_version(&conninfo, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Tls(TlsError::HostNameMismatch(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("host name"), "{error}");

    // verify-ca checks the chain only: the same name is fine.
    let conninfo = server.conninfo(
        "db.example.com",
        &format!("sslmode=verify-ca sslrootcert={ca}"),
    );
    assert!(
        tls_version(&conninfo, PostgresOptions::default())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_modes_refuse_a_certificate_from_another_ca() {
    let Some(server) = Server::get().await else {
        return;
    };
    let ca = unrelated_ca();
    for mode in ["verify-full", "verify-ca", "require"] {
        let conninfo = server.conninfo(
            &certificate_host(),
            &format!("sslmode={mode} sslrootcert={}", ca.path().display()),
        );
        let error = tls_version(&conninfo, PostgresOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Tls(TlsError::UntrustedCertificate(_))),
            "{mode}: {error:?}"
        );
    }
    // And the built-in (Mozilla) roots do not know a self-signed certificate.
    let conninfo = server.conninfo(&certificate_host(), "sslmode=verify-full");
    let error = tls_version(&conninfo, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Tls(TlsError::UntrustedCertificate(_))),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_set_from_rust_take_precedence_over_the_url() {
    let Some((server, ca)) = Server::with_certificate().await else {
        return;
    };
    let unrelated = unrelated_ca();
    let conninfo = server.conninfo(
        &certificate_host(),
        &format!("sslmode=disable sslrootcert={}", unrelated.path().display()),
    );
    let options = PostgresOptions::default()
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(&ca);
    assert!(tls_version(&conninfo, options).await.unwrap().is_some());

    // A whole rustls configuration: its roots decide.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(unrelated.path()).unwrap();
    for certificate in
        <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(
            &pem,
        )
    {
        roots.add(certificate.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let options = PostgresOptions::default()
        .ssl_mode(SslMode::Require)
        .tls_config(Arc::new(config));
    let error = tls_version(&server.url, options).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Tls(TlsError::UntrustedCertificate(_))),
        "{error:?}"
    );
}

#[test]
fn debug_output_keeps_the_password_and_custom_keys_out() {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let options = PostgresOptions::default()
        .ssl_mode(SslMode::VerifyFull)
        .tls_config(Arc::new(config));
    let debug = format!("{options:?}");
    assert!(
        debug.contains("VerifyFull") && debug.contains("Config(..)"),
        "{debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_shows_in_debug_or_errors() {
    let Some(server) = Server::get().await else {
        return;
    };
    let schema = PgSchema::new().await;
    // Trust authentication ignores the password; it still travels in the URL.
    let with_password = server
        .url
        .replacen("postgres@", "postgres:hunter2-secret@", 1);
    let store = PostgresStore::connect_with(
        &format!("{with_password}?sslmode=require"),
        PostgresOptions::default().schema(schema.schema.clone()),
    )
    .await
    .unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    let error = PostgresStore::connect(&format!(
        "{}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        with_password
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(error, StoreError::Tls(TlsError::RootCertificates { .. })),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

/// Over a Unix socket, as libpq: no TLS, whatever the mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_sockets_go_without_tls_whatever_the_mode() {
    let Some(server) = Server::get().await else {
        return;
    };
    let port = server.config.get_ports().first().copied().unwrap_or(5432);
    let directory = "/var/run/postgresql";
    if !std::path::Path::new(&format!("{directory}/.s.PGSQL.{port}")).exists() {
        eprintln!("SKIPPED: no server socket in {directory}");
        return;
    }
    for mode in ["prefer", "verify-full"] {
        let conninfo = format!(
            "host={directory} port={port} user={user} dbname={db} sslmode={mode}",
            user = server.config.get_user().unwrap_or("postgres"),
            db = server.config.get_dbname().unwrap_or("test"),
        );
        assert_eq!(
            tls_version(&conninfo, PostgresOptions::default())
                .await
                .unwrap(),
            None,
            "{mode}"
        );
    }
}
