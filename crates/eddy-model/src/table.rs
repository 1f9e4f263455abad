//! Table definitions and DynamoDB's table-name rules.
//!
//! A [`TableDef`] is what the catalog records: the name, the id that keeps
//! a deleted table's logged changes out of a newer table of the same name,
//! the primary key and the secondary indexes. Tables created before indexes
//! existed simply have none, which is also what [`TableDef::new`] builds.

use crate::error::{Error, Result};
use crate::index::{validate_indexes, IndexDef};
use crate::key::KeySchema;
use crate::value::Item;

/// A table as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// The table's name (3 to 255 of `[A-Za-z0-9_.-]`).
    pub name: String,
    /// A number unique to this table among all tables ever created in the
    /// database, so a change logged for a deleted table is never applied to
    /// a new table of the same name.
    pub id: u64,
    /// The primary key.
    pub key_schema: KeySchema,
    /// When the table was created, in microseconds since the Unix epoch.
    pub created_micros: u64,
    /// The secondary indexes, global and local, in creation order.
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    /// A table definition without secondary indexes.
    pub fn new(
        name: impl Into<String>,
        id: u64,
        key_schema: KeySchema,
        created_micros: u64,
    ) -> TableDef {
        TableDef {
            name: name.into(),
            id,
            key_schema,
            created_micros,
            indexes: Vec::new(),
        }
    }

    /// This definition with these secondary indexes.
    pub fn with_indexes(mut self, indexes: Vec<IndexDef>) -> TableDef {
        self.indexes = indexes;
        self
    }

    /// The secondary index of this name, if any.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Checks the indexes against DynamoDB's rules (see
    /// [`crate::index::validate_indexes`]).
    pub fn validate_indexes(&self) -> Result<()> {
        validate_indexes(&self.key_schema, &self.indexes)
    }

    /// Checks an item about to be written against every index's key
    /// schema, as DynamoDB does: an index key attribute that is present must
    /// have the index's type (`Type mismatch for Index Key <attr> Expected:
    /// S Actual: N IndexName: <name>`), be non-empty and fit the key size
    /// limits. Absent index key attributes are fine: indexes are sparse.
    ///
    /// ```
    /// use eddy_model::{IndexDef, Item, KeySchema, KeyType, TableDef};
    /// let table = TableDef::new("t1", 1, KeySchema::new("pk", KeyType::S), 0)
    ///     .with_indexes(vec![IndexDef::global("g1", KeySchema::new("email", KeyType::S))]);
    /// assert!(table.validate_item_for_indexes(&Item::new().with("pk", "a")).is_ok());
    /// let err = table.validate_item_for_indexes(&Item::new().with("pk", "a").with("email", 3));
    /// assert_eq!(err.unwrap_err().to_string(),
    ///     "One or more parameter values were invalid: Type mismatch for Index Key email Expected: S Actual: N IndexName: g1");
    /// ```
    pub fn validate_item_for_indexes(&self, item: &Item) -> Result<()> {
        self.indexes.iter().try_for_each(|i| i.validate_item(item))
    }
}

/// Checks a table name against DynamoDB's rules.
///
/// ```
/// use eddy_model::validate_table_name;
/// assert!(validate_table_name("orders.v2_test-1").is_ok());
/// assert!(validate_table_name("ab").is_err());
/// assert!(validate_table_name("bad name").is_err());
/// ```
pub fn validate_table_name(name: &str) -> Result<()> {
    check_name(name, "tableName").map_err(Error::InvalidTableName)
}

/// Checks a table or index name (the rules are the same), naming `field`
/// in the message.
pub(crate) fn check_name(name: &str, field: &str) -> Result<(), String> {
    if name.len() < 3 || name.len() > 255 {
        let what = if field == "tableName" {
            "TableName"
        } else {
            "IndexName"
        };
        return Err(format!(
            "{what} must be at least 3 characters long and at most 255 characters long, got {} characters",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ (found {bad:?})"
        ));
    }
    Ok(())
}
