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
///
/// A destination streams the changes of its table whose LSN lies in its
/// window: above [`start_after_lsn`](Self::start_after_lsn) (only changes
/// committed after enabling are streamed) and, once disabled, up to
/// [`stop_after_lsn`](Self::stop_after_lsn). Its publisher remembers how far
/// it got in [`published_lsn`](Self::published_lsn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingDestination {
    /// The table's id.
    pub table_id: u64,
    /// The stream's ARN.
    pub stream_arn: String,
    /// The current status.
    pub status: DestinationStatus,
    /// Why the destination failed or stalls, if it does.
    pub status_description: Option<String>,
    /// Changes with an LSN above this are streamed.
    pub start_after_lsn: u64,
    /// Set on disable: changes above this LSN are not streamed.
    pub stop_after_lsn: Option<u64>,
    /// Every change up to this LSN has been published (or was outside the
    /// window).
    pub published_lsn: u64,
    /// Precision settings in LSN order: `(after, precision)` applies to
    /// changes with an LSN above `after`, until the next entry. The first
    /// entry is the one given at enable; `None` means never set (records use
    /// milliseconds and describe shows no precision, as AWS does). Updates
    /// append entries, so a change is always written with the precision in
    /// force when it was committed.
    pub precisions: Vec<(u64, Option<Precision>)>,
}

impl StreamingDestination {
    /// The precision currently set, if any.
    pub fn precision(&self) -> Option<Precision> {
        self.precisions.last().and_then(|(_, p)| *p)
    }

    /// The precision of the record for the change at `lsn`.
    pub fn precision_for(&self, lsn: u64) -> Precision {
        self.precisions
            .iter()
            .rev()
            .find(|(after, _)| *after < lsn)
            .and_then(|(_, p)| *p)
            .unwrap_or_default()
    }

    /// Whether the change at `lsn` is in this destination's window.
    pub fn covers(&self, lsn: u64) -> bool {
        self.status != DestinationStatus::EnableFailed
            && lsn > self.start_after_lsn
            && self.stop_after_lsn.is_none_or(|stop| lsn <= stop)
    }

    /// Whether the publisher has nothing left to do for this destination.
    pub fn is_drained(&self) -> bool {
        self.status == DestinationStatus::EnableFailed
            || self
                .stop_after_lsn
                .is_some_and(|stop| self.published_lsn >= stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_precision_history() {
        let mut d = StreamingDestination {
            table_id: 1,
            stream_arn: "arn".into(),
            status: DestinationStatus::Active,
            status_description: None,
            start_after_lsn: 10,
            stop_after_lsn: None,
            published_lsn: 10,
            precisions: vec![(10, None)],
        };
        assert!(!d.covers(10));
        assert!(d.covers(11));
        assert_eq!(d.precision(), None);
        assert_eq!(d.precision_for(11), Precision::Millisecond);
        d.precisions.push((20, Some(Precision::Microsecond)));
        assert_eq!(d.precision_for(20), Precision::Millisecond);
        assert_eq!(d.precision_for(21), Precision::Microsecond);
        assert_eq!(d.precision(), Some(Precision::Microsecond));
        d.stop_after_lsn = Some(30);
        assert!(d.covers(30) && !d.covers(31));
        assert!(!d.is_drained());
        d.published_lsn = 30;
        assert!(d.is_drained());
    }
}
