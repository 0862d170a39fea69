//! [`StoreError`]: why a store could not do what it was asked.

use crate::StoredDeliveryId;

/// Why a [`DeliveryStore`](crate::DeliveryStore) operation failed.
///
/// A receiver answers **503** to GitHub for every error from
/// [`insert`](crate::DeliveryStore::insert) (never 2xx: the delivery was not
/// committed, and GitHub's redelivery can catch it later). The variants tell an
/// operator why; [`is_unavailable`](Self::is_unavailable) groups the ones that
/// usually pass once the store is repaired.
///
/// Messages carry what the database said, never connection secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or did not answer: database down, connection
    /// lost, lock held too long, I/O error, timeout.
    #[error("the delivery store is unavailable: {0}")]
    Unavailable(String),
    /// The store refuses writes: a read-only file, file system or database.
    #[error("the delivery store is read-only: {0}")]
    ReadOnly(String),
    /// The store has no room left: disk full, or its configured size limit reached.
    #[error("the delivery store is full: {0}")]
    Full(String),
    /// The claim is no longer held: its lease expired and another worker claimed
    /// the delivery, or the delivery was finished or removed since.
    #[error(
        "the claim on delivery {id} is no longer held (its lease expired and it was claimed again, or it was finished or purged)"
    )]
    ClaimLost {
        /// The delivery's row id.
        id: StoredDeliveryId,
    },
    /// A stored row cannot be read back (edited by hand, or written by a newer
    /// version).
    #[error("stored delivery {id} cannot be read: {reason}")]
    Corrupt {
        /// The delivery's row id.
        id: StoredDeliveryId,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's schema was created by a newer version of this crate.
    #[error(
        "the store's schema is at version {found}, newer than version {supported} that this build knows; upgrade octohook"
    )]
    SchemaTooNew {
        /// The version found in the store.
        found: i64,
        /// The newest version this build can use.
        supported: i64,
    },
    /// The database holds no delivery store of this crate (another application's
    /// database, or one not yet migrated), and was opened read-only, so it was
    /// left as it is.
    #[error("not an octohook delivery store: {0}")]
    NotAnInbox(String),
    /// The store was configured wrongly (a bad URL, a bad schema name, ...).
    #[error("invalid delivery store configuration: {0}")]
    Config(String),
    /// A TLS connection to the database could not be set up as configured (its
    /// `sslmode`): the server's certificate was refused, the server has no TLS,
    /// or the root certificates cannot be read.
    #[error("cannot connect to the database over TLS: {0}")]
    Tls(TlsError),
}

/// Why a TLS connection to the database failed ([`StoreError::Tls`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate is signed by a trusted root but does not name
    /// the host connected to (`sslmode=verify-full`).
    #[error("the server's certificate does not match the host name: {0}")]
    HostNameMismatch(String),
    /// The server's certificate chain does not lead to a trusted root, or is
    /// expired, revoked or malformed (`sslmode=verify-ca` or `verify-full`).
    #[error("the server's certificate is not trusted: {0}")]
    UntrustedCertificate(String),
    /// The server does not accept TLS connections, and `sslmode` requires one.
    #[error("the server does not accept TLS connections, and sslmode requires one")]
    NotSupportedByServer,
    /// The root certificates (`sslrootcert`) cannot be read or hold none.
    #[error("cannot use the root certificates in {path}: {reason}")]
    RootCertificates {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS handshake failed for another reason (no common protocol
    /// version or cipher suite, a broken connection, ...).
    #[error("the TLS handshake failed: {0}")]
    Handshake(String),
}

impl StoreError {
    /// Whether the error is about the store's state (down, read-only, full)
    /// rather than about one claim or row: retrying after a repair can succeed.
    ///
    /// ```
    /// use octohook_inbox::{StoreError, StoredDeliveryId};
    ///
    /// assert!(StoreError::Full("disk full".into()).is_unavailable());
    /// assert!(!StoreError::ClaimLost { id: StoredDeliveryId::new(1) }.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::ReadOnly(_) | Self::Full(_)
        )
    }
}
