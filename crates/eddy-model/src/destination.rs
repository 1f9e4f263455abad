//! Kinesis streaming destinations of tables: their states and settings.
//!
//! A table streams its item changes to at most one active Kinesis stream.
//! The destination's life follows DynamoDB's state machine
//! (`shared/reference/aws-behaviour.md` §2.3):
//!
//! ```text
//! (none | DISABLED | ENABLE_FAILED) --enable--> ENABLING --> ACTIVE | ENABLE_FAILED
//! ACTIVE --update--> UPDATING --> ACTIVE
//! ACTIVE --disable--> DISABLING --> DISABLED
//! ```

use crate::stream_record::Precision;

/// The status of a streaming destination, as DynamoDB names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationStatus {
    /// Being enabled.
    Enabling,
    /// Changes are being streamed.
    Active,
    /// Being disabled.
    Disabling,
    /// No longer streaming.
    Disabled,
    /// Enabling failed (see the status description).
    EnableFailed,
    /// Its precision is being changed.
    Updating,
}

impl DestinationStatus {
    /// DynamoDB's name: `ENABLING`, `ACTIVE`, …
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Enabling => "ENABLING",
            DestinationStatus::Active => "ACTIVE",
            DestinationStatus::Disabling => "DISABLING",
            DestinationStatus::Disabled => "DISABLED",
            DestinationStatus::EnableFailed => "ENABLE_FAILED",
            DestinationStatus::Updating => "UPDATING",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            DestinationStatus::Enabling => 0,
            DestinationStatus::Active => 1,
            DestinationStatus::Disabling => 2,
            DestinationStatus::Disabled => 3,
            DestinationStatus::EnableFailed => 4,
            DestinationStatus::Updating => 5,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<DestinationStatus> {
        Some(match code {
            0 => DestinationStatus::Enabling,
            1 => DestinationStatus::Active,
            2 => DestinationStatus::Disabling,
            3 => DestinationStatus::Disabled,
            4 => DestinationStatus::EnableFailed,
            5 => DestinationStatus::Updating,
            _ => return None,
        })
    }
}

/// One streaming destination of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingDestination {
    /// The table's id.
    pub table_id: u64,
    /// The stream's ARN.
    pub stream_arn: String,
    /// The precision set by enable or update; `None` if never set (records
    /// then use milliseconds and DescribeKinesisStreamingDestination shows no
    /// precision, as AWS does).
    pub precision: Option<Precision>,
    /// The current status.
    pub status: DestinationStatus,
    /// Why the destination failed or stalls, if it does.
    pub status_description: Option<String>,
    /// Changes with an LSN above this are streamed (only changes committed
    /// after enabling are).
    pub start_after_lsn: u64,
}

impl StreamingDestination {
    /// The precision records are written with.
    pub fn effective_precision(&self) -> Precision {
        self.precision.unwrap_or_default()
    }
}
