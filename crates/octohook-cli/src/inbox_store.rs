//! The store flags of `octohook inbox`, mapped to a [`StoreConfig`].

use std::path::PathBuf;

use clap::Args;
use octohook_server::{DATABASE_URL_ENV, DEFAULT_DB, StoreConfig};

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
        env = DATABASE_URL_ENV,
        hide_env_values = true,
        global = true,
        conflicts_with = "db"
    )]
    database_url: Option<String>,
    /// The PostgreSQL schema holding the tables.
    #[arg(long, value_name = "NAME", global = true)]
    database_schema: Option<String>,
}

impl InboxStoreArgs {
    /// The store named; never created. `read_only` opens it for inspection only:
    /// no migration, no DDL, no write.
    pub(crate) fn config(&self, read_only: bool) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
                read_only,
            },
            None => StoreConfig::Sqlite {
                path: self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
                size_limit: None,
                create: false,
                read_only,
            },
        }
    }
}
