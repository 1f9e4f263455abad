//! Table definitions and DynamoDB's table-name rules.

use crate::error::{Error, Result};
use crate::key::KeySchema;

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
    if name.len() < 3 || name.len() > 255 {
        return Err(Error::InvalidTableName(format!(
            "TableName must be at least 3 characters long and at most 255 characters long, got {} characters",
            name.chars().count()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::InvalidTableName(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ (found {bad:?})"
        )));
    }
    Ok(())
}
