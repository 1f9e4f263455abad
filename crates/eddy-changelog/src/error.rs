//! The change log's single error type.
//!
//! Every fallible operation in this crate returns [`Result`]. The variants are
//! deliberately coarse but typed, so callers can distinguish the cases they
//! must react to differently:
//!
//! * [`Error::Corruption`] — the on-disk log is damaged somewhere other than a
//!   torn tail; nothing was modified, an operator has to look at it.
//! * [`Error::WriteFailed`] — a write (e.g. on a full disk) failed and was
//!   undone; the log is still usable and later appends may succeed.
//! * [`Error::Poisoned`] — an earlier fsync failed; the in-memory log
//!   no longer knows what is durable, so it refuses all further work. The
//!   caller must drop the handle and reopen (recovery re-establishes the truth).
//! * [`Error::Trimmed`] — the requested history was deleted by retention.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the change log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("change log I/O error while {context}")]
    Io {
        /// What the log was doing (includes the path where relevant).
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The log on disk is damaged in a way that is not a torn tail. Nothing
    /// was truncated or deleted.
    #[error("change log corruption in {} at offset {offset}: {reason}", segment.display())]
    Corruption {
        /// The segment file containing the damage.
        segment: PathBuf,
        /// Byte offset within that file where the damage starts.
        offset: u64,
        /// Human-readable description.
        reason: String,
    },

    /// A write failed (for example `ENOSPC`: the disk is full) and was
    /// undone: no byte of the refused appends remains and no LSN was used.
    /// The log stays usable; appends succeed again once the cause is gone.
    #[error("change log write refused and undone (nothing of it was kept) while {context}")]
    WriteFailed {
        /// What the log was doing (includes the path).
        context: String,
        /// The underlying error (`ErrorKind::StorageFull` for a full disk).
        #[source]
        source: std::io::Error,
    },

    /// An fsync failed earlier (or a failed write could not be undone); the
    /// log refuses further appends.
    /// Carries the text of the original error. Reopen the log to recover.
    #[error("change log is poisoned by an earlier failure (reopen to recover): {0}")]
    Poisoned(String),

    /// The requested LSN was removed by retention (`truncate_before`).
    #[error(
        "LSN {requested} has been trimmed from the change log; oldest retained LSN is {oldest}"
    )]
    Trimmed {
        /// The LSN the caller asked for.
        requested: u64,
        /// The oldest LSN still retained.
        oldest: u64,
    },

    /// An append group would encode to a frame larger than the maximum.
    #[error("append group of {bytes} encoded bytes exceeds the maximum frame size of {max} bytes")]
    TooLarge {
        /// Encoded size of the refused group.
        bytes: u64,
        /// The maximum frame size.
        max: u64,
    },

    /// `append` was called with no payloads.
    #[error("append group must contain at least one payload")]
    EmptyAppend,

    /// The log has been closed.
    #[error("change log is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        segment: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            segment: segment.into(),
            offset,
            reason: reason.into(),
        }
    }
}
