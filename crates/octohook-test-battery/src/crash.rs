//! The `kill -9` test of a durable receiver: a load that retries until it gets a
//! 2xx (as GitHub's redelivery would), several SIGKILLs while it runs, and the
//! check that every acknowledged delivery was processed at least once and stored
//! once.

use std::path::{Path, PathBuf};
use std::process::Command;
// The crash check itself reads the receiver's SQLite inbox.
#[cfg(feature = "inbox")]
use std::collections::{BTreeMap, BTreeSet};
#[cfg(feature = "inbox")]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(feature = "inbox")]
use std::sync::{Arc, Mutex, RwLock};
#[cfg(feature = "inbox")]
use std::time::{Duration, Instant};

#[cfg(feature = "inbox")]
use crate::{ReceiverProcess, TestDelivery};

/// A SQLite path in the temporary directory, removed (with its `-wal` and
/// `-shm` files and its body log directory) when dropped.
#[derive(Debug)]
pub struct TempDb {
    path: PathBuf,
    text: String,
}

impl TempDb {
    /// A fresh path; no file is created.
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("octohook-battery-{}.db", uuid::Uuid::new_v4()));
        let text = path
            .to_str()
            .expect("a UTF-8 temporary directory")
            .to_owned();
        Self { path, text }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as text, for an environment variable or argument.
    pub fn path_str(&self) -> &str {
        &self.text
    }
}

impl Default for TempDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.text));
        }
        // The body log, next to the database.
        let _ = std::fs::remove_dir_all(format!("{}-bodies", self.text));
    }
}

impl std::fmt::Debug for CrashSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashSubject")
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

/// Where the receiver under a crash test writes its JSON lines.
#[derive(Debug)]
pub enum Lines {
    /// On standard output.
    Stdout,
    /// Appended to this file (`octohook serve --out`).
    File(PathBuf),
}

/// A receiver to crash: how to start it on the inbox at `db`, and where it
/// writes a line per processed delivery.
pub struct CrashSubject {
    /// Builds the command of one run of the receiver, given the inbox path (it
    /// gets `GITHUB_WEBHOOK_SECRET` and `OCTOHOOK_BIND=127.0.0.1:0` too, and must
    /// print `listening on http://ADDRESS/` on standard error).
    pub command: Box<dyn Fn(&str) -> Command + Send + Sync>,
    /// Where its lines go.
    pub lines: Lines,
}

/// What a crash run saw.
#[derive(Debug)]
pub struct CrashReport {
    /// Deliveries posted (duplicates included).
    pub posts: usize,
    /// Distinct (hook, GUID) among them.
    pub unique: usize,
    /// SIGKILLs sent.
    pub kills: usize,
    /// Requests that got no 2xx (503, or no answer from a killed receiver) and
    /// were sent again.
    pub retried: usize,
    /// Deliveries written more than once (allowed: at least once).
    pub written_twice: usize,
}

#[cfg(feature = "inbox")]
/// Posts `unique` deliveries (and a duplicate of every fourth) over 8
/// connections that retry each until it is answered 2xx, kills the receiver
/// with SIGKILL `kills` times while they run (restarting it at once on the same
/// inbox), then checks that every delivery was answered 2xx, that each appears
/// in the lines at least once, and that the inbox at `db` holds each exactly
/// once.
///
/// # Panics
/// On any failure.
pub async fn check_crash_safety(
    subject: &CrashSubject,
    unique: usize,
    kills: usize,
) -> CrashReport {
    const CONNECTIONS: usize = 8;
    let db = TempDb::new();
    let mut posts = Vec::new();
    for n in 0..unique {
        let body = format!(
            r#"{{"action":"opened","issue":{{"id":{n},"number":{n}}},"pad":"{}"}}"#,
            "x".repeat(256)
        );
        posts.push(TestDelivery::json("issues", body.into_bytes()));
        if n % 4 == 3 {
            posts.push(posts[posts.len() - 3].clone());
        }
    }
    let total = posts.len();
    let guids: BTreeSet<String> = posts.iter().map(|post| post.guid().to_owned()).collect();
    assert_eq!(guids.len(), unique);
    posts.reverse(); // Popped from the end: posted in order.

    let collected = Arc::new(Mutex::new(Vec::new()));
    let start = || {
        let process = ReceiverProcess::spawn(&mut (subject.command)(db.path_str()), "the receiver");
        if let Lines::Stdout = subject.lines {
            let collected = Arc::clone(&collected);
            let stdout = process.take_lines();
            std::thread::spawn(move || {
                for line in stdout {
                    collected.lock().unwrap().push(line);
                }
            });
        }
        process
    };
    let mut receiver = start();
    let url = Arc::new(RwLock::new(format!("http://{}/", receiver.address())));
    let queue = Arc::new(Mutex::new(posts));
    let answered = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (url, queue) = (Arc::clone(&url), Arc::clone(&queue));
        let (answered, retried) = (Arc::clone(&answered), Arc::clone(&retried));
        tasks.spawn(async move {
            let client = crate::http_client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client");
            loop {
                let Some(delivery) = queue.lock().unwrap().pop() else {
                    return;
                };
                loop {
                    let target = url.read().unwrap().clone();
                    match delivery.send(&client, &target).await {
                        Ok((200..=299, _)) => break,
                        Ok((503, _)) | Err(_) => {}
                        Ok((status, body)) => panic!("answered {status}: {body}"),
                    }
                    retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    for kill in 1..=kills {
        let deadline = Instant::now() + Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < total * kill / (kills + 1) {
            assert!(Instant::now() < deadline, "the load is stuck");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        receiver.kill();
        receiver = start();
        *url.write().unwrap() = format!("http://{}/", receiver.address());
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("a sender panicked");
    }

    // Wait until every delivery has been written (the workers catch up with
    // what the killed runs left), then stop.
    let read_lines = || match &subject.lines {
        Lines::Stdout => collected.lock().unwrap().clone(),
        Lines::File(path) => std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect(),
    };
    // A delivery being handled when its receiver was killed stays claimed until
    // its lease expires (60 s by default; give the receiver a shorter one).
    let deadline = Instant::now() + Duration::from_secs(90);
    let written = loop {
        let mut written = BTreeMap::<String, usize>::new();
        for line in read_lines() {
            let record: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("a torn or invalid line ({error}): {line}"));
            *written
                .entry(record["delivery"].as_str().expect("a GUID").to_owned())
                .or_default() += 1;
        }
        if guids.iter().all(|guid| written.contains_key(guid)) || Instant::now() > deadline {
            break written;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    receiver.kill();
    let missing: Vec<&String> = guids
        .iter()
        .filter(|guid| !written.contains_key(*guid))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged deliveries never written: {missing:?}",
        missing.len()
    );

    let stored = stored_guids(db.path()).await;
    let mut counts = BTreeMap::<&str, usize>::new();
    for guid in &stored {
        *counts.entry(guid.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|&(_, &count)| count > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    assert_eq!(
        counts
            .keys()
            .map(|guid| (*guid).to_owned())
            .collect::<BTreeSet<_>>(),
        guids
    );

    let report = CrashReport {
        posts: total,
        unique,
        kills,
        retried: retried.load(Ordering::Relaxed),
        written_twice: written.values().filter(|&&count| count > 1).count(),
    };
    eprintln!("crash test: {report:?}");
    report
}

#[cfg(feature = "inbox")]
/// [`check_crash_safety`] for a receiver binary that takes its inbox from
/// `OCTOHOOK_DB` and prints its lines on standard output (the inbox examples):
/// 300 deliveries, four SIGKILLs.
///
/// # Panics
/// On any failure.
pub async fn check_program_crash_safety(program: &'static str) -> CrashReport {
    let subject = CrashSubject {
        command: Box::new(move |db| {
            let mut command = Command::new(program);
            command.env("OCTOHOOK_DB", db);
            command
        }),
        lines: Lines::Stdout,
    };
    check_crash_safety(&subject, 300, 4).await
}

#[cfg(feature = "inbox")]
/// The GUIDs of every row of the SQLite inbox at `path`.
async fn stored_guids(path: &Path) -> Vec<String> {
    use octohook_inbox::{DeliveryStore, ListQuery, SqliteOptions, SqliteStore};
    let store = SqliteStore::open_with(path, SqliteOptions::default().read_only(true))
        .await
        .expect("the inbox opens");
    let mut guids = Vec::new();
    let mut query = ListQuery::default().limit(500);
    loop {
        let page = store.list(&query).await.expect("the inbox lists");
        let Some(last) = page.last() else { break };
        query.before_id = Some(last.id);
        guids.extend(page.iter().map(|row| row.key.guid.as_str().to_owned()));
    }
    guids
}
