//! The store's one error type.
//!
//! Variants split along what a caller does with them: [`Error::TableNotFound`],
//! [`Error::TableExists`] and [`Error::Validation`] are the client's fault and
//! map onto DynamoDB's `ResourceNotFoundException`, `ResourceInUseException`
//! and `ValidationException`; [`Error::Model`] carries the item model's own
//! validation errors unchanged; [`Error::Sled`], [`Error::Io`] and
//! [`Error::Corrupt`] are the store's fault and mean the database cannot be
//! trusted to answer. A stored value that does not decode is always reported
//! as [`Error::Corrupt`], never skipped and never a panic.

use thiserror::Error;

/// Everything the table store can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// No table of that name (or the table was deleted).
    #[error("Requested resource not found: Table: {0} not found")]
    TableNotFound(String),
    /// `create_table` for a name already in use.
    #[error("Table already exists: {0}")]
    TableExists(String),
    /// A malformed request: a bad key, query condition, limit or start key.
    #[error("{0}")]
    Validation(String),
    /// An item-model error (bad table name, key or value), passed through.
    #[error(transparent)]
    Model(#[from] eddy_model::Error),
    /// The storage engine failed.
    #[error("the storage engine (sled) failed")]
    Sled(#[from] sled::Error),
    /// An I/O error outside the storage engine.
    #[error("table store I/O failed")]
    Io(#[from] std::io::Error),
    /// Making the store's files durable failed (a refused fsync). It is
    /// never retried: every later flush or checkpoint of this store fails
    /// the same way until it is reopened.
    #[error("making {} durable failed", path.display())]
    Sync {
        /// The file or directory whose fsync failed.
        path: std::path::PathBuf,
        /// The fsync's error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value that does not decode: corruption or a format mismatch.
    #[error("corrupt {what} at key {key:02x?}: {reason}")]
    Corrupt {
        /// What was being read (an item, a catalog entry, the checkpoint).
        what: &'static str,
        /// The sled key of the bad value.
        key: Vec<u8>,
        /// Why it does not decode.
        reason: String,
    },
    /// The store's own file (the catalog image or an item snapshot) is
    /// damaged.
    #[error("corrupt store file {} at offset {offset}: {reason}", path.display())]
    CorruptFile {
        /// The file.
        path: std::path::PathBuf,
        /// Where in it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Writing an item snapshot failed; the older snapshot still stands.
    #[error("writing the store snapshot {} failed", path.display())]
    SnapshotWrite {
        /// The file or directory the failed call was for.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The store cannot be rebuilt from its snapshot directory, for the
    /// reason given; nothing was changed.
    #[error("the table store cannot be rebuilt: {0}")]
    CannotRebuild(String),
}

impl Error {
    /// Whether this error, met opening the store, means its files are
    /// damaged (rather than, say, inaccessible): then it should be
    /// [rebuilt](crate::Store::rebuild).
    pub fn is_damage(&self) -> bool {
        match self {
            Error::Corrupt { .. } => true,
            Error::Sled(sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)) => true,
            Error::Sled(sled::Error::Io(e)) => matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }

    pub(crate) fn corrupt_file(
        path: &std::path::Path,
        offset: u64,
        reason: impl ToString,
    ) -> Error {
        Error::CorruptFile {
            path: path.to_path_buf(),
            offset,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, key: &[u8], reason: impl ToString) -> Error {
        Error::Corrupt {
            what,
            key: key.to_vec(),
            reason: reason.to_string(),
        }
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
