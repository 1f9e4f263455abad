//! The facade's error type, and what a caller can do about each error.
//!
//! One `#[non_exhaustive]` enum, as fjall has, classified by
//! [`Error::kind`] into what the caller can do: fix the request, retry
//! after a condition or a conflict, create or delete the table, or reopen
//! the database ([`ErrorKind`]). Every variant that wraps another error
//! returns it from [`source`](std::error::Error::source) and does not
//! repeat it in its own message, so a reporter that walks the chain prints
//! each cause once. AWS's error names live in `eddy-server`, which maps
//! these errors onto the wire.

use std::sync::Arc;

use thiserror::Error;

/// Everything a [`Database`](crate::Database) call can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is invalid: bad item, key, update or query. The message
    /// names the attribute or parameter and the rule it breaks.
    #[error("{0}")]
    Validation(String),
    /// A condition expression was false; nothing was written or logged.
    #[error("The conditional request failed")]
    ConditionalCheckFailed {
        /// The item as it was, when the request asked for it.
        item: Option<eddy_model::Item>,
    },
    /// A write transaction was cancelled; nothing was written. One reason
    /// per action, in order.
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "))]
    TransactionCanceled {
        /// Why each action failed (`None` for those that did not).
        reasons: Vec<crate::transactions::CancellationReason>,
    },
    /// A client request token was reused with a different request.
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    /// The named table does not exist.
    #[error("Requested resource not found: Table: {0} not found")]
    TableNotFound(String),
    /// A table of that name already exists.
    #[error("Table already exists: {0}")]
    TableExists(String),
    /// Another process (or another `Database` in this one) has the data
    /// directory open.
    #[error("data directory {path} is already open in another process or handle")]
    Locked {
        /// The data directory.
        path: std::path::PathBuf,
    },
    /// The change log refused or failed the operation: an I/O error, a
    /// full disk (the write was undone), history already trimmed, or
    /// corruption.
    #[error(transparent)]
    Log(#[from] eddy_changelog::Error),
    /// A stream operation failed.
    #[error(transparent)]
    Stream(#[from] eddy_stream::Error),
    /// The table store failed.
    #[error("the table store failed")]
    Store(#[source] eddy_store::Error),
    /// The database stopped accepting writes after a failure that left the
    /// durable state unknown (a refused fsync, a logged change the store
    /// could not apply). Reads still work; reopen the database to recover.
    #[error("the database accepts no writes after an earlier failure; reopen it")]
    Poisoned {
        /// The failure that poisoned it.
        #[source]
        cause: Arc<Error>,
    },
    /// The change log ends before the store's checkpoint: log data was lost
    /// (deleted, or restored from an older copy than the store).
    #[error("the change log ends at LSN {log_end} but the table store was checkpointed at LSN {checkpoint}: change log data is missing")]
    LogBehindStore {
        /// The store's checkpoint LSN.
        checkpoint: u64,
        /// The last LSN in the log.
        log_end: u64,
    },
    /// The table store was damaged or had lost durable state, and could
    /// not be rebuilt from its snapshot and the change log; nothing was
    /// changed.
    #[error("the table store is damaged ({reason}) and could not be rebuilt")]
    StoreUnrecoverable {
        /// What was wrong with the store.
        reason: String,
        /// Why the rebuild failed.
        #[source]
        source: eddy_store::Error,
    },
    /// The change logged at `lsn` does not decode, or names a key its
    /// table cannot hold.
    #[error("corrupt change record at LSN {lsn}")]
    CorruptRecord {
        /// The record's LSN.
        lsn: u64,
        /// What is wrong with it.
        #[source]
        source: eddy_model::Error,
    },
    /// Other stored bytes that do not decode: a state record (a
    /// destination's definition, a publisher's position).
    #[error("corrupt stored {what}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it does not decode.
        #[source]
        source: eddy_model::Error,
    },
    /// I/O outside the log and the store (the data directory, its lock).
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database has been closed.
    #[error("database is closed")]
    Closed,
}

/// What the caller can do about an [`Error`](enum@Error), from [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is invalid; sending it again fails the same way.
    InvalidRequest,
    /// A condition (or a transaction's conditions) did not hold; nothing
    /// was written. Read again and decide.
    ConditionFailed,
    /// A request token was reused for another request, or another caller
    /// holds what was asked for: retry with a new token, or later.
    Conflict,
    /// The table (or stream, shard, consumer) does not exist.
    NotFound,
    /// The table (or stream, consumer) already exists.
    AlreadyExists,
    /// Storage failed (I/O, a full disk, a refused fsync). After
    /// [`Error::Poisoned`] the database takes no writes until reopened.
    Storage,
    /// Stored data is damaged or missing; an operator must look.
    Corruption,
    /// The database (or the data directory's lock) is not available: it
    /// is closed, or open elsewhere.
    Unavailable,
}

impl Error {
    /// What the caller can do about this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        use eddy_changelog::Error as L;
        match self {
            Error::Validation(_) => ErrorKind::InvalidRequest,
            Error::ConditionalCheckFailed { .. } | Error::TransactionCanceled { .. } => {
                ErrorKind::ConditionFailed
            }
            Error::IdempotentParameterMismatch(_) => ErrorKind::Conflict,
            Error::TableNotFound(_) => ErrorKind::NotFound,
            Error::TableExists(_) => ErrorKind::AlreadyExists,
            Error::Locked { .. } | Error::Closed => ErrorKind::Unavailable,
            Error::Log(e) => match e {
                L::Corruption { .. } | L::Trimmed { .. } => ErrorKind::Corruption,
                L::TooLarge { .. } | L::EmptyAppend => ErrorKind::InvalidRequest,
                L::Closed => ErrorKind::Unavailable,
                _ => ErrorKind::Storage,
            },
            Error::Stream(e) => stream_kind(e),
            Error::Store(e) if e.is_damage() => ErrorKind::Corruption,
            Error::Store(_) | Error::Poisoned { .. } | Error::Io { .. } => ErrorKind::Storage,
            Error::LogBehindStore { .. }
            | Error::StoreUnrecoverable { .. }
            | Error::CorruptRecord { .. }
            | Error::Corrupt { .. } => ErrorKind::Corruption,
        }
    }
}

/// What the caller can do about a stream error.
fn stream_kind(e: &eddy_stream::Error) -> ErrorKind {
    use eddy_stream::Error as S;
    match e {
        S::ResourceNotFound(_) | S::KmsNotFound(_) => ErrorKind::NotFound,
        S::ResourceInUse(_) => ErrorKind::AlreadyExists,
        S::LimitExceeded(_) => ErrorKind::Conflict,
        S::InvalidArgument(_) | S::ExpiredIterator(_) | S::Validation(_) => {
            ErrorKind::InvalidRequest
        }
        S::Corruption { .. } | S::Decrypt { .. } => ErrorKind::Corruption,
        _ => ErrorKind::Storage,
    }
}

impl From<eddy_model::Error> for Error {
    fn from(e: eddy_model::Error) -> Error {
        match &e {
            eddy_model::Error::Decode { what, .. } => Error::Corrupt {
                what: what.to_string(),
                source: e,
            },
            other => Error::Validation(other.to_string()),
        }
    }
}

impl From<eddy_store::Error> for Error {
    fn from(e: eddy_store::Error) -> Error {
        match e {
            eddy_store::Error::TableNotFound(name) => Error::TableNotFound(name),
            eddy_store::Error::TableExists(name) => Error::TableExists(name),
            eddy_store::Error::Validation(msg) => Error::Validation(msg),
            eddy_store::Error::Model(m) => Error::from(m),
            other => Error::Store(other),
        }
    }
}

/// The facade's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
