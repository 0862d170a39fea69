//! [`StoreArgs`]: `octohook serve`'s store flags, mapped to a [`StoreConfig`]
//! (feature `clap`).

use std::fmt;
use std::path::PathBuf;

use clap::Args;

use crate::{ByteSize, DATABASE_URL_ENV, DEFAULT_DB, StoreConfig};

/// The store flags of `octohook serve`: `--db`, `--database-url`,
/// `--memory-inbox` and `--no-inbox` (one at most), `--database-schema` and
/// `--db-size-limit`. Flatten it into a command and call
/// [`config`](Self::config).
///
/// ```
/// use clap::Parser;
/// use octohook_server::{StoreArgs, StoreConfig};
///
/// #[derive(Parser)]
/// struct Serve {
///     #[command(flatten)]
///     store: StoreArgs,
/// }
///
/// let serve = Serve::parse_from(["serve", "--memory-inbox", "--db-size-limit", "1MiB"]);
/// assert_eq!(serve.store.config(), StoreConfig::Memory { size_limit: Some(1 << 20) });
/// ```
#[derive(Debug, Args)]
#[command(next_help_heading = "Inbox")]
pub struct StoreArgs {
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
#[derive(Args)]
#[group(id = "store", multiple = false)]
struct StoreSelect {
    /// SQLite file of the durable inbox (the default: ./octohook-inbox.db).
    #[arg(long, env = "OCTOHOOK_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// PostgreSQL inbox shared by several receivers (postgres://user@host/db).
    #[arg(long, value_name = "URL", env = DATABASE_URL_ENV, hide_env_values = true)]
    database_url: Option<String>,
    /// An inbox in memory: duplicates are still answered once, but nothing
    /// survives a restart.
    #[arg(long, env = "OCTOHOOK_MEMORY_INBOX")]
    memory_inbox: bool,
    /// No inbox: verify and write --out only (no deduplication, no --exec).
    #[arg(long, env = "OCTOHOOK_NO_INBOX")]
    no_inbox: bool,
}

impl fmt::Debug for StoreSelect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("StoreSelect")
            .field("db", &self.db)
            .field("database_url", &self.database_url.as_ref().map(|_| "…"))
            .field("memory_inbox", &self.memory_inbox)
            .field("no_inbox", &self.no_inbox)
            .finish()
    }
}

/// What clap cannot check of [`StoreArgs`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreArgsError {
    /// `--database-schema` without a PostgreSQL store.
    #[error("--database-schema needs --database-url (or OCTOHOOK_DATABASE_URL)")]
    SchemaWithoutDatabase,
}

impl StoreArgs {
    /// Uses `url` as the PostgreSQL URL, as clap would have read it from
    /// [`DATABASE_URL_ENV`], unless another store was named: for a process that
    /// took the variable out of its environment before running anything (as
    /// `octohook serve` does) and got its value some other way.
    pub fn use_database_url_from_env(&mut self, url: String) {
        let select = &mut self.select;
        if !select.no_inbox && !select.memory_inbox && select.db.is_none() {
            select.database_url.get_or_insert(url);
        }
    }

    /// Checks what clap cannot: `--database-schema` needs a PostgreSQL store
    /// (whose URL may come from the environment).
    pub fn check(&self) -> Result<(), StoreArgsError> {
        if self.database_schema.is_some() && self.select.database_url.is_none() {
            return Err(StoreArgsError::SchemaWithoutDatabase);
        }
        Ok(())
    }

    /// The store named: by default the SQLite file [`DEFAULT_DB`], created
    /// when missing.
    pub fn config(&self) -> StoreConfig {
        let select = &self.select;
        if select.no_inbox {
            StoreConfig::None
        } else if select.memory_inbox {
            StoreConfig::Memory {
                size_limit: self.db_size_limit.map(ByteSize::bytes),
            }
        } else if let Some(url) = &select.database_url {
            StoreConfig::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
                read_only: false,
            }
        } else {
            StoreConfig::Sqlite {
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        store: StoreArgs,
    }

    fn parse(args: &[&str]) -> Result<StoreConfig, String> {
        let serve = Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map_err(|error| error.to_string())?;
        serve.store.check().map_err(|error| error.to_string())?;
        Ok(serve.store.config())
    }

    #[test]
    fn the_default_is_the_sqlite_file_and_the_flags_exclude_each_other() {
        // clap reads the variable: the defaults only show without it.
        if std::env::var_os(DATABASE_URL_ENV).is_some() {
            return;
        }
        assert_eq!(
            parse(&[]).unwrap(),
            StoreConfig::Sqlite {
                path: PathBuf::from(DEFAULT_DB),
                size_limit: None,
                create: true,
                read_only: false,
            }
        );
        assert_eq!(
            parse(&["--memory-inbox"]).unwrap(),
            StoreConfig::Memory { size_limit: None }
        );
        assert_eq!(
            parse(&["--memory-inbox", "--db-size-limit", "1MiB"]).unwrap(),
            StoreConfig::Memory {
                size_limit: Some(1 << 20)
            }
        );
        assert_eq!(parse(&["--no-inbox"]).unwrap(), StoreConfig::None);
        assert!(matches!(
            parse(&["--database-url", "postgres://u@h/d", "--database-schema", "s"]).unwrap(),
            StoreConfig::Postgres { schema: Some(s), .. } if s == "s"
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
            schema_only.store.config(),
            StoreConfig::Postgres { url, schema: Some(schema), .. } if url == from_env && schema == "s"
        ));
        let mut flagged = serve(&["--database-url", "postgres://flag@h/d"]);
        flagged.store.use_database_url_from_env(from_env.clone());
        assert!(matches!(
            flagged.store.config(),
            StoreConfig::Postgres { url, .. } if url == "postgres://flag@h/d"
        ));
        let mut memory = serve(&["--memory-inbox"]);
        memory.store.use_database_url_from_env(from_env);
        assert_eq!(
            memory.store.config(),
            StoreConfig::Memory { size_limit: None }
        );
    }
}
