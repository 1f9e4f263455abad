//! The control plane: creating, describing, listing and deleting tables.

use std::time::{SystemTime, UNIX_EPOCH};

use eddy_model::{IndexDef, KeySchema, TableDef};

use crate::db::Database;
use crate::error::Result;
use crate::publisher::StreamingMetrics;

/// A table's description, as DescribeTable gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDescription {
    /// The table's definition: name, id, key schema, creation time.
    pub def: TableDef,
    /// `ACTIVE` (eddy creates and deletes tables synchronously).
    pub status: &'static str,
    /// The number of items (exact: counted when described).
    pub item_count: u64,
    /// The items' total size by DynamoDB's rules.
    pub size_bytes: u64,
    /// Streaming-destination counters since the database was opened,
    /// change data capture units among them.
    pub streaming: StreamingMetrics,
    /// The secondary indexes with their item counts and sizes.
    pub indexes: Vec<IndexDescription>,
}

/// A secondary index as DescribeTable shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDescription {
    /// The index's definition.
    pub def: IndexDef,
    /// Items in the index (items without the index key are absent).
    pub item_count: u64,
    /// The projected items' total size.
    pub size_bytes: u64,
}

/// One page of table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableList {
    /// Table names in order.
    pub names: Vec<String>,
    /// Where the next page starts, if there is one.
    pub last_evaluated_table_name: Option<String>,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl Database {
    /// Creates a table. It exists durably when this returns.
    pub fn create_table(&self, name: &str, key_schema: KeySchema) -> Result<TableDescription> {
        self.create_table_with_indexes(name, key_schema, Vec::new())
    }

    /// Creates a table with global and local secondary indexes.
    pub fn create_table_with_indexes(
        &self,
        name: &str,
        key_schema: KeySchema,
        indexes: Vec<IndexDef>,
    ) -> Result<TableDescription> {
        self.inner.check_writable()?;
        let def =
            self.inner
                .store
                .create_table_with_indexes(name, key_schema, indexes, now_micros())?;
        self.describe_table(&def.name)
    }

    /// Adds a global secondary index to a table (UpdateTable), filled from
    /// the existing items before this returns.
    pub fn add_global_secondary_index(
        &self,
        table: &str,
        index: IndexDef,
    ) -> Result<TableDescription> {
        self.inner.check_writable()?;
        self.inner.store.add_global_index(table, index)?;
        self.describe_table(table)
    }

    /// Removes a global secondary index (UpdateTable).
    pub fn remove_global_secondary_index(
        &self,
        table: &str,
        index: &str,
    ) -> Result<TableDescription> {
        self.inner.check_writable()?;
        self.inner.store.remove_global_index(table, index)?;
        self.describe_table(table)
    }

    /// Deletes a table and all its items. Changes already logged for it are
    /// never applied to a later table of the same name.
    pub fn delete_table(&self, name: &str) -> Result<TableDescription> {
        self.inner.check_writable()?;
        let description = self.describe_table(name)?;
        self.inner.store.delete_table(name)?;
        self.inner.end_destinations_of(description.def.id)?;
        self.clear_tags(&self.table_arn(name))?;
        Ok(TableDescription {
            status: "DELETING",
            ..description
        })
    }

    /// A table's ARN, with the region and account of the [`Options`](crate::Options).
    pub fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.inner.options.region, self.inner.options.account
        )
    }

    /// Describes a table. Counting items reads the whole table.
    pub fn describe_table(&self, name: &str) -> Result<TableDescription> {
        self.inner.check_open()?;
        let def = self.inner.store.table(name)?;
        let stats = self.inner.store.table_stats(name)?;
        let streaming = self.streaming_metrics(name)?;
        let mut indexes = Vec::with_capacity(def.indexes.len());
        for index in &def.indexes {
            let stats = self.inner.store.index_stats(name, &index.name)?;
            indexes.push(IndexDescription {
                def: index.clone(),
                item_count: stats.item_count,
                size_bytes: stats.size_bytes,
            });
        }
        Ok(TableDescription {
            def,
            status: "ACTIVE",
            item_count: stats.item_count,
            size_bytes: stats.size_bytes,
            streaming,
            indexes,
        })
    }

    /// All table names, in order.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        self.inner.check_open()?;
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let (page, next) = self.inner.store.list_tables(start.as_deref(), None);
            names.extend(page);
            match next {
                Some(n) => start = Some(n),
                None => return Ok(names),
            }
        }
    }

    /// One page of table names after `exclusive_start` (ListTables).
    pub fn list_tables_page(
        &self,
        exclusive_start: Option<&str>,
        limit: Option<usize>,
    ) -> Result<TableList> {
        self.inner.check_open()?;
        if let Some(limit) = limit {
            if !(1..=100).contains(&limit) {
                return Err(crate::Error::Validation(format!(
                    "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100"
                )));
            }
        }
        let (names, last) = self.inner.store.list_tables(exclusive_start, limit);
        Ok(TableList {
            names,
            last_evaluated_table_name: last,
        })
    }
}
