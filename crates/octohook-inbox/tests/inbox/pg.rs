//! A PostgreSQL database for the tests, isolated in a schema of its own.
//!
//! The server is, in order: `OCTOHOOK_TEST_DATABASE_URL` when set; the local
//! server at `postgres://postgres@127.0.0.1:5432/test` when it answers; else a
//! throwaway cluster started with the installed PostgreSQL binaries (`initdb`,
//! `postgres`) in a temporary directory on a free port, stopped when the test
//! process exits. Without any of them the tests fail, saying how to get one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use octohook_inbox::{PostgresOptions, PostgresStore};

/// The variable naming the test server.
pub(crate) const URL_VARIABLE: &str = "OCTOHOOK_TEST_DATABASE_URL";
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own on the test server, dropped when this is dropped.
pub(crate) struct PgSchema {
    pub(crate) url: String,
    pub(crate) schema: String,
}

impl PgSchema {
    /// A new, empty schema.
    pub(crate) async fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let url = server_url().await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "octohook_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self { url, schema }
    }

    /// A new connection pool to the schema (created at the first one).
    pub(crate) async fn open(&self) -> PostgresStore {
        PostgresStore::connect_with(
            &self.url,
            PostgresOptions::default()
                .schema(self.schema.clone())
                .pool_size(8),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot connect to the test database: {error}"))
    }

    /// A plain connection to the test server, for the SQL a test runs beside
    /// the store's (tables are named `{schema}.octohook_...`).
    #[allow(dead_code, reason = "shared with test files that need no client")]
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test database: {error}"));
        tokio::spawn(connection);
        client
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (client, connection) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                    ))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}", self.schema);
        }
    }
}

/// Whether a server answers at `url`.
async fn answers(url: &str) -> bool {
    let attempt = async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), attempt).await,
        Ok(Ok(_))
    )
}

/// The URL of the server the tests use; see the module documentation.
pub(crate) async fn server_url() -> String {
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        assert!(
            answers(&url).await,
            "{URL_VARIABLE} is set, but no PostgreSQL server answers there"
        );
        return url;
    }
    if answers(LOCAL_URL).await {
        return LOCAL_URL.to_owned();
    }
    static THROWAWAY: OnceLock<Result<String, String>> = OnceLock::new();
    let started = THROWAWAY.get_or_init(|| {
        std::thread::spawn(start_throwaway_cluster)
            .join()
            .unwrap_or_else(|_| Err("starting the cluster panicked".to_owned()))
    });
    match started {
        Ok(url) => url.clone(),
        Err(reason) => panic!(
            "the PostgreSQL tests need a server, and none was found: set {URL_VARIABLE}=postgres://..., \
             run one on 127.0.0.1:5432 (user postgres, database test, trust authentication), \
             or install PostgreSQL's server binaries (Debian: apt-get install postgresql) so that \
             the tests can start a throwaway cluster. Starting one failed: {reason}"
        ),
    }
}

/// The directory holding `initdb` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"));
    from_pg_config
        .into_iter()
        .chain(installed)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}

/// Runs `program` as the unprivileged `postgres` user when this process is
/// root (PostgreSQL refuses to run as root).
fn command(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn start_throwaway_cluster() -> Result<String, String> {
    let bin = binaries().ok_or("no initdb/postgres binaries found")?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false);
    let dir = std::env::temp_dir().join(format!("octohook-inbox-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {dir:?}: {error}"))?;
    if root {
        let status = Command::new("chown")
            .arg("postgres")
            .arg(&dir)
            .status()
            .map_err(|error| error.to_string())?;
        if !status.success() {
            return Err("cannot hand the cluster directory to the postgres user".to_owned());
        }
    }
    let initdb = command(&bin.join("initdb"), root)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run initdb: {error}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| error.to_string())?
        .port();
    // A watchdog shell runs the server and stops it (and removes the directory)
    // once this test process has exited.
    let postgres = bin.join("postgres");
    let script = format!(
        "{runas}{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
         >{dir}/log 2>&1 & server=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         kill -INT $(head -n 1 {data}/postmaster.pid); wait $server; rm -rf {dir}",
        runas = if root { "runuser -u postgres -- " } else { "" },
        postgres = postgres.display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start postgres: {error}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    while Instant::now() < deadline {
        if runtime.block_on(answers(&url)) {
            eprintln!("started a throwaway PostgreSQL cluster on port {port}");
            return Ok(url);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    Err(format!("the server did not start within 30 s: {log}"))
}
