//! The facade's error type, and the AWS error name each variant maps to.

use thiserror::Error;

/// Everything a [`Database`](crate::Database) call can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// The request is invalid: bad item, key, update or query
    /// (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// A condition expression was false (`ConditionalCheckFailedException`);
    /// nothing was written or logged.
    #[error("The conditional request failed")]
    ConditionalCheckFailed {
        /// The item as it was, when the request asked for it.
        item: Option<eddy_model::Item>,
    },
    /// A write transaction was cancelled (`TransactionCanceledException`);
    /// nothing was written. One reason per action, in order.
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "))]
    TransactionCanceled {
        /// Why each action failed (`None` for those that did not).
        reasons: Vec<crate::transactions::CancellationReason>,
    },
    /// A client request token was reused with a different request
    /// (`IdempotentParameterMismatchException`).
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    /// The named table does not exist (`ResourceNotFoundException`).
    #[error("Requested resource not found: Table: {0} not found")]
    TableNotFound(String),
    /// A table of that name already exists (`ResourceInUseException`).
    #[error("Table already exists: {0}")]
    TableExists(String),
    /// Another process (or another `Database` in this one) has the data
    /// directory open.
    #[error("data directory {path} is already open in another process or handle")]
    Locked {
        /// The data directory.
        path: std::path::PathBuf,
    },
    /// The change log refused or failed the operation (I/O error, failed
    /// fsync, corruption). After a failed fsync the database accepts no
    /// more writes: reopen it.
    #[error("change log: {0}")]
    Log(#[from] eddy_changelog::Error),
    /// A stream operation failed; [`eddy_stream::Error::aws_error_name`]
    /// names the Kinesis error.
    #[error("{0}")]
    Stream(#[from] eddy_stream::Error),
    /// The table store failed.
    #[error("table store: {0}")]
    Store(eddy_store::Error),
    /// The database stopped accepting writes after an earlier failure.
    #[error("database is failed and accepts no writes until reopened: {0}")]
    Poisoned(String),
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
    /// A stored change could not be decoded.
    #[error("corrupt change record at LSN {lsn}: {reason}")]
    CorruptRecord {
        /// Where.
        lsn: u64,
        /// Why.
        reason: String,
    },
    /// I/O outside the log and the store (the data directory, its lock).
    #[error("{context}: {source}")]
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

impl Error {
    /// The AWS error name a DynamoDB client expects for this error.
    pub fn aws_error_name(&self) -> &'static str {
        match self {
            Error::Validation(_) => "ValidationException",
            Error::ConditionalCheckFailed { .. } => "ConditionalCheckFailedException",
            Error::TransactionCanceled { .. } => "TransactionCanceledException",
            Error::IdempotentParameterMismatch(_) => "IdempotentParameterMismatchException",
            Error::TableNotFound(_) => "ResourceNotFoundException",
            Error::TableExists(_) => "ResourceInUseException",
            Error::Stream(e) => e.aws_error_name(),
            _ => "InternalServerError",
        }
    }
}

impl From<eddy_model::Error> for Error {
    fn from(e: eddy_model::Error) -> Error {
        match e {
            eddy_model::Error::Decode { what, reason } => Error::CorruptRecord {
                lsn: 0,
                reason: format!("{what}: {reason}"),
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
