//! Measures how many deliveries per second each store accepts, and what a
//! duplicate costs.
//!
//! ```text
//! cargo run --release -p octohook-inbox --example insert_rate -- [CONCURRENCY] [COUNT]
//! ```
//!
//! It inserts COUNT (default 4000) deliveries with 8 KiB bodies from CONCURRENCY
//! (default 32) tasks into each store, then inserts them all again (every one a
//! duplicate), and prints the rate and the p50/p99 latency of each pass. The
//! PostgreSQL store is measured when `OCTOHOOK_TEST_DATABASE_URL` is set or a
//! server answers at `postgres://postgres@127.0.0.1:5432/test`; it works in a
//! schema of its own, dropped at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use octohook::EventKind;
use octohook_inbox::{
    DeliveryKey, DeliveryStore, MemoryStore, NewDelivery, PostgresOptions, PostgresStore,
    SqliteOptions, SqliteStore, Synchronous,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let concurrency: usize = args.next().map_or(Ok(32), |arg| arg.parse())?;
    let count: usize = args.next().map_or(Ok(4000), |arg| arg.parse())?;
    let body = bytes::Bytes::from(vec![b' '; 8 * 1024]);
    println!("{count} deliveries of 8 KiB from {concurrency} tasks");

    measure(
        "memory",
        Arc::new(MemoryStore::new()),
        concurrency,
        count,
        &body,
    )
    .await?;
    let dir = std::env::temp_dir().join(format!("octohook-insert-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (name, level) in [
        ("sqlite (synchronous=FULL)", Synchronous::Full),
        ("sqlite (synchronous=NORMAL)", Synchronous::Normal),
    ] {
        let path = dir.join(format!("{level:?}.db"));
        let store =
            SqliteStore::open_with(&path, SqliteOptions::default().synchronous(level)).await?;
        measure(name, Arc::new(store), concurrency, count, &body).await?;
    }
    std::fs::remove_dir_all(&dir)?;

    let url = std::env::var("OCTOHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("octohook_insert_rate_{}", std::process::id());
    let options = PostgresOptions::default()
        .schema(schema.clone())
        .pool_size(concurrency.min(32));
    match PostgresStore::connect_with(&url, options).await {
        Ok(store) => {
            measure("postgres", Arc::new(store), concurrency, count, &body).await?;
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .await?;
        }
        Err(error) => println!("postgres: skipped ({error})"),
    }
    Ok(())
}

async fn measure(
    name: &str,
    store: Arc<dyn DeliveryStore>,
    concurrency: usize,
    count: usize,
    body: &bytes::Bytes,
) -> Result<(), Box<dyn std::error::Error>> {
    for pass in ["new", "duplicate"] {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..concurrency {
            let store = Arc::clone(&store);
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (task..count).step_by(concurrency) {
                    let guid = format!("0b989ba4-242f-11e5-81e1-{n:012}");
                    let key = DeliveryKey::new(Some(42.into()), guid.parse().unwrap());
                    let delivery = NewDelivery::new(key, EventKind::Push, body.clone());
                    let sent = Instant::now();
                    store.insert(delivery).await?;
                    latencies.push(sent.elapsed());
                }
                Ok::<_, octohook_inbox::StoreError>(latencies)
            }));
        }
        let mut latencies: Vec<Duration> = Vec::with_capacity(count);
        for task in tasks {
            latencies.extend(task.await??);
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
        println!(
            "{name:<28} {pass:<9} {:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            count as f64 / elapsed.as_secs_f64(),
            percentile(50).as_secs_f64() * 1000.0,
            percentile(99).as_secs_f64() * 1000.0,
        );
    }
    Ok(())
}
