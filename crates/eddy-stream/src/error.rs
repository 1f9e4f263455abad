//! The crate's single error type, shaped after the Kinesis error catalogue.
//!
//! A Kinesis-compatible server maps each variant 1:1 to the wire error name
//! returned by [`Error::aws_error_name`], and sends [`std::fmt::Display`]'s
//! message (the kinesalite texts where the reference gives them). Storage
//! failures ([`Error::Io`], [`Error::Corruption`], [`Error::Poisoned`]) are
//! all `InternalFailureException`, the model's only server fault; they keep
//! their detail (path, offset, OS error) for logs and tests.
//!
//! Encryption problems use Kinesis' KMS error names: an unknown key id is
//! `KMSNotFoundException`; a stored record that fails authentication (wrong
//! key under its id, or altered bytes) is `KMSAccessDeniedException`, whose
//! documented meaning is "the ciphertext references a key that doesn't
//! exist or that you don't have access to". An unusable key supplied by the
//! embedding application is a configuration fault reported at open.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the streams engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Unknown stream or shard (`ResourceNotFoundException`).
    #[error("{0}")]
    ResourceNotFound(String),
    /// The stream already exists or is busy (`ResourceInUseException`).
    #[error("{0}")]
    ResourceInUse(String),
    /// A semantically invalid argument (`InvalidArgumentException`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The shard iterator is older than 300 s (`ExpiredIteratorException`).
    #[error("{0}")]
    ExpiredIterator(String),
    /// A quota would be exceeded (`LimitExceededException`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A shape or constraint violation, or resharding an ON_DEMAND stream
    /// (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// A file-system call failed (`InternalFailureException`).
    #[error("stream storage I/O error while {context}")]
    Io {
        /// What was being done, including the path where relevant.
        context: String,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// On-disk data is damaged somewhere other than a torn tail
    /// (`InternalFailureException`). Nothing was modified.
    #[error("stream storage corruption in {} at offset {offset}: {reason}", path.display())]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A shard's writer failed earlier and could not restore a known durable
    /// state; writes to that shard fail until the database is reopened
    /// (`InternalFailureException`).
    #[error("shard writer is poisoned by an earlier failure (reopen to recover): {0}")]
    Poisoned(String),
    /// No encryption key with the requested id is configured
    /// (`KMSNotFoundException`): `StartStreamEncryption` with an unknown
    /// key, or a write to a stream whose key is not configured.
    #[error("{0}")]
    KmsNotFound(String),
    /// A stored encrypted record cannot be decrypted
    /// (`KMSNotFoundException` if its key id is not configured,
    /// `KMSAccessDeniedException` if authentication failed). Other records
    /// stay readable; `AfterSequenceNumber(sequence_number)` skips this one.
    #[error("cannot decrypt record {sequence_number} of {shard_id} in stream {stream}: {reason} (key id {key_id})")]
    Decrypt {
        /// The stream.
        stream: String,
        /// The shard.
        shard_id: String,
        /// The record's sequence number.
        sequence_number: String,
        /// The key id the record was encrypted under.
        key_id: String,
        /// Why it could not be decrypted.
        reason: DecryptFailure,
    },
    /// An encryption key supplied through [`crate::StreamOptions`] is
    /// unusable (bad key file or key id); reported by
    /// [`crate::Streams::open`] (`InternalFailureException`).
    #[error("encryption key {key_id}: {reason}")]
    KeyConfig {
        /// The configured key id.
        key_id: String,
        /// What is wrong, naming the key file if there is one.
        reason: String,
    },
}

/// Why an encrypted record could not be decrypted ([`Error::Decrypt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptFailure {
    /// No key with the record's key id is configured.
    KeyNotConfigured,
    /// The key under that id did not authenticate the record: a different
    /// key, or altered ciphertext or record fields.
    AuthenticationFailed,
}

impl std::fmt::Display for DecryptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecryptFailure::KeyNotConfigured => "no key with this id is configured",
            DecryptFailure::AuthenticationFailed => {
                "authentication failed (wrong key for this id, or damaged data)"
            }
        })
    }
}

impl Error {
    /// The Kinesis error name (the `__type` a server returns), e.g.
    /// `"ResourceNotFoundException"`.
    ///
    /// ```
    /// let e = eddy_stream::Error::InvalidArgument("Invalid ShardIterator.".into());
    /// assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    /// ```
    pub fn aws_error_name(&self) -> &'static str {
        match self {
            Error::ResourceNotFound(_) => "ResourceNotFoundException",
            Error::ResourceInUse(_) => "ResourceInUseException",
            Error::InvalidArgument(_) => "InvalidArgumentException",
            Error::ExpiredIterator(_) => "ExpiredIteratorException",
            Error::LimitExceeded(_) => "LimitExceededException",
            Error::Validation(_) => "ValidationException",
            Error::KmsNotFound(_)
            | Error::Decrypt {
                reason: DecryptFailure::KeyNotConfigured,
                ..
            } => "KMSNotFoundException",
            Error::Decrypt {
                reason: DecryptFailure::AuthenticationFailed,
                ..
            } => "KMSAccessDeniedException",
            Error::Io { .. }
            | Error::Corruption { .. }
            | Error::Poisoned(_)
            | Error::KeyConfig { .. } => "InternalFailureException",
        }
    }

    /// True for server-side faults (HTTP 500 on the wire).
    pub fn is_internal(&self) -> bool {
        self.aws_error_name() == "InternalFailureException"
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// `1 validation error detected: …` in Kinesis' (Coral) style.
    pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> Self {
        Error::Validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}

/// A closure turning an `io::Error` into [`Error::Io`] with context.
///
/// The context is formatted only if there is an error: this sits on the
/// path of every frame read.
pub(crate) fn io_ctx<'a>(
    what: &'a str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(format!("{what} {}", path.display()), e)
}
