//! `octohook serve` with its inbox, and `octohook inbox`, through the real binary:
//! deduplication, `--exec`, dead letters, a SIGKILL in the middle of a load,
//! read-only, full and vanished stores, and two receivers on one PostgreSQL store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use load::{Load, all_answered, issue_posts, key};
use octohook_test_battery::{SECRET, TestDelivery};
use serde_json::Value;
use serve::Serve;

mod load;
mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// Runs `octohook inbox ARGS`; returns its standard output, panicking on failure.
fn inbox(args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("inbox")
        .args(args)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "octohook inbox {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every stored delivery (`octohook inbox list --json`), over all statuses.
fn stored(store: &[&str]) -> Vec<Value> {
    let mut args = vec!["list", "--json", "--limit", "100000"];
    args.extend_from_slice(store);
    serde_json::from_str(&inbox(&args)).expect("a JSON array")
}

/// Waits until every stored delivery is finished; returns them.
fn wait_until_finished(store: &[&str], expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = stored(store);
        let finished = rows
            .iter()
            .all(|row| row["status"] == "done" || row["status"] == "failed");
        if finished && rows.len() >= expected {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still unfinished: {rows:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The shell-quoted form of a path.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

fn client() -> reqwest::Client {
    octohook_test_battery::http_client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_stored_and_run_once_and_duplicates_are_only_answered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let out = dir.path().join("out.jsonl");
    let runs = dir.path().join("runs.log");
    let payloads = dir.path().join("payloads");
    std::fs::create_dir(&payloads).unwrap();
    let exec = format!(
        "cat > {payloads}/\"$OCTOHOOK_DELIVERY\"; \
         echo \"$OCTOHOOK_IDEMPOTENCY_KEY|$OCTOHOOK_EVENT|$OCTOHOOK_ACTION|$OCTOHOOK_DELIVERY|$OCTOHOOK_HOOK_ID|$OCTOHOOK_ATTEMPT|${{GITHUB_WEBHOOK_SECRET:-no secret}}\" >> {runs}",
        payloads = quoted(&payloads),
        runs = quoted(&runs),
    );
    let serve = Serve::start(&[
        "--db",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--exec",
        &exec,
    ]);
    let url = serve.url();
    let client = client();
    let form_json = br#"{"action":"opened","x":"a&b=c+d %"}"#;
    let deliveries = vec![
        (
            TestDelivery::json(
                "issues",
                br#"{"action":"opened","issue":{"number":1}}"#.to_vec(),
            ),
            br#"{"action":"opened","issue":{"number":1}}"#.to_vec(),
        ),
        (
            TestDelivery::json("ping", br#"{"zen":"Keep it logically awesome."}"#.to_vec()),
            br#"{"zen":"Keep it logically awesome."}"#.to_vec(),
        ),
        (TestDelivery::form("issues", form_json), form_json.to_vec()),
        (
            TestDelivery::json("push", vec![b' '; 100].into_iter().chain(*b"{}").collect()),
            vec![b' '; 100].into_iter().chain(*b"{}").collect(),
        ),
    ];
    // Each delivery twice at once, then once more: three 200s, one record.
    for (delivery, _) in &deliveries {
        let (first, second) =
            tokio::join!(delivery.send(&client, &url), delivery.send(&client, &url));
        assert_eq!(first.unwrap().0, 200);
        assert_eq!(second.unwrap().0, 200);
        assert_eq!(delivery.send(&client, &url).await.unwrap().0, 200);
    }
    let store = ["--db", db.to_str().unwrap()];
    let rows = wait_until_finished(&store, deliveries.len());
    // The runs log is appended after the payload file is written, and the
    // delivery is marked done after the command exits: all is on disk now.
    serve.terminate();

    let keys: Vec<&str> = rows
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    assert_eq!(rows.len(), deliveries.len(), "{rows:#?}");
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "a key stored twice: {keys:?}");
    for (delivery, _) in &deliveries {
        assert!(unique.contains(key(delivery).as_str()));
    }
    assert!(
        rows.iter()
            .all(|row| row["status"] == "done" && row["attempts"] == 1)
    );

    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), deliveries.len(), "--out: {lines}");
    for ((delivery, _), line) in deliveries.iter().zip(lines.lines()) {
        delivery.expect_record(line).unwrap();
    }

    let runs = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(
        runs.lines().count(),
        deliveries.len(),
        "--exec runs: {runs}"
    );
    let by_guid: HashMap<&str, Vec<&str>> = runs
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            (fields[3], fields)
        })
        .collect();
    for ((delivery, payload), (event, action)) in deliveries.iter().zip([
        ("issues", "opened"),
        ("ping", ""),
        ("issues", "opened"),
        ("push", ""),
    ]) {
        let fields = &by_guid[delivery.guid()];
        assert_eq!(
            fields,
            &[
                key(delivery).as_str(),
                event,
                action,
                delivery.guid(),
                "42",
                "1",
                "no secret"
            ]
        );
        let stdin = std::fs::read(payloads.join(delivery.guid())).unwrap();
        assert_eq!(stdin, *payload, "stdin of {event}");
    }

    // `inbox show` by row id and by key.
    let id = rows[0]["id"].to_string();
    let shown: Value = serde_json::from_str(&inbox(&[
        "show",
        &id,
        "--json",
        "--db",
        db.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(shown["key"], rows[0]["key"]);
    assert!(shown["payload"].is_object());
    let by_key = inbox(&[
        "show",
        rows[0]["key"].as_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        by_key.contains(rows[0]["key"].as_str().unwrap()),
        "{by_key}"
    );
    let table = inbox(&["list", "--db", db.to_str().unwrap()]);
    assert_eq!(table.lines().count(), deliveries.len() + 1, "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_exec_ends_failed_and_inbox_retry_requeues_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let runs = dir.path().join("runs.log");
    let exec = format!(
        "echo \"$OCTOHOOK_DELIVERY $OCTOHOOK_ATTEMPT\" >> {}; echo 'it went wrong' >&2; exit 3",
        quoted(&runs)
    );
    let serve = Serve::start(&[
        "--db",
        db.to_str().unwrap(),
        "--out",
        "/dev/null",
        "--exec",
        &exec,
        "--max-attempts",
        "2",
        "--retry-backoff",
        "50ms",
    ]);
    let client = client();
    let first = TestDelivery::json("issues", br#"{"action":"closed"}"#.to_vec());
    let second = TestDelivery::json("issues", br#"{"action":"reopened"}"#.to_vec());
    for delivery in [&first, &second] {
        assert_eq!(delivery.send(&client, &serve.url()).await.unwrap().0, 200);
    }
    let store = ["--db", db.to_str().unwrap()];
    let rows = wait_until_finished(&store, 2);
    serve.terminate();
    for row in &rows {
        assert_eq!(row["status"], "failed", "{row}");
        assert_eq!(row["attempts"], 2, "{row}");
        let error = row["last_error"].as_str().unwrap();
        assert!(
            error.contains("exit status: 3") && error.contains("it went wrong"),
            "{error}"
        );
    }
    let runs_text = std::fs::read_to_string(&runs).unwrap();
    let mut attempts: Vec<&str> = runs_text.lines().collect();
    attempts.sort_unstable();
    let mut expected = vec![
        format!("{} 1", first.guid()),
        format!("{} 2", first.guid()),
        format!("{} 1", second.guid()),
        format!("{} 2", second.guid()),
    ];
    expected.sort_unstable();
    assert_eq!(attempts, expected);

    let db_arg = db.to_str().unwrap();
    assert_eq!(
        inbox(&["retry", &key(&first), "--db", db_arg]),
        "requeued 1\n"
    );
    assert_eq!(
        inbox(&["retry", "--status", "failed", "--db", db_arg]),
        "requeued 1\n"
    );
    let rows = stored(&store);
    assert!(
        rows.iter()
            .all(|row| row["status"] == "pending" && row["attempts"] == 0),
        "{rows:#?}"
    );
    // Requeued deliveries run again at the next start.
    let serve = Serve::start(&["--db", db_arg, "--out", "/dev/null", "--exec", "exit 0"]);
    let rows = wait_until_finished(&store, 2);
    assert!(rows.iter().all(|row| row["status"] == "done"), "{rows:#?}");
    serve.terminate();
    assert_eq!(
        inbox(&[
            "purge",
            "--older-than",
            "0s",
            "--status",
            "pending",
            "--yes",
            "--db",
            db_arg
        ]),
        "purged 0\n"
    );
    assert_eq!(
        inbox(&["purge", "--older-than", "0s", "--yes", "--db", db_arg]),
        "purged 2\n"
    );
    assert!(stored(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_mid_load_lose_nothing_and_store_nothing_twice() {
    const UNIQUE: usize = 400;
    // Enough at once that the inbox stores them in batches of several: the
    // kills land while a batch is being committed.
    const CONNECTIONS: usize = 32;
    const WORKERS: usize = 2;
    const KILLS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap().to_owned();
    let started = dir.path().join("started.log");
    let finished = dir.path().join("finished.log");
    let exec = format!(
        "echo \"$OCTOHOOK_IDEMPOTENCY_KEY\" >> {}; cat > /dev/null; sleep 0.01; echo \"$OCTOHOOK_IDEMPOTENCY_KEY\" >> {}",
        quoted(&started),
        quoted(&finished)
    );
    let workers = WORKERS.to_string();
    let args = [
        "--db",
        &db_arg,
        "--out",
        "/dev/null",
        "--exec",
        &exec,
        "--workers",
        &workers,
        "--lease",
        "1s",
    ];

    // Every fourth posted twice: 100 duplicates, 20% of the posts.
    let posts = issue_posts(UNIQUE, |_| 512);
    let total = posts.len();
    let unique: BTreeSet<String> = posts.iter().map(key).collect();
    assert_eq!(unique.len(), UNIQUE);

    let mut serve = Serve::start(&args);
    let (load, mut tasks) = Load::start(serve.url(), posts, CONNECTIONS);

    // Kill the receiver (SIGKILL) when 20%, 35%, 50% and 65% of the posts are
    // answered, and restart it on the same file at once each time (on a new
    // port the load follows).
    let mut kills = Vec::new();
    let mut started_before_kill = BTreeSet::new();
    for kill in 0..KILLS {
        load.wait_answered(total * (20 + 15 * kill) / 100, Duration::from_secs(60))
            .await;
        let in_flight = load.in_flight();
        serve.kill();
        kills.push((load.answered(), in_flight));
        started_before_kill.extend(
            std::fs::read_to_string(&started)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned),
        );
        serve = Serve::start(&args);
        load.follow(serve.url());
    }
    assert!(
        kills.iter().any(|&(_, in_flight)| in_flight > 1),
        "no kill landed while several deliveries were being stored: {kills:?}"
    );

    let answered = all_answered(&mut tasks).await;
    assert_eq!(answered, unique, "every post was answered 2xx in the end");
    let rows = wait_until_finished(&["--db", &db_arg], UNIQUE);
    serve.terminate();

    // Every answered delivery is stored exactly once, and done.
    let mut stored_keys = BTreeMap::<String, usize>::new();
    for row in &rows {
        assert_eq!(row["status"], "done", "{row}");
        *stored_keys
            .entry(row["key"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        stored_keys.values().all(|&count| count == 1),
        "stored twice"
    );
    assert_eq!(
        stored_keys.keys().cloned().collect::<BTreeSet<_>>(),
        answered
    );

    // Every one was processed at least once; a second run only for a delivery
    // whose handler had started when the receiver was killed.
    let finished_text = std::fs::read_to_string(&finished).unwrap();
    let mut runs = BTreeMap::<&str, usize>::new();
    for line in finished_text.lines() {
        *runs.entry(line).or_default() += 1;
    }
    for key in &answered {
        assert!(runs.contains_key(key.as_str()), "{key} never processed");
    }
    let twice: Vec<&&str> = runs
        .iter()
        .filter(|&(_, &count)| count > 1)
        .map(|(key, _)| key)
        .collect();
    // At a kill, up to WORKERS handlers may have run to the end unrecorded,
    // and as many outcomes wait in the pool's queue of finishes (a worker
    // takes its next delivery once its outcome is queued, not recorded).
    assert!(
        twice.len() <= KILLS * 2 * WORKERS,
        "processed twice: {twice:?}"
    );
    for key in &twice {
        assert!(
            started_before_kill.contains(**key),
            "{key} ran twice but had not started before the kill"
        );
    }
    let total_runs: usize = runs.values().sum();
    assert!(total_runs <= UNIQUE + KILLS * WORKERS, "{total_runs} runs");
    eprintln!(
        "crash test: {total} posts ({UNIQUE} unique), SIGKILL at (answers, requests in flight) {kills:?}, \
         {} retried requests, {} handlers started before the kill, {} processed twice, \
         {total_runs} --exec runs",
        load.retried(),
        started_before_kill.len(),
        twice.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_store_answers_503_never_2xx() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap();
    let serve = Serve::start(&[
        "--db",
        db_arg,
        "--out",
        "/dev/null",
        "--db-size-limit",
        "131072",
    ]);
    let client = client();
    let mut stored_guids = BTreeSet::new();
    let mut refused = Vec::new();
    for n in 0..200 {
        let body = format!(r#"{{"n":{n},"pad":"{}"}}"#, "y".repeat(8 * 1024));
        let delivery = TestDelivery::json("push", body.into_bytes());
        let (status, text) = delivery.send(&client, &serve.url()).await.unwrap();
        match status {
            200 => {
                assert!(refused.is_empty(), "a 2xx after the store was full");
                stored_guids.insert(key(&delivery));
            }
            503 => {
                assert!(text.len() < 200 && !text.contains(SECRET), "{text}");
                refused.push(key(&delivery));
                if refused.len() == 3 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(!stored_guids.is_empty(), "nothing fitted in the store");
    assert_eq!(refused.len(), 3, "the store never filled up");
    assert!(
        serve.log().contains("the delivery store is full"),
        "{}",
        serve.log()
    );
    serve.terminate();
    let rows = stored(&["--db", db_arg]);
    let keys: BTreeSet<String> = rows
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, stored_guids);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sqlite_store_answers_503_never_2xx() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap();
    let client = client();
    let kept = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    {
        let serve = Serve::start(&["--db", db_arg, "--out", "/dev/null"]);
        assert_eq!(kept.send(&client, &serve.url()).await.unwrap().0, 200);
        wait_until_finished(&["--db", db_arg], 1);
        serve.terminate();
    }
    // The file is not writable by the receiver's user. Root writes anyway, so as
    // root the receiver runs as `nobody` (who may create the SQLite side files in
    // the directory, but not write the database).
    let mode = |path: &Path, mode: &str| {
        assert!(
            Command::new("chmod")
                .arg(mode)
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    };
    mode(&db, "444");
    mode(dir.path(), "777");
    let serve = if is_root() {
        // setpriv executes the binary itself: killing the child kills octohook.
        let mut setpriv = Command::new("setpriv");
        setpriv.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
            BIN,
        ]);
        Serve::start_with(setpriv, &["--db", db_arg, "--out", "/dev/null"])
    } else {
        Serve::start(&["--db", db_arg, "--out", "/dev/null"])
    };
    for _ in 0..3 {
        let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/next"}"#.to_vec());
        let (status, text) = delivery.send(&client, &serve.url()).await.unwrap();
        assert_eq!(status, 503, "{text}");
    }
    assert!(serve.log().contains("read-only"), "{}", serve.log());
    drop(serve);
    mode(&db, "644");
    let rows = stored(&["--db", db_arg]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key"], key(&kept));
}

/// A PostgreSQL cluster of the test's own, started and stopped at will.
struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    root: bool,
}

impl PgCluster {
    fn binaries() -> Option<PathBuf> {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
    }

    fn new() -> Self {
        let bin = Self::binaries().expect(
            "the PostgreSQL tests need PostgreSQL's server binaries under /usr/lib/postgresql \
             (Debian: apt-get install postgresql)",
        );
        let root = is_root();
        let dir = tempfile::tempdir().unwrap();
        if root {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(dir.path())
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            dir,
            bin,
            port,
            root,
        };
        let initdb = cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(cluster.data())
            .output()
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.start();
        cluster
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.stdin(Stdio::null()).stdout(Stdio::null());
        command
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-o", &options, "-w", "-t", "30", "start"])
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    fn stop(&self) {
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .unwrap();
        assert!(
            stopped.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_down_gives_503_and_coming_back_gives_200() {
    let cluster = PgCluster::new();
    let url = cluster.url();
    let serve = Serve::start(&["--database-url", &url, "--out", "/dev/null"]);
    let client = client();
    let mut accepted = BTreeSet::new();
    let before = TestDelivery::json("push", br#"{"ref":"refs/heads/a"}"#.to_vec());
    assert_eq!(before.send(&client, &serve.url()).await.unwrap().0, 200);
    accepted.insert(key(&before));

    cluster.stop();
    for _ in 0..3 {
        let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/b"}"#.to_vec());
        let started = Instant::now();
        let (status, text) = delivery.send(&client, &serve.url()).await.unwrap();
        assert_eq!(status, 503, "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "answered too late for GitHub"
        );
    }

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/c"}"#.to_vec());
        let (status, text) = delivery.send(&client, &serve.url()).await.unwrap();
        if status == 200 {
            accepted.insert(key(&delivery));
            break;
        }
        assert_eq!(status, 503, "{text}");
        assert!(Instant::now() < deadline, "the receiver did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = TestDelivery::json("push", br#"{"ref":"refs/heads/d"}"#.to_vec());
    assert_eq!(after.send(&client, &serve.url()).await.unwrap().0, 200);
    accepted.insert(key(&after));
    serve.terminate();

    let rows = stored(&["--database-url", &url]);
    let keys: BTreeSet<String> = rows
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys, accepted,
        "exactly the deliveries answered 200 are stored"
    );
}

/// The URL of a PostgreSQL server for the tests (see the inbox crate's tests):
/// `OCTOHOOK_TEST_DATABASE_URL`, else the local server on 127.0.0.1:5432 when it
/// answers, else `None`.
async fn shared_server() -> Option<String> {
    if let Ok(url) = std::env::var("OCTOHOOK_TEST_DATABASE_URL") {
        return Some(url);
    }
    let local = "postgres://postgres@127.0.0.1:5432/test";
    let answers = tokio::time::timeout(Duration::from_secs(3), async {
        let (client, connection) = tokio_postgres::connect(local, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await
    })
    .await;
    matches!(answers, Ok(Ok(_))).then(|| local.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_one_postgresql_store_store_and_run_each_delivery_once() {
    let (url, _cluster) = match shared_server().await {
        Some(url) => (url, None),
        None => {
            let cluster = PgCluster::new();
            (cluster.url(), Some(cluster))
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("octohook_cli_test_{}_{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs.log");
    let exec = format!("echo \"$OCTOHOOK_IDEMPOTENCY_KEY\" >> {}", quoted(&runs));
    let args = [
        "--database-url",
        &url,
        "--database-schema",
        &schema,
        "--out",
        "/dev/null",
        "--exec",
        &exec,
    ];
    let first = Serve::start(&args);
    let second = Serve::start(&args);
    let client = client();
    let deliveries: Vec<TestDelivery> = (0..60)
        .map(|n| {
            TestDelivery::json(
                "issues",
                format!(r#"{{"action":"edited","n":{n}}}"#).into_bytes(),
            )
        })
        .collect();
    let mut sends = tokio::task::JoinSet::new();
    for delivery in &deliveries {
        for url in [first.url(), second.url(), first.url(), second.url()] {
            let (client, delivery) = (client.clone(), delivery.clone());
            sends.spawn(async move { delivery.send(&client, &url).await });
        }
    }
    while let Some(sent) = sends.join_next().await {
        assert_eq!(sent.unwrap().unwrap().0, 200);
    }
    let store = ["--database-url", &url, "--database-schema", &schema];
    let rows = wait_until_finished(&store, deliveries.len());
    first.terminate();
    second.terminate();

    let drop_schema = async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
    };
    let dropped = drop_schema.await;

    let keys: Vec<&str> = rows
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(keys.len(), deliveries.len(), "{keys:?}");
    assert_eq!(unique.len(), keys.len(), "a key stored twice");
    let runs = std::fs::read_to_string(&runs).unwrap();
    let mut ran: Vec<&str> = runs.lines().collect();
    ran.sort_unstable();
    let mut expected: Vec<String> = deliveries.iter().map(key).collect();
    expected.sort_unstable();
    assert_eq!(ran, expected, "each delivery ran exactly once");
    dropped.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_replays_the_signed_delivery_retries_5xx_and_fails_on_4xx() {
    use axum::http::{HeaderMap, StatusCode};

    // The internal service: 503 at the first attempt of each delivery, then 200;
    // 400 for deliveries of the `member` event.
    type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(seen): axum::extract::State<Seen>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let mut seen = seen.lock().unwrap();
                    let guid = headers["x-github-delivery"].clone();
                    let earlier = seen
                        .iter()
                        .filter(|(h, _)| h["x-github-delivery"] == guid)
                        .count();
                    let member = headers["x-github-event"] == "member";
                    seen.push((headers, body.to_vec()));
                    if member {
                        StatusCode::BAD_REQUEST
                    } else if earlier == 0 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap();
    let serve = Serve::start(&[
        "--db",
        db_arg,
        "--out",
        "/dev/null",
        "--forward",
        &target,
        "--retry-backoff",
        "50ms",
    ]);
    let client = client();
    let issue = TestDelivery::form("issues", br#"{"action":"opened","issue":{"number":3}}"#);
    let member = TestDelivery::json("member", br#"{"action":"added"}"#.to_vec());
    for delivery in [&issue, &member] {
        assert_eq!(delivery.send(&client, &serve.url()).await.unwrap().0, 200);
    }
    let rows = wait_until_finished(&["--db", db_arg], 2);
    serve.terminate();
    let row = |delivery: &TestDelivery| {
        rows.iter()
            .find(|row| row["key"] == key(delivery).as_str())
            .unwrap()
            .clone()
    };
    let issue_row = row(&issue);
    assert_eq!(issue_row["status"], "done", "{issue_row}");
    assert_eq!(issue_row["attempts"], 2, "{issue_row}");
    let member_row = row(&member);
    assert_eq!(member_row["status"], "failed", "{member_row}");
    assert_eq!(
        member_row["attempts"], 1,
        "a 4xx is not retried: {member_row}"
    );
    assert!(
        member_row["last_error"]
            .as_str()
            .unwrap()
            .contains("400 Bad Request"),
        "{member_row}"
    );

    // What the service received verifies with the webhook secret, as sent.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let verifier =
        octohook::Verifier::new(octohook::WebhookSecret::new(SECRET).expect("non-empty"));
    for (headers, body) in seen.iter() {
        let verified = verifier
            .verify(headers, bytes::Bytes::copy_from_slice(body))
            .expect("the forwarded delivery verifies");
        let sent = if verified.guid().as_str() == issue.guid() {
            &issue
        } else {
            &member
        };
        assert_eq!(body, sent.body());
        assert_eq!(headers["x-github-hook-id"], "42");
        assert_eq!(headers["user-agent"], "GitHub-Hookshot/test");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_handler_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap();
    let started = dir.path().join("started");
    let finished = dir.path().join("finished");
    let exec = format!(
        "touch {}; sleep 1; touch {}",
        quoted(&started),
        quoted(&finished)
    );
    let serve = Serve::start(&["--db", db_arg, "--out", "/dev/null", "--exec", &exec]);
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    assert_eq!(delivery.send(&client(), &serve.url()).await.unwrap().0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the handler never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    serve.terminate();
    assert!(
        finished.exists(),
        "serve exited before its handler finished"
    );
    let rows = stored(&["--db", db_arg]);
    assert_eq!(rows[0]["status"], "done", "{rows:#?}");
}

/// What an `--exec` child saw: its parent's id, its parent's initial environment
/// (`/proc/$PPID/environ`) and its own.
struct ChildView {
    parent: u32,
    parent_environ: String,
    own_environ: String,
}

/// An `--exec` command that records what its child sees in `dir`, then succeeds.
fn environ_probe(dir: &Path) -> String {
    let dir = quoted(dir);
    format!(
        "echo $PPID > {dir}/ppid && tr '\\0' '\\n' < /proc/$PPID/environ > {dir}/parent && env > {dir}/own"
    )
}

/// Waits for what [`environ_probe`] writes.
async fn child_view(dir: &Path) -> ChildView {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("own").exists() {
        assert!(Instant::now() < deadline, "the --exec command did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    ChildView {
        parent: read("ppid").trim().parse().unwrap(),
        parent_environ: read("parent"),
        own_environ: read("own"),
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_child_finds_the_secret_neither_in_its_environment_nor_in_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let probe = dir.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    let serve = Serve::start(&[
        "--db",
        db.to_str().unwrap(),
        "--out",
        "/dev/null",
        "--exec",
        &environ_probe(&probe),
    ]);
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    // Verification still works with the secret passed on outside the environment.
    delivery
        .expect_accepted(&client(), &serve.url())
        .await
        .unwrap();
    let forged = delivery.clone().signed_with("not the secret");
    assert_eq!(forged.send(&client(), &serve.url()).await.unwrap().0, 401);

    let seen = child_view(&probe).await;
    // The parent is the process the test started: the restart replaced it
    // rather than leaving a second octohook process behind.
    assert_eq!(seen.parent, serve.id());
    // What was read is real: the parent's other variables, the child's own.
    assert!(
        seen.parent_environ.contains("OCTOHOOK_LOG=info"),
        "{}",
        seen.parent_environ
    );
    assert!(
        seen.own_environ.contains("OCTOHOOK_EVENT=push"),
        "{}",
        seen.own_environ
    );
    for environ in [&seen.parent_environ, &seen.own_environ] {
        assert!(!environ.contains("GITHUB_WEBHOOK_SECRET"), "{environ}");
        assert!(!environ.contains(SECRET), "{environ}");
    }
    let rows = wait_until_finished(&["--db", db.to_str().unwrap()], 1);
    assert_eq!(rows[0]["status"], "done", "{rows:#?}");
    serve.terminate();
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_url_from_the_environment_is_used_but_not_left_in_it() {
    let cluster = PgCluster::new();
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    let mut command = Command::new(BIN);
    command.env("OCTOHOOK_DATABASE_URL", &url);
    let serve = Serve::start_with(
        command,
        &[
            "--database-schema",
            "from_env",
            "--out",
            "/dev/null",
            "--exec",
            &environ_probe(&probe),
        ],
    );
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    delivery
        .expect_accepted(&client(), &serve.url())
        .await
        .unwrap();
    let seen = child_view(&probe).await;
    assert_eq!(seen.parent, serve.id());
    assert!(seen.parent_environ.contains("OCTOHOOK_LOG=info"));
    for environ in [&seen.parent_environ, &seen.own_environ] {
        assert!(!environ.contains("OCTOHOOK_DATABASE_URL"), "{environ}");
        assert!(!environ.contains(&url), "{environ}");
        assert!(!environ.contains(SECRET), "{environ}");
    }
    serve.terminate();
    // The receiver did use the URL (and the schema) of the environment.
    let store = [
        "--database-url",
        url.as_str(),
        "--database-schema",
        "from_env",
    ];
    let rows = wait_until_finished(&store, 1);
    assert_eq!(rows[0]["guid"], delivery.guid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_list_and_show_run_no_ddl_on_postgresql() {
    let cluster = PgCluster::new();
    let url = cluster.url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let objects = || async {
        client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'octohook%') \
                 + (SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'inspect')",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("inbox")
            .args(args)
            .args(["--database-url", &url])
            .env_remove("OCTOHOOK_DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &["list"][..],
        &["show", "1"],
        &["list", "--database-schema", "inspect"],
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not an octohook delivery store"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(objects().await, 0, "inspection created tables or a schema");

    // Once a receiver has created the tables, inspection reads them.
    let store = octohook_inbox::PostgresStore::connect(&url).await.unwrap();
    let key = octohook_inbox::DeliveryKey::new(None, "a1".parse().unwrap());
    octohook_inbox::DeliveryStore::insert(
        &store,
        octohook_inbox::NewDelivery::new(key, octohook::EventKind::Ping, "{}"),
    )
    .await
    .unwrap();
    let listed = run(&["list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ping"));
    let shown = run(&["show", "-:a1"]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
}
