//! Running `octohook serve` as operators do, through the real binary over
//! loopback: configured from `OCTOHOOK_*` variables alone, with JSON logs, and
//! watched through `--admin-bind`'s `/healthz` and `/metrics`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use octohook_test_battery::TestDelivery;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const PATIENCE: Duration = Duration::from_secs(20);

/// A running `octohook serve`, its two addresses and its standard error.
struct Served {
    child: Child,
    address: SocketAddr,
    admin: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// Starts `octohook serve` with no flag at all: everything comes from `env`.
    fn from_env(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_WEBHOOK_SECRET", octohook_test_battery::SECRET)
            .env("OCTOHOOK_BIND", "127.0.0.1:0")
            .env("OCTOHOOK_ADMIN_BIND", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("octohook starts");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, addresses) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // The friendly line in text, the log line in JSON.
                for (marker, which) in [
                    ("admin endpoints at http://", "admin"),
                    ("listening on http://", "main"),
                ] {
                    if let Some((_, rest)) = line.split_once(marker) {
                        let address: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                        let _ = found.send((which, address));
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let (mut address, mut admin) = (None, None);
        while address.is_none() || admin.is_none() {
            match addresses.recv_timeout(PATIENCE) {
                Ok(("admin", found)) => admin = Some(found),
                Ok((_, found)) => address = Some(found),
                Err(_) => panic!(
                    "serve did not announce both addresses:\n{}",
                    log.lock().unwrap().join("\n")
                ),
            }
        }
        Self {
            child,
            address: address.unwrap(),
            admin: admin.unwrap(),
            log,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, address: SocketAddr, delivery: &TestDelivery) -> u16 {
    let mut request = client
        .post(format!("http://{address}/"))
        .body(delivery.body().to_vec());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    request.send().await.expect("an answer").status().as_u16()
}

async fn get(client: &reqwest::Client, url: String) -> (u16, String, String) {
    let response = client.get(url).send().await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The value of the sample `series` (name and labels exactly as rendered), if
/// the exposition has it.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|value| value.trim().parse().expect("a number"))
    })
}

/// `/metrics`, once `series` has reached `value` (waiting for the workers).
async fn metrics_once(
    client: &reqwest::Client,
    admin: SocketAddr,
    series: &str,
    value: f64,
) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, _, text) = get(client, format!("http://{admin}/metrics")).await;
        assert_eq!(status, 200);
        if sample(&text, series) == Some(value) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_configured_from_the_environment_reports_health_metrics_and_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let served = Served::from_env(&[
        ("OCTOHOOK_DB", db.to_str().unwrap()),
        ("OCTOHOOK_MAX_BODY", "4096"),
        ("OCTOHOOK_LOG_FORMAT", "json"),
        ("OCTOHOOK_WORKERS", "1"),
    ]);
    let client = octohook_test_battery::http_client_builder()
        .build()
        .unwrap();

    let (status, _, body) = get(&client, format!("http://{}/healthz", served.admin)).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let body = br#"{"action":"opened","issue":{"number":1}}"#.to_vec();
    let delivery = TestDelivery::json("issues", body);
    assert_eq!(post(&client, served.address, &delivery).await, 200);
    assert_eq!(
        post(&client, served.address, &delivery).await,
        200,
        "duplicate"
    );
    let forged = TestDelivery::json("issues", b"{}".to_vec()).signed_with("not the secret");
    assert_eq!(post(&client, served.address, &forged).await, 401);
    let unsigned = TestDelivery::json("push", b"{}".to_vec())
        .without("x-hub-signature-256")
        .without("x-hub-signature");
    assert_eq!(post(&client, served.address, &unsigned).await, 401);
    // OCTOHOOK_MAX_BODY=4096 applies.
    let large = TestDelivery::json("issues", vec![b' '; 5000]);
    assert_eq!(post(&client, served.address, &large).await, 413);
    // A made-up event name does not become a series of its own.
    let made_up = TestDelivery::json("no_such_event_7f3a", b"{\"a\":1}".to_vec()).tampered();
    assert_eq!(post(&client, served.address, &made_up).await, 401);

    let done = r#"octohook_inbox_deliveries{status="done"}"#;
    let text = metrics_once(&client, served.admin, done, 1.0).await;
    let expected = [
        (done, 1.0),
        (r#"octohook_inbox_deliveries{status="pending"}"#, 0.0),
        (r#"octohook_inbox_deliveries{status="failed"}"#, 0.0),
        (
            r#"octohook_deliveries_total{event="issues",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"octohook_deliveries_total{event="issues",outcome="duplicate"}"#,
            1.0,
        ),
        (
            r#"octohook_deliveries_total{event="issues",outcome="rejected"}"#,
            2.0,
        ),
        (
            r#"octohook_deliveries_total{event="push",outcome="rejected"}"#,
            1.0,
        ),
        (
            r#"octohook_deliveries_total{event="unknown",outcome="rejected"}"#,
            1.0,
        ),
        (r#"octohook_rejections_total{reason="bad_signature"}"#, 2.0),
        (
            r#"octohook_rejections_total{reason="missing_signature"}"#,
            1.0,
        ),
        (r#"octohook_rejections_total{reason="too_large"}"#, 1.0),
        (r#"octohook_handler_attempts_total{outcome="done"}"#, 1.0),
        ("octohook_handler_duration_seconds_count", 1.0),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(
        text.contains(r#"octohook_handler_duration_seconds_bucket{le="0.005"}"#),
        "a histogram with buckets:\n{text}"
    );
    assert!(!text.contains("no_such_event"), "{text}");
    let (_, content_type, _) = get(&client, format!("http://{}/metrics", served.admin)).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );

    // Every line on standard error is one JSON object (the startup lines too),
    // and the stored delivery's line carries the delivery's span: GUID, event
    // and hook id.
    let log = served.log();
    let records: Vec<serde_json::Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let stored = records
        .iter()
        .find(|record| record["fields"]["message"] == "stored delivery")
        .unwrap_or_else(|| panic!("no stored delivery line in {log:#?}"));
    let span = stored["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "delivery"))
        .unwrap_or_else(|| panic!("no delivery span in {stored}"));
    assert_eq!(span["delivery"], delivery.guid());
    assert_eq!(span["event"], "issues");
    assert_eq!(span["hook_id"], 42);
}

#[tokio::test]
async fn healthz_is_503_while_the_store_cannot_take_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let served = Served::from_env(&[("OCTOHOOK_DB", db.to_str().unwrap())]);
    let client = octohook_test_battery::http_client_builder()
        .build()
        .unwrap();
    let healthz = format!("http://{}/healthz", served.admin);
    assert_eq!(get(&client, healthz.clone()).await.0, 200);

    // Another process holds SQLite's write lock: no delivery could be stored.
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (status, _, body) = get(&client, healthz.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("unavailable: the inbox"), "{body}");
    let delivery = TestDelivery::json("ping", br#"{"zen":"locked"}"#.to_vec());
    assert_eq!(post(&client, served.address, &delivery).await, 503);

    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, _, body) = get(&client, healthz.clone()).await;
        if status == 200 {
            assert_eq!(body, "ok\n");
            break;
        }
        assert!(Instant::now() < deadline, "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(post(&client, served.address, &delivery).await, 200);
}

#[test]
fn every_serve_flag_names_its_variable_in_help() {
    let output = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .expect("octohook runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let flags: Vec<&str> = help
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.split_once(", ").map_or(line, |(_, long)| long);
            line.strip_prefix("--")
                .and_then(|rest| rest.split([' ', '=', '<']).next())
        })
        .filter(|flag| !matches!(*flag, "help"))
        .collect();
    assert!(flags.len() > 20, "flags found: {flags:?}");
    for flag in flags {
        let variable = format!("OCTOHOOK_{}", flag.replace('-', "_").to_uppercase());
        // `serve --pull`'s API root reads the variable GitHub Actions and the
        // other GitHub commands read.
        if flag == "api-url" {
            assert!(help.contains("[env: GITHUB_API_URL"), "{help}");
            continue;
        }
        assert!(
            help.contains(&format!("[env: {variable}")),
            "--{flag} has no [env: {variable}] in\n{help}"
        );
    }
}

/// The certificate file of the local PostgreSQL server (`ssl=on`), which is
/// self-signed for `localhost`: the CA to verify it with.
async fn local_server_certificate() -> String {
    let (client, connection) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/test",
        tokio_postgres::NoTls,
    )
    .await
    .expect("the local PostgreSQL server answers on 127.0.0.1:5432");
    tokio::spawn(connection);
    let row = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap();
    let path: String = row.get(0);
    assert!(
        std::path::Path::new(&path).is_file(),
        "the server's certificate {path} is not readable"
    );
    path
}

#[tokio::test]
async fn serve_stores_in_postgresql_over_verified_tls_and_refuses_an_untrusted_server() {
    let certificate = local_server_certificate().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let schema = format!("ops_tls_{}", &id[..12]);
    let application = format!("octohook-ops-{}", &id[..12]);
    // TLS is checked against `localhost` (the certificate's name) while the
    // socket goes to 127.0.0.1.
    let url = format!(
        "postgres://postgres@localhost:5432/test?hostaddr=127.0.0.1&application_name={application}\
         &sslmode=verify-full&sslrootcert={certificate}"
    );
    let served = Served::from_env(&[
        ("OCTOHOOK_DATABASE_URL", url.as_str()),
        ("OCTOHOOK_DATABASE_SCHEMA", schema.as_str()),
    ]);
    let client = octohook_test_battery::http_client_builder()
        .build()
        .unwrap();
    let delivery = TestDelivery::json("ping", br#"{"zen":"Encrypt everything."}"#.to_vec());
    assert_eq!(post(&client, served.address, &delivery).await, 200);
    let (status, _, body) = get(&client, format!("http://{}/healthz", served.admin)).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // Every session serve opened is encrypted, as the server sees it.
    let (admin, connection) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/test",
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let row = admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap();
    let (sessions, encrypted): (i64, i64) = (row.get(0), row.get(1));
    assert!(sessions > 0, "serve holds no session");
    assert_eq!(encrypted, sessions, "unencrypted sessions");
    let stored = admin
        .query_one(
            &format!("SELECT count(*) FROM {schema}.octohook_deliveries WHERE guid = $1"),
            &[&delivery.guid()],
        )
        .await
        .unwrap();
    assert_eq!(stored.get::<_, i64>(0), 1);
    drop(served);
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();

    // The public roots do not vouch for the server's self-signed certificate:
    // serve refuses to start, and says why.
    let untrusted = "postgres://postgres@localhost:5432/test?hostaddr=127.0.0.1&sslmode=verify-full\
         &sslrootcert=/etc/ssl/certs/ca-certificates.crt";
    let output = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("GITHUB_WEBHOOK_SECRET", octohook_test_battery::SECRET)
        .env("OCTOHOOK_DATABASE_URL", untrusted)
        .env("OCTOHOOK_DATABASE_SCHEMA", &schema)
        .stdin(Stdio::null())
        .output()
        .expect("octohook runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}
