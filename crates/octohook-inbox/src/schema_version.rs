//! The schema version a SQL store's tables are at, against the migrations this
//! build carries: one rule for SQLite and PostgreSQL.

use crate::StoreError;

/// Reads the version the tables are at (0 before the first migration).
pub(crate) const SELECT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM octohook_schema";

/// The version of the last of `migrations` (numbered, in order).
pub(crate) fn latest<V: Copy + Into<i64>>(migrations: &[(V, &str)]) -> i64 {
    migrations
        .last()
        .map_or(0, |(version, _)| (*version).into())
}

/// Refuses tables a newer build migrated: this one would misread them.
pub(crate) fn not_newer(found: i64, supported: i64) -> Result<(), StoreError> {
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    Ok(())
}

/// Refuses tables at any version but `supported`, for a read-only store, which
/// migrates nothing; `migrate` says how to bring older tables up to date.
pub(crate) fn exactly(found: i64, supported: i64, migrate: &str) -> Result<(), StoreError> {
    not_newer(found, supported)?;
    if found < supported {
        return Err(StoreError::NotAnInbox(format!(
            "the tables are at schema version {found}, older than {supported}: {migrate}"
        )));
    }
    Ok(())
}
