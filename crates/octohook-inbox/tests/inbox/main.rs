//! Integration tests: one conformance suite run against every store, and the
//! tests particular to SQLite and PostgreSQL.

#[cfg(feature = "sqlite")]
mod body_log;
mod conformance;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod postgres;
mod pull_state;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "postgres")]
mod tls;
mod trace_parent;
#[cfg(feature = "postgres")]
mod wire;

use std::sync::Arc;

use octohook::EventKind;
use octohook_inbox::{DeliveryKey, DeliveryStore, MemoryStore, NewDelivery};

/// One store under test; [`open`](Backend::open) gives another handle to the same
/// data (another connection for the SQL stores), as another process would have.
pub(crate) enum Backend {
    Memory(Arc<MemoryStore>),
    #[cfg(feature = "sqlite")]
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(pg::PgSchema),
}

impl Backend {
    pub(crate) fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::new()))
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    #[cfg(feature = "postgres")]
    pub(crate) async fn postgres() -> Self {
        Self::Postgres(pg::PgSchema::new().await)
    }

    pub(crate) async fn open(&self) -> Arc<dyn DeliveryStore> {
        match self {
            Self::Memory(store) => store.clone(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(dir) => Arc::new(
                octohook_inbox::SqliteStore::open(dir.path().join("inbox.db"))
                    .await
                    .unwrap(),
            ),
            #[cfg(feature = "postgres")]
            Self::Postgres(schema) => Arc::new(schema.open().await),
        }
    }
}

pub(crate) fn key(hook: Option<u64>, guid: &str) -> DeliveryKey {
    DeliveryKey::new(hook.map(octohook::HookId::new), guid.parse().unwrap())
}

pub(crate) fn delivery(hook: Option<u64>, guid: &str) -> NewDelivery {
    NewDelivery::new(
        key(hook, guid),
        EventKind::Issues,
        format!(r#"{{"action":"opened","guid":"{guid}"}}"#),
    )
}
