//! [`PostgresStore`]: the store for receivers running on several machines.
//!
//! - `tls`: libpq's `sslmode` over rustls ([`SslMode`]).
//! - `conninfo`: the TLS parameters of a connection string, which
//!   tokio-postgres does not read itself.
//! - `listen`: the connection that `LISTEN`s for new deliveries and wakes the
//!   workers.

mod conninfo;
mod listen;
mod tls;

use std::collections::{HashMap, HashSet};
use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio::sync::Notify;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

pub use tls::{SslMode, UnknownSslMode};

use listen::Listener;
use tls::{MakeRustls, Roots};

use crate::schema_version;
use crate::sql_row::{self, RowParts, headers_to_json};
use crate::store::StoreFuture;
use crate::{
    Claim, Claimed, Completion, DeliveryKey, DeliveryStatus, DeliveryStore, Finish, Inserted,
    ListQuery, NewDelivery, PurgeQuery, StatusCounts, StoreError, StoredDelivery, StoredDeliveryId,
};

/// The schema migrations, applied in order at connect time; each runs once.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        include_str!("../migrations/postgres/0001_deliveries.sql"),
    ),
    (
        2,
        include_str!("../migrations/postgres/0002_no_hook_id.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_notify.sql")),
    (
        4,
        include_str!("../migrations/postgres/0004_notify_per_statement.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_pulled.sql")),
    (
        6,
        include_str!("../migrations/postgres/0006_trace_parent.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_lz4_bodies.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_notify_pending_only.sql"),
    ),
];

/// Serializes concurrent migrations (several receivers starting at once):
/// `pg_advisory_xact_lock` key, "octohook" in ASCII.
const MIGRATION_LOCK: i64 = 0x6f63_746f_686f_6f6b;

const COLUMNS: &str = "d.id, CASE WHEN d.has_hook_id THEN d.hook_id END, d.guid, d.event, d.action, d.content_type, d.headers, \
     d.body, d.received_at, d.status, d.attempts, d.claim_seq, d.due_at, d.lease_owner, \
     d.last_error, d.updated_at, d.trace_parent, d.origin";

/// How [`PostgresStore::connect_with`] connects.
///
/// The TLS settings made here take precedence over the connection string's
/// `sslmode` and `sslrootcert`.
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::{PostgresOptions, SslMode};
///
/// let options = PostgresOptions::default()
///     .schema("octohook")
///     .pool_size(8)
///     .timeout(Duration::from_secs(3))
///     .ssl_mode(SslMode::VerifyFull)
///     .ssl_root_cert("/etc/octohook/db-ca.pem");
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresOptions {
    schema: Option<String>,
    pool_size: usize,
    timeout: Duration,
    read_only: bool,
    ssl_mode: Option<SslMode>,
    roots: Option<Roots>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: None,
            pool_size: 16,
            timeout: Duration::from_secs(5),
            read_only: false,
            ssl_mode: None,
            roots: None,
        }
    }
}

impl PostgresOptions {
    /// Keeps the tables in this schema (created when missing) instead of the
    /// connection's default search path. The name must be a plain lowercase
    /// identifier (`[a-z_][a-z0-9_]*`).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The most connections kept open (16 by default).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long one operation may take, waiting for a connection included, before
    /// it fails with [`StoreError::Unavailable`] (5 s by default, under GitHub's
    /// 10 s delivery timeout). Also the connect timeout, unless the URL sets one.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects read-only (for inspection): no DDL runs (no schema is created, no
    /// migration applied), every transaction is `READ ONLY`
    /// (`default_transaction_read_only`, so the server refuses any write), and
    /// connecting fails with [`StoreError::NotAnInbox`] unless the tables exist at
    /// the current schema version.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether and how connections use TLS (see [`SslMode`]), instead of the
    /// connection string's `sslmode` (`prefer` when it has none).
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Trusts the certificates in this PEM file (and no others) to check the
    /// server's, instead of the connection string's `sslrootcert` or the
    /// built-in roots.
    pub fn ssl_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots = Some(Roots::File(path.into()));
        self
    }

    /// Makes TLS connections with this rustls configuration, whose verifier
    /// then alone decides which certificates are good (`verify-ca` and
    /// `verify-full` no longer differ), and which may carry a client
    /// certificate. The `sslmode` still decides whether TLS is used or required.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.roots = Some(Roots::Config(config));
        self
    }
}

/// A store in a PostgreSQL database, shared by receivers and workers on any
/// number of machines.
///
/// - Deduplication is a unique key on (`hook_id`, `has_hook_id`, `guid`) with
///   `INSERT ... ON CONFLICT DO NOTHING`: concurrent inserts of one key, from any
///   machine, store it once.
/// - Claims lock the next due row with `FOR UPDATE SKIP LOCKED`, so workers never
///   wait for one another and never get the same delivery at once.
/// - Due times, leases and ages are computed with the server's clock.
/// - The schema is created and migrated at connect time (`CREATE ... IF NOT
///   EXISTS`, versions in `octohook_schema`, under an advisory lock).
/// - An insert returns once PostgreSQL has committed it; with the server's
///   default `synchronous_commit = on` that means flushed to its write-ahead log.
/// - An insert is one statement, so one round trip, duplicate or not: the
///   insert, and the id of the row already under the key, in one query. The
///   body crosses the network once.
///
/// # TLS
///
/// Through rustls (with the *ring* provider; no OpenSSL), as libpq's `sslmode`
/// says: from the connection string, or from
/// [`PostgresOptions::ssl_mode`], which wins. `prefer` is the default.
///
/// | `sslmode` | encrypted | server certificate |
/// | --- | --- | --- |
/// | `disable` | no | - |
/// | `prefer` | when the server accepts TLS | not checked |
/// | `require` | yes | not checked; with `sslrootcert`, checked as `verify-ca` (as libpq does) |
/// | `verify-ca` | yes | chain to a trusted root, any host name |
/// | `verify-full` | yes | chain to a trusted root, and names the host |
///
/// Over a Unix socket no TLS is used, whatever the mode (as libpq does).
///
/// The trusted roots are, in order of precedence: a rustls `ClientConfig` of
/// your own ([`PostgresOptions::tls_config`], whose verifier then decides
/// alone), a PEM file ([`PostgresOptions::ssl_root_cert`] or
/// `sslrootcert=PATH`), or else Mozilla's roots compiled in (`webpki-roots`:
/// the same in every container image, with or without `/etc/ssl`, and the set
/// the `forward` handler's HTTP client trusts). Unlike libpq, no
/// `~/.postgresql/root.crt` and no `PGSSLMODE`/`PGSSLROOTCERT` variables are
/// read. The host name checked is the `host` parameter, even when `hostaddr`
/// gives the address to connect to:
///
/// ```text
/// postgres://octohook@db.internal:5432/inbox?sslmode=verify-full&sslrootcert=/etc/octohook/db-ca.pem
/// host=db.internal hostaddr=10.0.0.7 dbname=inbox user=octohook sslmode=verify-full sslrootcert=/etc/octohook/db-ca.pem
/// ```
///
/// A refused certificate fails with [`StoreError::Tls`], saying whether the
/// chain or the host name was wrong ([`TlsError`](crate::TlsError)). SCRAM
/// authentication over TLS is bound to the server's certificate
/// (`SCRAM-SHA-256-PLUS`) when the server offers it. [`tls_version`](Self::tls_version)
/// tells whether the server sees an encrypted session.
///
/// # Waking workers: `LISTEN`/`NOTIFY`
///
/// Triggers (migrations 3 and 4) send `NOTIFY octohook_deliveries` (with the
/// schema as the payload) when a statement inserts deliveries (once per
/// statement, however many rows it stores) or a delivery is requeued; PostgreSQL sends it
/// on commit, and never for a transaction rolled back. From its first
/// [`claim`](DeliveryStore::claim), the store keeps one more connection that
/// `LISTEN`s, and hands each notification for its schema to
/// [`wakeups`](DeliveryStore::wakeups): an idle worker on any machine claims a
/// delivery received by any other within milliseconds, whatever its
/// [poll interval](crate::WorkerConfig::poll_interval). Polling stays the
/// fallback (retries coming due, expired leases); the listening connection is
/// checked every 30 s and reconnected (with a backoff up to 30 s) when lost,
/// waking a worker each time it is back. Through a connection pooler, it needs
/// session pooling (`LISTEN` does not work in transaction pooling).
///
/// Errors and `Debug` output never include the connection URL or password.
pub struct PostgresStore {
    pool: Pool,
    schema: Option<String>,
    timeout: Duration,
    /// How to open the listening connection (holds the password: not `Debug`).
    connect: (tokio_postgres::Config, MakeRustls),
    wakeup: Arc<Notify>,
    /// Started at the first claim: a store only inserting needs none.
    listener: OnceLock<Listener>,
    /// Held while counting: concurrent counts wait for each other rather than
    /// take the connections inserts need.
    counting: tokio::sync::Mutex<()>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .field("listening", &self.listener.get().is_some())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/database`
    /// or a `key=value` connection string) with the default
    /// [`PostgresOptions`], and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to the database at `url` with `options`.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let split = conninfo::split(url)?;
        let mut config: tokio_postgres::Config = split
            .rest
            .parse()
            .map_err(|error| StoreError::Config(format!("invalid database URL: {error}")))?;
        let mode = options.ssl_mode.or(split.ssl.mode).unwrap_or_default();
        let roots = options
            .roots
            .clone()
            .or(split.ssl.root_cert.map(Roots::File))
            .unwrap_or(Roots::Mozilla);
        let tls = MakeRustls::new(tls::client_config(mode, &roots)?);
        // As libpq: no TLS over Unix sockets, whatever the mode.
        let unix_only = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|host| !matches!(host, tokio_postgres::config::Host::Tcp(_)));
        config.ssl_mode(match mode {
            _ if unix_only => tokio_postgres::config::SslMode::Disable,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        // Every statement is planned for its own parameters and the table as
        // it is now. A cached generic plan is made once, when the table may
        // still be empty: then a batch's key lookup becomes a sequential scan
        // joined by hash, and the finishing update a scan of every claimable
        // row, costs that grow with the table until autovacuum happens to
        // invalidate the plan. Planning each batch costs about 0.1 ms of the
        // server's time, shared by the batch's deliveries.
        let mut settings = vec!["-c plan_cache_mode=force_custom_plan".to_owned()];
        if let Some(schema) = &options.schema {
            if !is_identifier(schema) {
                return Err(StoreError::Config(format!(
                    "schema {schema:?} is not a plain lowercase identifier"
                )));
            }
            settings.push(format!("-c search_path={schema}"));
        }
        if options.read_only {
            settings.push("-c default_transaction_read_only=on".to_owned());
        }
        let joined = match config.get_options() {
            Some(existing) if !existing.is_empty() => {
                format!("{existing} {}", settings.join(" "))
            }
            _ => settings.join(" "),
        };
        config.options(&joined);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .build()
            .map_err(|error| StoreError::Config(format!("cannot build the pool: {error}")))?;
        let store = Self {
            pool,
            schema: options.schema,
            timeout: options.timeout,
            connect: (config, tls),
            wakeup: Arc::new(Notify::new()),
            listener: OnceLock::new(),
            counting: tokio::sync::Mutex::new(()),
        };
        if options.read_only {
            store.check_schema().await?;
        } else {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Checks, without DDL, that the tables exist at the schema version this build
    /// uses.
    async fn check_schema(&self) -> Result<(), StoreError> {
        self.timed(async {
            let client = self.client().await?;
            let tables: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM pg_catalog.pg_tables \
                     WHERE schemaname = current_schema() \
                     AND tablename IN ('octohook_schema', 'octohook_deliveries')",
                    &[],
                )
                .await
                .and_then(|row| row.try_get(0))
                .map_err(classify)?;
            if tables != 2 {
                return Err(StoreError::NotAnInbox(
                    "the database's current schema has no octohook_schema and octohook_deliveries tables"
                        .to_owned(),
                ));
            }
            let found: i32 = client
                .query_one(schema_version::SELECT_VERSION, &[])
                .await
                .and_then(|row| row.try_get(0))
                .map_err(classify)?;
            schema_version::exactly(
                found.into(),
                schema_version::latest(MIGRATIONS),
                "connect read-write once to migrate them",
            )
        })
        .await
    }

    /// Creates the schema when asked for one, and applies the migrations the
    /// database has not seen, in one transaction.
    async fn migrate(&self) -> Result<(), StoreError> {
        let schema = self.schema.clone();
        self.timed(async move {
            let mut client = self.client().await?;
            let transaction = client.transaction().await.map_err(classify)?;
            let migrated = async {
                transaction
                    .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                    .await
                    .map_err(classify)?;
                if let Some(schema) = &schema {
                    // Checked by `is_identifier`: safe to splice.
                    transaction
                        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                        .await
                        .map_err(classify)?;
                }
                transaction
                    .batch_execute(
                        "CREATE TABLE IF NOT EXISTS octohook_schema (version INTEGER NOT NULL)",
                    )
                    .await
                    .map_err(classify)?;
                let found: i32 = transaction
                    .query_one(schema_version::SELECT_VERSION, &[])
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(classify)?;
                schema_version::not_newer(found.into(), schema_version::latest(MIGRATIONS))?;
                let mut reached = found;
                for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > found) {
                    transaction.batch_execute(sql).await.map_err(classify)?;
                    transaction
                        .execute(
                            "INSERT INTO octohook_schema (version) VALUES ($1)",
                            &[version],
                        )
                        .await
                        .map_err(classify)?;
                    reached = *version;
                }
                Ok((found, reached))
            }
            .await;
            match migrated {
                Ok((found, reached)) => {
                    transaction.commit().await.map_err(classify)?;
                    if reached > found {
                        // One line, once committed: a new schema goes through
                        // every version.
                        tracing::info!(
                            from = found,
                            to = reached,
                            "migrated the PostgreSQL delivery store"
                        );
                    }
                    Ok(())
                }
                Err(error) => {
                    // Release the advisory lock now, not when the pool recycles.
                    let _ = transaction.rollback().await;
                    Err(error)
                }
            }
        })
        .await
    }

    /// The TLS protocol version of a pooled connection as the server reports it
    /// (`pg_stat_ssl`), such as `TLSv1.3`; `None` when the connection is plain
    /// text.
    pub async fn tls_version(&self) -> Result<Option<String>, StoreError> {
        let rows = self
            .query(
                "SELECT version FROM pg_catalog.pg_stat_ssl \
                 WHERE pid = pg_catalog.pg_backend_pid() AND ssl",
                &[],
            )
            .await?;
        rows.first()
            .map(|row| row.try_get(0).map_err(classify))
            .transpose()
    }

    /// Starts the listening connection, unless it runs already.
    fn listen(&self) {
        self.listener.get_or_init(|| {
            let (config, tls) = self.connect.clone();
            Listener::start(config, tls, self.timeout, Arc::clone(&self.wakeup))
        });
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs `operation` within the store's timeout.
    async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "the database did not answer within {:?}",
                    self.timeout
                )))
            })
    }

    /// Runs one statement and returns its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await.map_err(classify)?;
            client.query(&statement, params).await.map_err(classify)
        })
        .await
    }

    /// Runs one statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await.map_err(classify)?;
            client.execute(&statement, params).await.map_err(classify)
        })
        .await
    }

    /// Claims up to `limit` due deliveries for `worker`, in one statement.
    async fn claim_some(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        // A worker is about: from now on, relay the database's wake-ups.
        self.listen();
        let sql = format!(
            "WITH next AS ( \
               SELECT id FROM octohook_deliveries \
               WHERE status IN ('pending', 'processing') AND due_at <= clock_timestamp() \
               ORDER BY due_at, id LIMIT $3 \
               FOR UPDATE SKIP LOCKED) \
             UPDATE octohook_deliveries AS d SET status = 'processing', \
               attempts = d.attempts + 1, claim_seq = d.claim_seq + 1, lease_owner = $1, \
               due_at = clock_timestamp() + $2::float8 * interval '1 millisecond', \
               updated_at = clock_timestamp() \
             FROM next WHERE d.id = next.id \
             RETURNING {COLUMNS}"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(&sql, &[&worker, &millis(lease), &limit]).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let (delivery, seq) = read_row(row)?.into_delivery()?;
            let lease_until = delivery
                .lease
                .as_ref()
                .map_or_else(SystemTime::now, |lease| lease.until);
            let claim = Claim {
                id: delivery.id,
                seq,
                key: delivery.key.clone(),
                worker: worker.to_owned(),
                lease_until,
            };
            claimed.push(Claimed { delivery, claim });
        }
        claimed.sort_by_key(|claimed| claimed.claim.id);
        Ok(claimed)
    }

    /// [`DeliveryStore::insert_batch`]: one statement in the usual case.
    ///
    /// With `claim` (a worker, its lease, and how many), each of the first
    /// deliveries that is new is stored claimed by that worker, as
    /// [`DeliveryStore::insert_and_claim_batch`] says.
    async fn insert_many(
        &self,
        deliveries: Vec<NewDelivery>,
        claim: Option<(&str, Duration, usize)>,
    ) -> Result<Vec<(Inserted, Option<Claimed>)>, StoreError> {
        // The first of each key is sent; the later ones are its duplicates.
        let mut first_of: HashMap<&DeliveryKey, usize> = HashMap::new();
        let mut sent = Vec::new();
        for (index, delivery) in deliveries.iter().enumerate() {
            first_of.entry(&delivery.key).or_insert_with(|| {
                sent.push(index);
                index
            });
        }
        // In key order: two batches sharing keys then take their row locks in
        // the same order, and wait for each other rather than deadlock.
        sent.sort_by(|&a, &b| {
            let (a, b) = (&deliveries[a].key, &deliveries[b].key);
            (a.db_hook_id(), a.has_hook_id(), a.guid.as_str()).cmp(&(
                b.db_hook_id(),
                b.has_hook_id(),
                b.guid.as_str(),
            ))
        });
        let hook_ids: Vec<i64> = sent
            .iter()
            .map(|&i| deliveries[i].key.db_hook_id())
            .collect();
        let has_hook_ids: Vec<bool> = sent
            .iter()
            .map(|&i| deliveries[i].key.has_hook_id())
            .collect();
        let guids: Vec<&str> = sent
            .iter()
            .map(|&i| deliveries[i].key.guid.as_str())
            .collect();
        let events: Vec<&str> = sent.iter().map(|&i| deliveries[i].event.as_str()).collect();
        let actions: Vec<Option<&str>> = sent
            .iter()
            .map(|&i| deliveries[i].action.as_deref())
            .collect();
        let content_types: Vec<&str> = sent
            .iter()
            .map(|&i| deliveries[i].content_type.as_str())
            .collect();
        let headers: Vec<String> = sent
            .iter()
            .map(|&i| headers_to_json(&deliveries[i].headers))
            .collect();
        let bodies: Vec<&[u8]> = sent.iter().map(|&i| &deliveries[i].body[..]).collect();
        let received: Vec<SystemTime> = sent.iter().map(|&i| deliveries[i].received_at).collect();
        let trace_parents: Vec<Option<String>> = sent
            .iter()
            .map(|&i| deliveries[i].trace_parent.map(|parent| parent.to_string()))
            .collect();
        let origins: Vec<&str> = sent
            .iter()
            .map(|&i| deliveries[i].origin.as_str())
            .collect();
        let (worker, lease, limit) = claim.unwrap_or(("", Duration::ZERO, 0));
        let claimed: Vec<bool> = sent.iter().map(|&i| i < limit).collect();
        // The insert alone: it joins no table, so no plan of it can go wrong
        // as the table grows, and it is cheap to plan.
        let rows = self
            .query(
                "INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, \
                   action, content_type, headers, body, received_at, status, attempts, \
                   claim_seq, lease_owner, due_at, updated_at, trace_parent, origin) \
                 SELECT hook_id, has_hook_id, guid, event, action, content_type, headers, \
                   body, received_at, \
                   CASE WHEN claimed THEN 'processing' ELSE 'pending' END, \
                   CASE WHEN claimed THEN 1 ELSE 0 END, \
                   CASE WHEN claimed THEN 1 ELSE 0 END, \
                   CASE WHEN claimed THEN $13 END, \
                   CASE WHEN claimed \
                     THEN clock_timestamp() + $14::float8 * interval '1 millisecond' \
                     ELSE clock_timestamp() END, \
                   clock_timestamp(), trace_parent, origin \
                 FROM unnest($1::bigint[], $2::bool[], $3::text[], $4::text[], $5::text[], \
                   $6::text[], $7::text[], $8::bytea[], $9::timestamptz[], $10::text[], \
                   $11::text[], $12::bool[]) \
                   AS new (hook_id, has_hook_id, guid, event, action, content_type, \
                     headers, body, received_at, trace_parent, origin, claimed) \
                 ON CONFLICT (hook_id, has_hook_id, guid) DO NOTHING \
                 RETURNING id, TRUE, hook_id, has_hook_id, guid, \
                   CASE WHEN status = 'processing' THEN due_at END",
                &[
                    &hook_ids,
                    &has_hook_ids,
                    &guids,
                    &events,
                    &actions,
                    &content_types,
                    &headers,
                    &bodies,
                    &received,
                    &trace_parents,
                    &origins,
                    &claimed,
                    &worker,
                    &millis(lease),
                ],
            )
            .await?;
        let mut rows = rows;
        // The keys the insert did not store were stored before (or by a
        // concurrent transaction, committed by now): one more statement looks
        // them up, each by the key's index (a subquery per key, which no plan
        // can turn into a scan of the table).
        if rows.len() < sent.len() {
            let stored: HashSet<(i64, bool, &str)> = rows
                .iter()
                .filter_map(|row| {
                    Some((
                        row.try_get(2).ok()?,
                        row.try_get(3).ok()?,
                        row.try_get(4).ok()?,
                    ))
                })
                .collect();
            let missing: Vec<usize> = sent
                .iter()
                .copied()
                .filter(|&i| {
                    let key = &deliveries[i].key;
                    !stored.contains(&(key.db_hook_id(), key.has_hook_id(), key.guid.as_str()))
                })
                .collect();
            let hook_ids: Vec<i64> = missing
                .iter()
                .map(|&i| deliveries[i].key.db_hook_id())
                .collect();
            let has_hook_ids: Vec<bool> = missing
                .iter()
                .map(|&i| deliveries[i].key.has_hook_id())
                .collect();
            let guids: Vec<&str> = missing
                .iter()
                .map(|&i| deliveries[i].key.guid.as_str())
                .collect();
            let found = self
                .query(
                    "SELECT d.id, FALSE, k.hook_id, k.has_hook_id, k.guid, NULL::timestamptz \
                     FROM unnest($1::bigint[], $2::bool[], $3::text[]) \
                       AS k (hook_id, has_hook_id, guid) \
                     CROSS JOIN LATERAL ( \
                       SELECT id FROM octohook_deliveries AS d \
                       WHERE d.hook_id = k.hook_id AND d.has_hook_id = k.has_hook_id \
                         AND d.guid = k.guid \
                       OFFSET 0) AS d",
                    &[&hook_ids, &has_hook_ids, &guids],
                )
                .await?;
            rows.extend(found);
        }
        type Found = (Inserted, Option<SystemTime>);
        let mut found: HashMap<(i64, bool, String), Found> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let read = (|| {
                let id: StoredDeliveryId = row.try_get(0)?;
                let new: bool = row.try_get(1)?;
                let key = (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
                let lease_until: Option<SystemTime> = row.try_get(5)?;
                Ok::<_, tokio_postgres::Error>((key, id, new, lease_until))
            })();
            let (key, id, new, lease_until) = read.map_err(classify)?;
            let inserted = if new {
                Inserted::New { id }
            } else {
                Inserted::Duplicate { id }
            };
            found.insert(key, (inserted, lease_until));
        }
        let mut inserted: Vec<Option<Found>> = vec![None; deliveries.len()];
        for &index in &sent {
            let key = &deliveries[index].key;
            let lookup = (
                key.db_hook_id(),
                key.has_hook_id(),
                key.guid.as_str().to_owned(),
            );
            inserted[index] = match found.get(&lookup) {
                Some(&done) => Some(done),
                // Stored (or purged) concurrently: the single insert sorts it
                // out (unclaimed).
                None => Some((self.insert(deliveries[index].clone()).await?, None)),
            };
        }
        let now = SystemTime::now();
        let firsts: Vec<usize> = deliveries
            .iter()
            .map(|delivery| first_of[&delivery.key])
            .collect();
        drop(first_of);
        deliveries
            .into_iter()
            .zip(firsts)
            .enumerate()
            .map(|(index, (delivery, first))| match inserted[first] {
                Some((done, lease_until)) if first == index => {
                    let claimed = match (done, lease_until) {
                        (Inserted::New { id }, Some(until)) => {
                            Some(Claimed::on_insert(delivery, id, worker, until, now))
                        }
                        _ => None,
                    };
                    Ok((done, claimed))
                }
                Some((done, _)) => Ok((Inserted::Duplicate { id: done.id() }, None)),
                None => Err(StoreError::Unavailable(
                    "a delivery of the batch went unanswered".to_owned(),
                )),
            })
            .collect()
    }

    /// [`DeliveryStore::finish_batch`]: one statement.
    async fn finish_many(
        &self,
        finishes: &[Finish],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<StoredDeliveryId> = finishes.iter().map(|finish| finish.claim.id).collect();
        let seqs: Vec<i64> = finishes.iter().map(|finish| finish.claim.seq).collect();
        let mut statuses = Vec::with_capacity(finishes.len());
        let mut errors: Vec<Option<&str>> = Vec::with_capacity(finishes.len());
        let mut delays = Vec::with_capacity(finishes.len());
        for finish in finishes {
            let (status, error, delay) = match &finish.outcome {
                Completion::Done => ("done", None, 0.0),
                Completion::RetryLater { error, delay } => {
                    ("pending", Some(error.as_str()), millis(*delay))
                }
                Completion::Failed { error } => ("failed", Some(error.as_str()), 0.0),
            };
            statuses.push(status);
            errors.push(error);
            delays.push(delay);
        }
        let rows = self
            .query(
                "UPDATE octohook_deliveries AS d SET status = f.status, lease_owner = NULL, \
                   last_error = COALESCE(f.error, d.last_error), \
                   due_at = CASE WHEN f.status = 'pending' \
                     THEN clock_timestamp() + f.delay * interval '1 millisecond' END, \
                   updated_at = clock_timestamp() \
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
                   $5::float8[]) AS f (id, seq, status, error, delay) \
                 WHERE d.id = f.id AND d.claim_seq = f.seq AND d.status = 'processing' \
                 RETURNING d.id",
                &[&ids, &seqs, &statuses, &errors, &delays],
            )
            .await?;
        let mut changed = HashSet::with_capacity(rows.len());
        for row in &rows {
            changed.insert(row.try_get::<_, StoredDeliveryId>(0).map_err(classify)?);
        }
        Ok(ids
            .iter()
            .map(|&id| {
                if changed.contains(&id) {
                    Ok(())
                } else {
                    Err(StoreError::ClaimLost { id })
                }
            })
            .collect())
    }
}

/// A duration in (fractional) milliseconds, as the SQL multiplies intervals.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Sorts a PostgreSQL error into a [`StoreError`].
fn classify(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let message = format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
        let code = db.code();
        if *code == SqlState::DISK_FULL || *code == SqlState::PROGRAM_LIMIT_EXCEEDED {
            return StoreError::Full(message);
        }
        if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            return StoreError::ReadOnly(message);
        }
        return StoreError::Unavailable(message);
    }
    if let Some(failure) = tls::tls_failure(&error) {
        return StoreError::Tls(failure);
    }
    StoreError::Unavailable(describe(&error))
}

fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) => classify(error),
        other => StoreError::Unavailable(format!("cannot get a database connection: {other}")),
    }
}

/// An error and its sources, on one line.
fn describe(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read_row(row: &Row) -> Result<RowParts, StoreError> {
    let parts = (|| {
        Ok::<_, tokio_postgres::Error>(RowParts {
            id: row.try_get(0)?,
            hook_id: row.try_get(1)?,
            guid: row.try_get(2)?,
            event: row.try_get(3)?,
            action: row.try_get(4)?,
            content_type: row.try_get(5)?,
            headers: row.try_get(6)?,
            body: row.try_get(7)?,
            received_at: row.try_get(8)?,
            status: row.try_get(9)?,
            attempts: i64::from(row.try_get::<_, i32>(10)?),
            claim_seq: row.try_get(11)?,
            due_at: row.try_get::<_, Option<SystemTime>>(12)?,
            lease_owner: row.try_get(13)?,
            last_error: row.try_get(14)?,
            updated_at: row.try_get(15)?,
            trace_parent: row.try_get(16)?,
            origin: row.try_get(17)?,
        })
    })();
    parts.map_err(classify)
}

/// What an insert's rows say: (id, whether this statement inserted it).
fn read_inserted(rows: &[Row]) -> Result<Option<Inserted>, StoreError> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let id = row.try_get(0).map_err(classify)?;
    let new: bool = row.try_get(1).map_err(classify)?;
    Ok(Some(if new {
        Inserted::New { id }
    } else {
        Inserted::Duplicate { id }
    }))
}

fn read_delivery(row: &Row) -> Result<StoredDelivery, StoreError> {
    Ok(read_row(row)?.into_delivery()?.0)
}

impl DeliveryStore for PostgresStore {
    fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted> {
        Box::pin(async move {
            let (hook_id, has_hook_id) = (delivery.key.db_hook_id(), delivery.key.has_hook_id());
            let guid = delivery.key.guid.as_str();
            let headers = headers_to_json(&delivery.headers);
            let body: &[u8] = &delivery.body;
            let trace_parent = delivery.trace_parent.map(|parent| parent.to_string());
            // One statement, so one round trip (the connection prepares it once,
            // then every insert is Bind/Execute/Sync, sent together): the new
            // row's id, or the id of the row already under that key. The second
            // SELECT reads the statement's snapshot, taken before the insert,
            // so it never sees the row this statement inserts.
            //
            // Only a row committed by a concurrent transaction after that
            // snapshot escapes it (ON CONFLICT waits for it and does nothing,
            // the SELECT cannot see it): then the lookup below, without the
            // body, finds it. A row purged in between makes the lookup miss too:
            // then the insert is tried again.
            for _ in 0..3 {
                let rows = self
                    .query(
                        "WITH inserted AS ( \
                           INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, \
                             action, content_type, headers, body, received_at, status, due_at, \
                             updated_at, trace_parent, origin) \
                           VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8, 'pending', \
                             clock_timestamp(), clock_timestamp(), $10, $11) \
                           ON CONFLICT (hook_id, has_hook_id, guid) DO NOTHING \
                           RETURNING id) \
                         SELECT id, TRUE FROM inserted \
                         UNION ALL \
                         SELECT id, FALSE FROM octohook_deliveries \
                         WHERE hook_id = $1 AND has_hook_id = $9 AND guid = $2",
                        &[
                            &hook_id,
                            &guid,
                            &delivery.event.as_str(),
                            &delivery.action,
                            &delivery.content_type.as_str(),
                            &headers,
                            &body,
                            &delivery.received_at,
                            &has_hook_id,
                            &trace_parent,
                            &delivery.origin.as_str(),
                        ],
                    )
                    .await?;
                if let Some(inserted) = read_inserted(&rows)? {
                    return Ok(inserted);
                }
                let existing = self
                    .query(
                        "SELECT id, FALSE FROM octohook_deliveries \
                         WHERE hook_id = $1 AND has_hook_id = $3 AND guid = $2",
                        &[&hook_id, &guid, &has_hook_id],
                    )
                    .await?;
                if let Some(inserted) = read_inserted(&existing)? {
                    return Ok(inserted);
                }
            }
            Err(StoreError::Unavailable(
                "the delivery kept being inserted and purged concurrently".to_owned(),
            ))
        })
    }

    fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>> {
        let worker = worker.to_owned();
        Box::pin(async move { Ok(self.claim_some(&worker, lease, 1).await?.pop()) })
    }

    /// One statement, so one round trip and one commit, for the whole batch:
    /// a multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` from arrays
    /// (`unnest`). When some keys were already stored, one more statement
    /// reads their ids, each by the key's index. A key given twice is sent
    /// once.
    fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
        Box::pin(async move {
            let stored = self.insert_many(deliveries, None).await?;
            Ok(stored.into_iter().map(|(inserted, _)| inserted).collect())
        })
    }

    /// The same statement as [`insert_batch`](Self::insert_batch), the
    /// claimed rows stored `processing` with the database's clock.
    fn insert_and_claim_batch(
        &self,
        deliveries: Vec<NewDelivery>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<(Inserted, Option<Claimed>)>> {
        let worker = worker.to_owned();
        Box::pin(async move {
            if limit > 0 {
                // A worker is about: relay the database's wake-ups.
                self.listen();
            }
            self.insert_many(deliveries, Some((&worker, lease, limit)))
                .await
        })
    }

    /// `FOR UPDATE SKIP LOCKED LIMIT n` in one statement.
    fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Claimed>> {
        let worker = worker.to_owned();
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            self.claim_some(&worker, lease, limit).await
        })
    }

    /// One `UPDATE ... FROM unnest(...)` for the whole batch; the claims it did
    /// not change are the lost ones.
    fn finish_batch(&self, finishes: Vec<Finish>) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        Box::pin(async move { self.finish_many(&finishes).await })
    }

    fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim> {
        let claim = claim.clone();
        Box::pin(async move {
            let rows = self
                .query(
                    "UPDATE octohook_deliveries \
                     SET due_at = clock_timestamp() + $3::float8 * interval '1 millisecond', \
                       updated_at = clock_timestamp() \
                     WHERE id = $1 AND claim_seq = $2 AND status = 'processing' \
                     RETURNING due_at",
                    &[&claim.id, &claim.seq, &millis(lease)],
                )
                .await?;
            let Some(row) = rows.first() else {
                return Err(StoreError::ClaimLost { id: claim.id });
            };
            let lease_until = row.try_get(0).map_err(classify)?;
            Ok(Claim {
                lease_until,
                ..claim
            })
        })
    }

    /// The statement of [`finish_batch`](Self::finish_batch), for one claim.
    fn finish(&self, finish: Finish) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.finish_many(std::slice::from_ref(&finish))
                .await?
                .pop()
                .unwrap_or(Err(StoreError::ClaimLost {
                    id: finish.claim.id,
                }))
        })
    }

    fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool> {
        let (hook_id, has_hook_id) = (key.db_hook_id(), key.has_hook_id());
        let guid = key.guid.as_str().to_owned();
        Box::pin(async move {
            let changed = self
                .execute(
                    "UPDATE octohook_deliveries SET status = 'pending', attempts = 0, \
                     lease_owner = NULL, due_at = clock_timestamp(), \
                     updated_at = clock_timestamp() \
                     WHERE hook_id = $1 AND has_hook_id = $3 AND guid = $2 \
                     AND status <> 'processing'",
                    &[&hook_id, &guid, &has_hook_id],
                )
                .await?;
            Ok(changed > 0)
        })
    }

    fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>> {
        let (hook_id, has_hook_id) = (key.db_hook_id(), key.has_hook_id());
        let guid = key.guid.as_str().to_owned();
        Box::pin(async move {
            let sql = format!(
                "SELECT {COLUMNS} FROM octohook_deliveries AS d \
                 WHERE d.hook_id = $1 AND d.has_hook_id = $3 AND d.guid = $2"
            );
            let rows = self.query(&sql, &[&hook_id, &guid, &has_hook_id]).await?;
            rows.first().map(read_delivery).transpose()
        })
    }

    fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>> {
        Box::pin(async move {
            let sql = format!("SELECT {COLUMNS} FROM octohook_deliveries AS d WHERE d.id = $1");
            let rows = self.query(&sql, &[&id]).await?;
            rows.first().map(read_delivery).transpose()
        })
    }

    fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>> {
        let query = query.clone();
        Box::pin(async move {
            let sql = format!(
                "SELECT {COLUMNS} FROM octohook_deliveries AS d \
                 WHERE ($1::text IS NULL OR d.status = $1) \
                   AND ($2::text IS NULL OR d.guid = $2) \
                   AND ($3::bigint IS NULL OR d.id < $3) \
                 ORDER BY d.id DESC LIMIT $4"
            );
            let status = query.status.map(DeliveryStatus::as_str);
            let guid = query.guid.as_ref().map(|guid| guid.as_str());
            let rows = self
                .query(
                    &sql,
                    &[&status, &guid, &query.before_id, &i64::from(query.limit)],
                )
                .await?;
            rows.iter().map(read_delivery).collect()
        })
    }

    fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64> {
        let query = query.clone();
        Box::pin(async move {
            let statuses: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
            self.execute(
                "DELETE FROM octohook_deliveries WHERE status = ANY($1) \
                 AND received_at < clock_timestamp() - $2::float8 * interval '1 millisecond'",
                &[&statuses, &millis(query.older_than)],
            )
            .await
        })
    }

    /// A scan of the table, so kept off the insert path: one count at a time
    /// (holding at most one of the pool's connections), in a read-only
    /// transaction, which takes no lock an insert waits for, and under a
    /// `statement_timeout` of the store's [timeout](PostgresOptions::timeout), so
    /// that the server stops scanning once the caller has given up.
    fn counts(&self) -> StoreFuture<'_, StatusCounts> {
        Box::pin(async move {
            let _one_at_a_time = self.counting.lock().await;
            let rows = self
                .timed(async {
                    let mut client = self.client().await?;
                    let transaction = client
                        .build_transaction()
                        .read_only(true)
                        .start()
                        .await
                        .map_err(classify)?;
                    transaction
                        .batch_execute(&format!(
                            "SET LOCAL statement_timeout = {}",
                            self.timeout.as_millis().max(1)
                        ))
                        .await
                        .map_err(classify)?;
                    let rows = transaction
                        .query(sql_row::COUNT_BY_STATUS, &[])
                        .await
                        .map_err(classify)?;
                    transaction.commit().await.map_err(classify)?;
                    Ok(rows)
                })
                .await?;
            let status_and_count = |row: &Row| Ok((row.try_get(0)?, row.try_get(1)?));
            sql_row::counts_from_rows(
                rows.iter()
                    .map(|row| status_and_count(row).map_err(classify)),
            )
        })
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.wakeup))
    }

    fn load_pull_cursor(&self, scope: &str) -> StoreFuture<'_, Option<String>> {
        let scope = scope.to_owned();
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT cursor FROM octohook_pull_cursors WHERE scope = $1",
                    &[&scope],
                )
                .await?;
            rows.first()
                .map(|row| row.try_get(0).map_err(classify))
                .transpose()
        })
    }

    fn save_pull_cursor(&self, scope: &str, cursor: &str) -> StoreFuture<'_, ()> {
        let (scope, cursor) = (scope.to_owned(), cursor.to_owned());
        Box::pin(async move {
            self.execute(
                "INSERT INTO octohook_pull_cursors (scope, cursor, updated_at) \
                 VALUES ($1, $2, clock_timestamp()) \
                 ON CONFLICT (scope) DO UPDATE SET cursor = $2, updated_at = clock_timestamp()",
                &[&scope, &cursor],
            )
            .await
            .map(|_| ())
        })
    }

    /// One round trip on a pooled connection: the server answers, is not a
    /// read-only standby, and this session may write.
    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'",
                    &[],
                )
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| StoreError::Unavailable("no answer to the health check".into()))?;
            let standby: bool = row.try_get(0).map_err(classify)?;
            let read_only: bool = row.try_get(1).map_err(classify)?;
            if standby || read_only {
                return Err(StoreError::Unavailable(
                    "the PostgreSQL server only accepts reads (a standby, or read-only)".into(),
                ));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_are_schemas() {
        assert!(is_identifier("octohook_test_1"));
        assert!(is_identifier("_x"));
        for bad in [
            "",
            "1abc",
            "Octohook",
            "a-b",
            "a;drop",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }
}
