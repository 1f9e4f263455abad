//! Change records: what the write-ahead change log holds for every committed
//! item change.
//!
//! A [`Change`] is what a writer hands to the log: the table, the item's key
//! and the images before and after. The log gives it a log sequence number
//! (LSN) and a creation time when it commits, making it a [`ChangeRecord`].
//! The event kind follows from which images exist, so it cannot disagree
//! with them: after only → INSERT, both → MODIFY, before only → REMOVE.

use std::fmt;

use crate::size::{cdc_units, item_size};
use crate::value::Item;

/// The kind of an item-level change, as DynamoDB names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A new item.
    Insert,
    /// An existing item replaced or updated.
    Modify,
    /// An item deleted.
    Remove,
}

impl ChangeKind {
    /// `"INSERT"`, `"MODIFY"` or `"REMOVE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::Remove => "REMOVE",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChangeOrigin {
    /// A write by the application (DynamoDB's `userIdentity: null`).
    #[default]
    Application,
    /// A deletion by Time to Live expiry (DynamoDB's service identity).
    TimeToLive,
}

/// An item change before the log commits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The table's unique id (see [`crate::TableDef::id`]).
    pub table_id: u64,
    /// The table's name.
    pub table: String,
    /// The item's primary key attributes.
    pub keys: Item,
    /// The whole item before the change; `None` for an insert.
    pub old_image: Option<Item>,
    /// The whole item after the change; `None` for a remove.
    pub new_image: Option<Item>,
    /// Who made the change.
    pub origin: ChangeOrigin,
}

impl Change {
    /// The event kind, or `None` when neither image exists (not a change).
    pub fn kind(&self) -> Option<ChangeKind> {
        match (&self.old_image, &self.new_image) {
            (None, Some(_)) => Some(ChangeKind::Insert),
            (Some(_), Some(_)) => Some(ChangeKind::Modify),
            (Some(_), None) => Some(ChangeKind::Remove),
            (None, None) => None,
        }
    }

    /// Whether this changes anything: a write whose after image equals the
    /// before image, or a delete of a missing item, does not.
    pub fn is_effective(&self) -> bool {
        self.old_image != self.new_image
    }
}

/// A committed change, as the log stores and replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Log sequence number: strictly increasing across the whole log.
    pub lsn: u64,
    /// Commit time in microseconds since the Unix epoch; never decreases
    /// from one record to the next, even if the wall clock does.
    pub created_micros: u64,
    /// The change itself.
    pub change: Change,
}

impl ChangeRecord {
    /// The event kind.
    pub fn kind(&self) -> ChangeKind {
        // A committed record always has at least one image: the codec
        // refuses to decode one without, and the writer never logs one.
        self.change.kind().unwrap_or(ChangeKind::Remove)
    }

    /// The size of the item by DynamoDB's rules: the after image, or the
    /// before image for a remove.
    pub fn item_size(&self) -> usize {
        self.change
            .new_image
            .as_ref()
            .or(self.change.old_image.as_ref())
            .map_or(0, item_size)
    }

    /// DynamoDB's `SizeBytes` for this change: the sizes of the keys and of
    /// each image present.
    pub fn size_bytes(&self) -> usize {
        item_size(&self.change.keys)
            + self.change.new_image.as_ref().map_or(0, item_size)
            + self.change.old_image.as_ref().map_or(0, item_size)
    }

    /// Change data capture units this change costs.
    pub fn cdc_units(&self) -> u64 {
        cdc_units(
            self.change.old_image.as_ref(),
            self.change.new_image.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_follows_images() {
        let item = Item::new().with("pk", "a").with("v", 1);
        let mut change = Change {
            table_id: 1,
            table: "t".into(),
            keys: Item::new().with("pk", "a"),
            old_image: None,
            new_image: Some(item.clone()),
            origin: ChangeOrigin::Application,
        };
        assert_eq!(change.kind(), Some(ChangeKind::Insert));
        change.old_image = Some(item.clone());
        assert_eq!(change.kind(), Some(ChangeKind::Modify));
        assert!(!change.is_effective());
        change.new_image = None;
        assert_eq!(change.kind(), Some(ChangeKind::Remove));
        let record = ChangeRecord {
            lsn: 1,
            created_micros: 0,
            change,
        };
        // keys (2 + 1) + old image (3 + 2 + 1 + 2)
        assert_eq!(record.size_bytes(), 3 + 6);
        assert_eq!(record.item_size(), 6);
        assert_eq!(record.cdc_units(), 1);
    }
}
