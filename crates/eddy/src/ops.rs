//! The data plane: item reads and writes, queries, scans and batches.

use std::collections::BTreeSet;
use std::sync::Arc;

use eddy_model::{Item, TableDef};
use eddy_store::{Page, Query, Scan};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::item_writes::{old_if_asked, update_op, UpdateOp};
use crate::update::Update;
use crate::write::{validation, Mutation, WriteOp};

/// Which item image a write returns, as DynamoDB's `ReturnValues`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    /// Nothing (the default).
    #[default]
    None,
    /// The whole item as it was before the write.
    AllOld,
    /// The updated attributes as they were before (update only).
    UpdatedOld,
    /// The whole item as it is after the write (update only).
    AllNew,
    /// The updated attributes as they are after (update only).
    UpdatedNew,
}

/// The most items one batch write may hold.
pub const MAX_BATCH_WRITE: usize = 25;
/// The most keys one batch get may hold.
pub const MAX_BATCH_GET: usize = 100;

/// The largest BatchGetItem response, by item size: 16 MB.
pub const MAX_BATCH_GET_BYTES: usize = 16 << 20;

/// The answer to [`Database::batch_get_item`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchGetOutput {
    /// Per table, in request order, the items found.
    pub responses: Vec<(String, Vec<Item>)>,
    /// Keys not read because the response reached 16 MB (`UnprocessedKeys`).
    pub unprocessed_keys: Vec<(String, Vec<Item>)>,
}

/// One request of a [`Database::batch_write_item`] call.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteRequest {
    /// Put (create or replace) this item.
    Put(Item),
    /// Delete the item with this key.
    Delete(Item),
}

impl Database {
    fn table_def(&self, name: &str) -> Result<Arc<TableDef>> {
        self.inner.check_open()?;
        Ok(self.inner.store.shared_table(name)?)
    }

    /// Creates or replaces an item. Returns the old item with
    /// [`ReturnValues::AllOld`] (if there was one), else `None`.
    pub fn put_item(&self, table: &str, item: Item, returns: ReturnValues) -> Result<Option<Item>> {
        only_none_or_all_old(returns)?;
        let table = self.table_def(table)?;
        table.key_schema.validate_item(&item)?;
        let key = table.key_schema.key_of(&item)?;
        let out = self.inner.write(vec![WriteOp {
            table,
            key,
            mutation: Mutation::Put(item),
        }])?;
        Ok(old_if_asked(returns, out))
    }

    /// Reads an item by its key (read-your-writes: every acknowledged write
    /// is visible).
    pub fn get_item(&self, table: &str, key: &Item) -> Result<Option<Item>> {
        let table = self.table_def(table)?;
        Ok(self.inner.store.get(&table, key)?)
    }

    /// Deletes an item. Returns the old item with [`ReturnValues::AllOld`].
    /// Deleting a missing item succeeds and logs nothing.
    pub fn delete_item(
        &self,
        table: &str,
        key: &Item,
        returns: ReturnValues,
    ) -> Result<Option<Item>> {
        only_none_or_all_old(returns)?;
        let table = self.table_def(table)?;
        table.key_schema.validate_key(key)?;
        let out = self.inner.write(vec![WriteOp {
            table,
            key: key.clone(),
            mutation: Mutation::With(Box::new(|_| Ok(None))),
        }])?;
        Ok(old_if_asked(returns, out))
    }

    /// Updates an item's attributes, creating the item if it does not exist.
    /// Returns what `returns` asks for.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eddy::{Database, Item, KeySchema, KeyType, ReturnValues, Update};
    /// let db = Database::open(dir.path())?;
    /// db.create_table("counters", KeySchema::new("id", KeyType::S))?;
    /// let key = Item::new().with("id", "visits");
    /// db.update_item("counters", &key, Update::new().add("n", 1), ReturnValues::None)?;
    /// let new = db.update_item("counters", &key, Update::new().add("n", 41), ReturnValues::UpdatedNew)?;
    /// assert_eq!(new.unwrap().get("n"), Some(&42.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_item(
        &self,
        table: &str,
        key: &Item,
        update: Update,
        returns: ReturnValues,
    ) -> Result<Option<Item>> {
        let (op, answer) = update_op(
            &self.inner,
            UpdateOp {
                table_name: table.to_string(),
                key: key.clone(),
                update,
                condition_expression: None,
                attributes: Default::default(),
                return_values: returns,
                return_item_on_condition_failure: false,
            },
        )?;
        Ok(answer(self.inner.write(vec![op])?))
    }

    /// Queries one partition, optionally narrowed by a sort-key condition,
    /// in sort-key order (or reverse), one page at a time.
    pub fn query(&self, table: &str, query: &Query) -> Result<Page> {
        let table = self.table_def(table)?;
        Ok(self.inner.store.query(&table, query)?)
    }

    /// Reads a whole table in key order, one page at a time.
    pub fn scan(&self, table: &str, scan: &Scan) -> Result<Page> {
        let table = self.table_def(table)?;
        Ok(self.inner.store.scan(&table, scan)?)
    }

    /// Reads up to 100 items by key from one or more tables
    /// (BatchGetItem). Returns, per table in request order, the items found
    /// (missing keys are left out); once the response reaches 16 MB, the
    /// remaining keys come back unprocessed, for the caller to ask again.
    pub fn batch_get_item(&self, requests: &[(String, Vec<Item>)]) -> Result<BatchGetOutput> {
        let total: usize = requests.iter().map(|(_, keys)| keys.len()).sum();
        if total == 0 || total > MAX_BATCH_GET {
            return Err(validation(format!(
                "Too many items requested for the BatchGetItem call: {total} keys, between 1 and {MAX_BATCH_GET} allowed"
            )));
        }
        let mut tables = Vec::with_capacity(requests.len());
        for (name, keys) in requests {
            let table = self.table_def(name)?;
            let mut seen = BTreeSet::new();
            for key in keys {
                table.key_schema.validate_key(key)?;
                if !seen.insert(table.key_schema.encode_key(key)?) {
                    return Err(validation("Provided list of item keys contains duplicates"));
                }
            }
            tables.push(table);
        }
        let mut out = BatchGetOutput::default();
        let mut bytes = 0;
        for ((name, keys), table) in requests.iter().zip(&tables) {
            let mut found = Vec::new();
            let mut unprocessed = Vec::new();
            for (key, item) in keys.iter().zip(self.inner.store.get_many(table, keys)?) {
                let size = item.as_ref().map_or(0, Item::size);
                if bytes + size > MAX_BATCH_GET_BYTES || !unprocessed.is_empty() {
                    unprocessed.push(key.clone());
                    continue;
                }
                bytes += size;
                found.extend(item);
            }
            out.responses.push((name.clone(), found));
            if !unprocessed.is_empty() {
                out.unprocessed_keys.push((name.clone(), unprocessed));
            }
        }
        Ok(out)
    }

    /// Puts and deletes up to 25 items across tables. eddy commits the whole
    /// batch atomically (one log group), which DynamoDB permits but does not
    /// promise; every request is validated before anything is written.
    pub fn batch_write_item(&self, requests: Vec<(String, WriteRequest)>) -> Result<()> {
        if requests.is_empty() || requests.len() > MAX_BATCH_WRITE {
            return Err(validation(format!(
                "Too many items requested for the BatchWriteItem call: {} requests, between 1 and {MAX_BATCH_WRITE} allowed",
                requests.len()
            )));
        }
        let mut ops = Vec::with_capacity(requests.len());
        let mut seen = BTreeSet::new();
        for (name, request) in requests {
            let table = self.table_def(&name)?;
            let (key, mutation): (Item, Mutation<'_>) = match request {
                WriteRequest::Put(item) => {
                    table.key_schema.validate_item(&item)?;
                    (table.key_schema.key_of(&item)?, Mutation::Put(item))
                }
                WriteRequest::Delete(key) => {
                    table.key_schema.validate_key(&key)?;
                    (key, Mutation::With(Box::new(|_| Ok(None))))
                }
            };
            if !seen.insert((table.id, table.key_schema.encode_key(&key)?)) {
                return Err(validation("Provided list of item keys contains duplicates"));
            }
            ops.push(WriteOp {
                table,
                key,
                mutation,
            });
        }
        self.inner.write(ops)?;
        Ok(())
    }
}

/// PutItem and DeleteItem accept only `NONE` and `ALL_OLD`.
pub(crate) fn only_none_or_all_old(returns: ReturnValues) -> Result<()> {
    match returns {
        ReturnValues::None | ReturnValues::AllOld => Ok(()),
        other => Err(Error::Validation(format!(
            "Return values set to invalid value: ReturnValues can only be NONE or ALL_OLD for this operation, got {other:?}"
        ))),
    }
}
