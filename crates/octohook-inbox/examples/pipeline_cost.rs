//! Measures what one delivery costs the whole pipeline: stored by an
//! [`Inbox`] from many concurrent senders, then claimed and finished by a pool
//! of workers, on SQLite (`synchronous=FULL`) and PostgreSQL.
//!
//! ```text
//! cargo run --release -p octohook-inbox --all-features --example pipeline_cost -- [COUNT] [SENDERS] [WORKERS]
//! ```
//!
//! COUNT (default 4000) deliveries of 8 KiB are sent by SENDERS (default 64)
//! tasks, and processed by WORKERS (default 8) workers whose handler does
//! nothing. For each store it prints the deliveries per second (received and
//! processed), the process's CPU time per delivery and, for SQLite, the bytes
//! and write calls the process made per delivery (`/proc/self/io`). Run it
//! under `strace -f -y -e trace=pwrite64,fdatasync,fsync` to split the writes
//! between the log and the database file and to count the syncs.
//!
//! PostgreSQL is measured when `OCTOHOOK_TEST_DATABASE_URL` is set or a server
//! answers at `postgres://postgres@127.0.0.1:5432/test`: in a database of its
//! own (created and dropped), whose committed transactions per delivery it
//! prints (`pg_stat_database.xact_commit`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use octohook::EventKind;
use octohook_inbox::{
    AttemptError, DeliveryKey, DeliveryStore, Inbox, NewDelivery, PostgresOptions, PostgresStore,
    SqliteStore, StoredDelivery, WorkerConfig,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(4000), |arg| arg.parse())?;
    let senders: usize = args.next().map_or(Ok(64), |arg| arg.parse())?;
    let workers: usize = args.next().map_or(Ok(8), |arg| arg.parse())?;
    println!("{count} deliveries of 8 KiB from {senders} senders, {workers} workers");

    let dir = std::env::temp_dir().join(format!("octohook-pipeline-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(dir.join("inbox.db")).await?;
    let io_before = proc_io();
    measure("sqlite (FULL)", Arc::new(store), count, senders, workers).await?;
    let io_after = proc_io();
    if let (Some(before), Some(after)) = (io_before, io_after) {
        println!(
            "  {:.0} bytes and {:.1} write calls per delivery (/proc/self/io)",
            (after.0 - before.0) as f64 / count as f64,
            (after.1 - before.1) as f64 / count as f64,
        );
    }
    std::fs::remove_dir_all(&dir)?;

    let url = std::env::var("OCTOHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let Ok((admin, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await else {
        println!("postgres: skipped (no server at {url})");
        return Ok(());
    };
    tokio::spawn(connection);
    let database = format!("octohook_pipeline_cost_{}", std::process::id());
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await?;
    let own_url = replace_database(&url, &database);
    let result = async {
        let store =
            PostgresStore::connect_with(&own_url, PostgresOptions::default().pool_size(16)).await?;
        let (stats, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let before = commits(&stats, &database).await?;
        measure("postgres", Arc::new(store), count, senders, workers).await?;
        let after = commits(&stats, &database).await?;
        println!(
            "  {:.2} committed transactions per delivery (pg_stat_database)",
            (after - before) as f64 / count as f64
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    admin
        .batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .await?;
    result
}

/// Sends `count` deliveries through an inbox over `store` while a pool of
/// `workers` processes them; prints the rates and the CPU time per delivery.
async fn measure(
    name: &str,
    store: Arc<dyn DeliveryStore>,
    count: usize,
    senders: usize,
    workers: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let inbox = Inbox::from_shared(store);
    let processing = inbox.process(
        |_: StoredDelivery| async { Ok::<(), AttemptError>(()) },
        workers,
        WorkerConfig::new("pipeline-cost").poll_interval(Duration::from_millis(50)),
    );
    let body = bytes::Bytes::from(vec![b' '; 8 * 1024]);
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..senders {
        let (inbox, body) = (inbox.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for n in (task..count).step_by(senders) {
                let guid = format!("0b989ba4-242f-11e5-81e1-{n:012}");
                let key = DeliveryKey::new(Some(42.into()), guid.parse().unwrap());
                inbox
                    .insert(NewDelivery::new(key, EventKind::Push, body.clone()))
                    .await?;
            }
            Ok::<(), octohook_inbox::StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let received = started.elapsed();
    loop {
        if inbox.counts().await?.done as usize >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let processed = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    processing.drain(Duration::from_secs(5)).await;
    println!(
        "{name:<14} received {:>7.0}/s, processed {:>7.0}/s, CPU {} per delivery",
        count as f64 / received.as_secs_f64(),
        count as f64 / processed.as_secs_f64(),
        cpu.map_or("?".to_owned(), |cpu| format!(
            "{:.0} µs",
            cpu.as_secs_f64() * 1e6 / count as f64
        )),
    );
    Ok(())
}

/// The process's user and system CPU time (`/proc/self/stat`, in clock ticks
/// of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Bytes written and write calls made by the process (`/proc/self/io`).
fn proc_io() -> Option<(u64, u64)> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |name: &str| {
        io.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    Some((field("wchar:")?, field("syscw:")?))
}

fn replace_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((server, _)) if url.contains("://") => format!("{server}/{database}"),
        _ => format!("{url} dbname={database}"),
    }
}

/// The transactions committed in `database` so far.
async fn commits(
    client: &tokio_postgres::Client,
    database: &str,
) -> Result<i64, tokio_postgres::Error> {
    // Backends publish their counters when idle, within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
            &[&database],
        )
        .await?;
    Ok(row.get(0))
}
