//! [`StoreConfig`]: which delivery store a receiver keeps its inbox in, and
//! opening it.

use std::fmt;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::sync::Arc;

use octohook_inbox::{DeliveryStore, MemoryStore};

/// The variable `octohook serve` and `octohook inbox` read the PostgreSQL URL
/// from (it may carry a password).
pub const DATABASE_URL_ENV: &str = "OCTOHOOK_DATABASE_URL";

/// The SQLite file `octohook serve` and `octohook inbox` use when no store is
/// named.
pub const DEFAULT_DB: &str = "./octohook-inbox.db";

/// A delivery store to open: none, in memory, a SQLite file or a PostgreSQL
/// database. [`open`](Self::open) opens it; [`describe`](Self::describe) names
/// it for logs without its URL (as its `Debug` does).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_server::StoreOpenError> {
/// use octohook_server::StoreConfig;
///
/// let config = StoreConfig::Memory { size_limit: Some(64 << 20) };
/// assert_eq!(config.describe(), "memory");
/// let store = config.open().await?.expect("a store");
/// assert_eq!(store.counts().await.unwrap().total(), 0);
/// assert!(StoreConfig::None.open().await?.is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// No inbox at all: deliveries are written as lines before they are
    /// answered (see [`LineWriter`](crate::LineWriter)).
    None,
    /// A [`MemoryStore`]: deduplication and hand-off, lost at exit.
    Memory {
        /// The most bytes of bodies and headers held
        /// ([`octohook_inbox::DEFAULT_SIZE_LIMIT`] when `None`).
        size_limit: Option<u64>,
    },
    /// A SQLite file (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The size the file may not grow beyond (none when `None`).
        size_limit: Option<u64>,
        /// Create the file when missing (a receiver does; `octohook inbox` does
        /// not: a mistyped path should not look like an empty inbox).
        create: bool,
        /// Open with `SQLITE_OPEN_READ_ONLY`, without migrations: a foreign
        /// file is refused, never changed.
        read_only: bool,
    },
    /// A PostgreSQL database (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres {
        /// `postgres://user:password@host/database`: never logged nor shown.
        url: String,
        /// The schema holding the tables (created when missing, unless
        /// read-only).
        schema: Option<String>,
        /// Connect without DDL, in read-only transactions.
        read_only: bool,
    },
}

/// Why a store could not be opened; names the store, never a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// The SQLite file does not exist, and the configuration does not create it.
    #[cfg(feature = "sqlite")]
    #[error("no inbox database at {} (name one with --db or --database-url)", .0.display())]
    Missing(PathBuf),
    /// SQLite refused to open the file.
    #[cfg(feature = "sqlite")]
    #[error("cannot open the inbox database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: octohook_inbox::StoreError,
    },
    /// The PostgreSQL database could not be reached or set up.
    #[cfg(feature = "postgres")]
    #[error("cannot open the PostgreSQL inbox: {0}")]
    Postgres(octohook_inbox::StoreError),
}

impl StoreConfig {
    /// A short description for logs: `none`, `memory`, `sqlite PATH`, or
    /// `postgresql` with its schema (a URL may hold a password).
    pub fn describe(&self) -> String {
        match self {
            Self::None => "none".to_owned(),
            Self::Memory { .. } => "memory".to_owned(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite { path, .. } => format!("sqlite {}", path.display()),
            #[cfg(feature = "postgres")]
            Self::Postgres { schema, .. } => match schema {
                Some(schema) => format!("postgresql (schema {schema})"),
                None => "postgresql".to_owned(),
            },
        }
    }

    /// Opens the store; `None` for [`StoreConfig::None`].
    pub async fn open(&self) -> Result<Option<Arc<dyn DeliveryStore>>, StoreOpenError> {
        Ok(match self {
            Self::None => None,
            Self::Memory { size_limit } => {
                let store = MemoryStore::new();
                Some(Arc::new(match size_limit {
                    Some(bytes) => store.with_size_limit(*bytes),
                    None => store,
                }))
            }
            #[cfg(feature = "sqlite")]
            Self::Sqlite {
                path,
                size_limit,
                create,
                read_only,
            } => {
                if !*create && !path.exists() {
                    return Err(StoreOpenError::Missing(path.clone()));
                }
                let options = octohook_inbox::SqliteOptions::default()
                    .size_limit(*size_limit)
                    .create(*create)
                    .read_only(*read_only);
                let store = octohook_inbox::SqliteStore::open_with(path, options)
                    .await
                    .map_err(|source| StoreOpenError::Sqlite {
                        path: path.clone(),
                        source,
                    })?;
                Some(Arc::new(store))
            }
            #[cfg(feature = "postgres")]
            Self::Postgres {
                url,
                schema,
                read_only,
            } => {
                let mut options = octohook_inbox::PostgresOptions::default().read_only(*read_only);
                if let Some(schema) = schema {
                    options = options.schema(schema.clone());
                }
                let store = octohook_inbox::PostgresStore::connect_with(url, options)
                    .await
                    .map_err(StoreOpenError::Postgres)?;
                Some(Arc::new(store))
            }
        })
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What `describe` says: never the URL, which may hold a password.
        f.debug_tuple("StoreConfig")
            .field(&self.describe())
            .finish()
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_store_is_described_and_debugged_without_its_url() {
        let config = StoreConfig::Postgres {
            url: "postgres://user:hunter2@db/inbox".to_owned(),
            schema: Some("hooks".to_owned()),
            read_only: true,
        };
        assert_eq!(config.describe(), "postgresql (schema hooks)");
        let debugged = format!("{config:?}");
        assert!(!debugged.contains("hunter2"), "{debugged}");
        assert!(debugged.contains("hooks"), "{debugged}");
    }
}
