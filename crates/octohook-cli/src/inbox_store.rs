//! Which delivery store `octohook serve` and `octohook inbox` use, and opening it.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use octohook_inbox::{
    DeliveryStore, MemoryStore, PostgresOptions, PostgresStore, SqliteOptions, SqliteStore,
    StoreError,
};

use crate::byte_size::ByteSize;

/// The variable holding the PostgreSQL URL (which may carry a password).
pub(crate) const DATABASE_URL_ENV: &str = "OCTOHOOK_DATABASE_URL";

/// The SQLite file used when no store is named.
pub(crate) const DEFAULT_DB: &str = "./octohook-inbox.db";

/// The store flags of `octohook serve`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Inbox")]
pub(crate) struct ServeStoreArgs {
    #[command(flatten)]
    select: StoreSelect,
    /// Keep the tables in this PostgreSQL schema (created when missing); needs
    /// --database-url.
    #[arg(long, env = "OCTOHOOK_DATABASE_SCHEMA", value_name = "NAME")]
    database_schema: Option<String>,
    /// Refuse to grow the SQLite file beyond about this size (bytes, or 512MiB,
    /// 2GB, ...): deliveries are then answered 503 until room is made (octohook
    /// inbox purge). With --memory-inbox: the most bytes of bodies and headers
    /// held in memory (256MiB by default); finished deliveries are forgotten
    /// first to make room, then deliveries are answered 503.
    #[arg(long, env = "OCTOHOOK_DB_SIZE_LIMIT", value_name = "SIZE", conflicts_with_all = ["database_url", "no_inbox"])]
    db_size_limit: Option<ByteSize>,
}

/// Where `octohook serve` keeps deliveries: one of these at most.
#[derive(Debug, Args)]
#[group(id = "store", multiple = false)]
struct StoreSelect {
    /// SQLite file of the durable inbox (the default: ./octohook-inbox.db).
    #[arg(long, env = "OCTOHOOK_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// PostgreSQL inbox shared by several receivers (postgres://user@host/db).
    #[arg(
        long,
        value_name = "URL",
        env = "OCTOHOOK_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// An inbox in memory: duplicates are still answered once, but nothing
    /// survives a restart.
    #[arg(long, env = "OCTOHOOK_MEMORY_INBOX")]
    memory_inbox: bool,
    /// No inbox: verify and write --out only (no deduplication, no --exec).
    #[arg(long, env = "OCTOHOOK_NO_INBOX")]
    no_inbox: bool,
}

/// The store flags of `octohook inbox`.
#[derive(Debug, Args)]
pub(crate) struct InboxStoreArgs {
    /// SQLite file of the inbox (the default: ./octohook-inbox.db).
    #[arg(long, value_name = "PATH", global = true)]
    db: Option<PathBuf>,
    /// PostgreSQL inbox (postgres://user@host/db).
    #[arg(
        long,
        value_name = "URL",
        env = "OCTOHOOK_DATABASE_URL",
        hide_env_values = true,
        global = true,
        conflicts_with = "db"
    )]
    database_url: Option<String>,
    /// The PostgreSQL schema holding the tables.
    #[arg(long, value_name = "NAME", global = true)]
    database_schema: Option<String>,
}

/// A store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreChoice {
    /// No inbox at all.
    None,
    /// A [`MemoryStore`], with its size limit (the default when `None`).
    Memory { size_limit: Option<u64> },
    /// A SQLite file.
    Sqlite {
        path: PathBuf,
        size_limit: Option<u64>,
        /// Create the file when missing (the receiver does, `octohook inbox`
        /// does not: a mistyped path should not look like an empty inbox).
        create: bool,
        /// Open with `SQLITE_OPEN_READ_ONLY`, without migrations (`inbox list`
        /// and `show`): a foreign file is refused, never changed.
        read_only: bool,
    },
    /// A PostgreSQL database.
    Postgres {
        url: String,
        schema: Option<String>,
        /// Connect without DDL, in read-only transactions.
        read_only: bool,
    },
}

impl ServeStoreArgs {
    /// Uses `url`, the value `OCTOHOOK_DATABASE_URL` had before `serve` removed
    /// it from its environment, as clap would have: unless `--database-url` was
    /// given (clap checked at the first parse that no other store flag was).
    pub(crate) fn use_database_url_from_env(&mut self, url: String) {
        let select = &mut self.select;
        if !select.no_inbox && !select.memory_inbox && select.db.is_none() {
            select.database_url.get_or_insert(url);
        }
    }

    /// Checks what clap cannot: `--database-schema` needs a PostgreSQL store
    /// (whose URL may come from the environment, which `serve` empties).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.database_schema.is_some() && self.select.database_url.is_none() {
            return Err("--database-schema needs --database-url (or OCTOHOOK_DATABASE_URL)");
        }
        Ok(())
    }

    pub(crate) fn choice(&self) -> StoreChoice {
        let select = &self.select;
        if select.no_inbox {
            StoreChoice::None
        } else if select.memory_inbox {
            StoreChoice::Memory {
                size_limit: self.db_size_limit.map(ByteSize::bytes),
            }
        } else if let Some(url) = &select.database_url {
            StoreChoice::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
                read_only: false,
            }
        } else {
            StoreChoice::Sqlite {
                path: select
                    .db
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
                size_limit: self.db_size_limit.map(ByteSize::bytes),
                create: true,
                read_only: false,
            }
        }
    }
}

impl InboxStoreArgs {
    /// The store named; never created. `read_only` opens it for inspection only:
    /// no migration, no DDL, no write.
    pub(crate) fn choice(&self, read_only: bool) -> StoreChoice {
        match &self.database_url {
            Some(url) => StoreChoice::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
                read_only,
            },
            None => StoreChoice::Sqlite {
                path: self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
                size_limit: None,
                create: false,
                read_only,
            },
        }
    }
}

/// Why a store could not be opened; names the store, never a password.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("no inbox database at {} (name one with --db or --database-url)", .0.display())]
    Missing(PathBuf),
    #[error("cannot open the inbox database {}: {source}", path.display())]
    Sqlite { path: PathBuf, source: StoreError },
    #[error("cannot open the PostgreSQL inbox: {0}")]
    Postgres(StoreError),
}

impl StoreChoice {
    /// A short description for logs: the file, or "postgresql" (a URL may hold a
    /// password).
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::None => "none".to_owned(),
            Self::Memory { .. } => "memory".to_owned(),
            Self::Sqlite { path, .. } => format!("sqlite {}", path.display()),
            Self::Postgres { schema, .. } => match schema {
                Some(schema) => format!("postgresql (schema {schema})"),
                None => "postgresql".to_owned(),
            },
        }
    }

    /// Opens the store; `None` for [`StoreChoice::None`].
    pub(crate) async fn open(&self) -> Result<Option<Arc<dyn DeliveryStore>>, OpenError> {
        Ok(match self {
            Self::None => None,
            Self::Memory { size_limit } => {
                let store = MemoryStore::new();
                Some(Arc::new(match size_limit {
                    Some(bytes) => store.with_size_limit(*bytes),
                    None => store,
                }))
            }
            Self::Sqlite {
                path,
                size_limit,
                create,
                read_only,
            } => {
                if !*create && !path.exists() {
                    return Err(OpenError::Missing(path.clone()));
                }
                let options = SqliteOptions::default()
                    .size_limit(*size_limit)
                    .create(*create)
                    .read_only(*read_only);
                let store = SqliteStore::open_with(path, options)
                    .await
                    .map_err(|source| OpenError::Sqlite {
                        path: path.clone(),
                        source,
                    })?;
                Some(Arc::new(store))
            }
            Self::Postgres {
                url,
                schema,
                read_only,
            } => {
                let mut options = PostgresOptions::default().read_only(*read_only);
                if let Some(schema) = schema {
                    options = options.schema(schema.clone());
                }
                let store = PostgresStore::connect_with(url, options)
                    .await
                    .map_err(OpenError::Postgres)?;
                Some(Arc::new(store))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        store: ServeStoreArgs,
    }

    fn parse(args: &[&str]) -> Result<StoreChoice, String> {
        let serve = Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map_err(|error| error.to_string())?;
        serve.store.check()?;
        Ok(serve.store.choice())
    }

    #[test]
    fn the_default_is_the_sqlite_file_and_the_flags_exclude_each_other() {
        // clap reads the variable: the defaults only show without it.
        if std::env::var_os("OCTOHOOK_DATABASE_URL").is_some() {
            return;
        }
        assert_eq!(
            parse(&[]).unwrap(),
            StoreChoice::Sqlite {
                path: PathBuf::from(DEFAULT_DB),
                size_limit: None,
                create: true,
                read_only: false,
            }
        );
        assert_eq!(
            parse(&["--memory-inbox"]).unwrap(),
            StoreChoice::Memory { size_limit: None }
        );
        assert_eq!(
            parse(&["--memory-inbox", "--db-size-limit", "1MiB"]).unwrap(),
            StoreChoice::Memory {
                size_limit: Some(1 << 20)
            }
        );
        assert_eq!(parse(&["--no-inbox"]).unwrap(), StoreChoice::None);
        assert!(matches!(
            parse(&["--database-url", "postgres://u@h/d", "--database-schema", "s"]).unwrap(),
            StoreChoice::Postgres { schema: Some(s), .. } if s == "s"
        ));
        assert!(parse(&["--db", "a.db", "--no-inbox"]).is_err());
        assert!(parse(&["--memory-inbox", "--database-url", "postgres://u@h/d"]).is_err());
        assert!(parse(&["--no-inbox", "--db-size-limit", "10"]).is_err());
        assert!(parse(&["--database-schema", "s"]).is_err());
    }

    #[test]
    fn a_database_url_from_the_environment_applies_only_without_another_store() {
        if std::env::var_os(DATABASE_URL_ENV).is_some() {
            return;
        }
        let serve = |args: &[&str]| {
            Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied())).unwrap()
        };
        let from_env = "postgres://env@h/d".to_owned();
        let mut schema_only = serve(&["--database-schema", "s"]);
        assert!(schema_only.store.check().is_err());
        schema_only
            .store
            .use_database_url_from_env(from_env.clone());
        assert!(schema_only.store.check().is_ok());
        assert!(matches!(
            schema_only.store.choice(),
            StoreChoice::Postgres { url, schema: Some(schema), .. } if url == from_env && schema == "s"
        ));
        let mut flagged = serve(&["--database-url", "postgres://flag@h/d"]);
        flagged.store.use_database_url_from_env(from_env.clone());
        assert!(matches!(
            flagged.store.choice(),
            StoreChoice::Postgres { url, .. } if url == "postgres://flag@h/d"
        ));
        let mut memory = serve(&["--memory-inbox"]);
        memory.store.use_database_url_from_env(from_env);
        assert_eq!(
            memory.store.choice(),
            StoreChoice::Memory { size_limit: None }
        );
    }

    #[test]
    fn a_postgres_store_is_described_without_its_url() {
        let choice = StoreChoice::Postgres {
            url: "postgres://user:hunter2@db/inbox".to_owned(),
            schema: None,
            read_only: true,
        };
        assert!(!choice.describe().contains("hunter2"));
    }
}
