//! [`Table`]: a handle on one table, and its request builders.
//!
//! Every request is a `#[must_use]` builder that ends in `.run()`, which
//! blocks until the answer is durable, or in `.await`, which parks no
//! thread: the write is evaluated when awaited (stripes locked, condition
//! checked), queued for the change log, and completed by the log's
//! completion thread once it is durable and applied. Both paths log each request as
//! one atomic change, and a write is visible to reads only once it is
//! durable under the database's [`Durability`](crate::Durability).
//!
//! A dropped future does not cancel its write: once queued, the change is
//! logged and applied all the same (a logged change cannot be taken back).
//!
//! The handle names its table: a table deleted and created again under the
//! same name is the new table to a handle taken before.

use std::future::{IntoFuture, Ready};
use std::sync::Arc;

use eddy_model::{AttributeValue, Item};

use crate::db::Database;
use crate::error::Result;
use crate::item_writes::{
    delete_op, old_if_asked, put_op, update_op, CheckOp, UpdateOp, WriteAnswer,
};
use crate::ops::ReturnValues;
use crate::pending::WriteFuture;
use crate::requests::{DeleteItemRequest, ExpressionAttributes, GetItemRequest, PutItemRequest};
use crate::update::Update;
use crate::write::{Mode, WriteOp};

/// A handle on one table of a [`Database`]; from [`Database::table`].
/// Cheap to clone, `Send` and `Sync`.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eddy::{Database, Item, KeySchema, KeyType, ReturnValues};
/// let db = Database::open(dir.path())?;
/// db.create_table("orders", KeySchema::new("id", KeyType::S))?;
/// let orders = db.table("orders")?;
/// orders.put(Item::new().with("id", "o1").with("total", 12)).run()?;
/// // Only if absent: a second put of the same key fails its condition.
/// let again = orders
///     .put(Item::new().with("id", "o1").with("total", 99))
///     .condition("attribute_not_exists(id)")
///     .run();
/// assert!(matches!(again, Err(eddy::Error::ConditionalCheckFailed { .. })));
/// let got = orders.get(Item::new().with("id", "o1")).run()?.unwrap();
/// assert_eq!(got.get("total"), Some(&12.into()));
/// let old = orders
///     .delete(Item::new().with("id", "o1"))
///     .returning(ReturnValues::AllOld)
///     .run()?;
/// assert_eq!(old, Some(got));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The same requests, awaited (any executor; here tokio's):
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # use eddy::{Database, Item, KeySchema, KeyType};
/// # let db = Database::open(dir.path())?;
/// # db.create_table("orders", KeySchema::new("id", KeyType::S))?;
/// let orders = db.table("orders")?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// runtime.block_on(async {
///     orders.put(Item::new().with("id", "o2")).await?;
///     let got = orders.get(Item::new().with("id", "o2")).await?;
///     assert!(got.is_some());
///     Ok::<_, eddy::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Table {
    /// Keeps the database open while the handle lives.
    db: Database,
    name: Arc<str>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).finish()
    }
}

impl Database {
    /// A handle on the table `name`.
    ///
    /// # Errors
    ///
    /// [`Error::TableNotFound`](crate::Error::TableNotFound) if there is
    /// no such table; [`Error::Closed`](crate::Error::Closed).
    pub fn table(&self, name: &str) -> Result<Table> {
        self.inner.check_open()?;
        self.inner.store.shared_table(name)?;
        Ok(Table {
            db: self.clone(),
            name: name.into(),
        })
    }
}

impl Table {
    /// The table's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Creates or replaces the item (PutItem).
    pub fn put(&self, item: Item) -> PutItem<'_> {
        PutItem {
            table: self,
            request: PutItemRequest {
                table_name: self.name.to_string(),
                item,
                ..Default::default()
            },
        }
    }

    /// Deletes the item with this key (DeleteItem). Deleting a missing
    /// item succeeds and logs nothing.
    pub fn delete(&self, key: Item) -> DeleteItem<'_> {
        DeleteItem {
            table: self,
            request: DeleteItemRequest {
                table_name: self.name.to_string(),
                key,
                ..Default::default()
            },
        }
    }

    /// Updates the attributes of the item with this key (UpdateItem),
    /// creating it if it does not exist.
    pub fn update(&self, key: Item, update: Update) -> UpdateItem<'_> {
        UpdateItem {
            table: self,
            request: UpdateOp {
                table_name: self.name.to_string(),
                key,
                update,
                condition_expression: None,
                attributes: ExpressionAttributes::default(),
                return_values: ReturnValues::None,
                return_item_on_condition_failure: false,
            },
        }
    }

    /// A condition on the item with this key, for a
    /// [`Transaction`](crate::Transaction) (`ConditionCheck`): the
    /// transaction is cancelled unless it holds.
    pub fn check(&self, key: Item, condition: impl Into<String>) -> CheckItem<'_> {
        CheckItem {
            table: self,
            request: CheckOp {
                table_name: self.name.to_string(),
                key,
                condition_expression: Some(condition.into()),
                attributes: ExpressionAttributes::default(),
                return_item_on_condition_failure: false,
            },
        }
    }

    /// Reads the item with this key (GetItem); every acknowledged write is
    /// visible.
    pub fn get(&self, key: Item) -> GetItem<'_> {
        GetItem {
            table: self,
            request: GetItemRequest {
                table_name: self.name.to_string(),
                key,
                ..Default::default()
            },
        }
    }

    /// A write, blocking until it is durable and applied.
    fn run_write(&self, (op, answer): Prepared) -> Result<Option<Item>> {
        Ok(answer(self.db.inner.write(vec![op?])?))
    }

    /// The future of a write: queued now, answered by the log's
    /// completion thread once durable and applied.
    fn await_write(&self, (op, answer): Prepared) -> WriteFuture<Option<Item>> {
        let pending = match op {
            Ok(op) => self.db.inner.write_async(vec![op], Mode::FirstError, None),
            Err(e) => crate::pending::PendingWrite::ready(Err(e)),
        };
        WriteFuture::new(pending, answer)
    }
}

/// A write builder's checked write (or why it was refused), and how to
/// turn the written images into its answer: shared by `.run()` and
/// `.await`.
type Prepared = (Result<WriteOp<'static>>, WriteAnswer);

/// `#name` and `:value` placeholders of a request's expressions, shared
/// by every builder with expressions (`self.request.attributes`).
macro_rules! placeholder_methods {
    () => {
        /// Defines the name placeholder `#placeholder` of the expressions.
        pub fn name(self, placeholder: impl Into<String>, name: impl Into<String>) -> Self {
            self.placeholders(|a| a.name(placeholder, name))
        }

        /// Defines the value placeholder `:placeholder` of the expressions.
        pub fn value(
            self,
            placeholder: impl Into<String>,
            value: impl Into<AttributeValue>,
        ) -> Self {
            self.placeholders(|a| a.value(placeholder, value))
        }

        fn placeholders(
            mut self,
            add: impl FnOnce(ExpressionAttributes) -> ExpressionAttributes,
        ) -> Self {
            self.request.attributes = add(std::mem::take(&mut self.request.attributes));
            self
        }
    };
}
pub(crate) use placeholder_methods;

/// A condition (and placeholders), shared by the write builders.
macro_rules! condition_methods {
    () => {
        /// Only if this condition expression holds for the current item;
        /// otherwise the request fails with
        /// [`Error::ConditionalCheckFailed`](crate::Error::ConditionalCheckFailed)
        /// and writes nothing.
        pub fn condition(mut self, expression: impl Into<String>) -> Self {
            self.request.condition_expression = Some(expression.into());
            self
        }

        $crate::table::placeholder_methods!();

        /// What to answer with: [`ReturnValues::AllOld`] for the item as
        /// it was (`None` if there was none); updates also take the other
        /// values. The default, [`ReturnValues::None`], answers `None`.
        pub fn returning(mut self, values: ReturnValues) -> Self {
            self.request.return_values = values;
            self
        }

        /// When the condition fails, the error carries the current item
        /// (`ReturnValuesOnConditionCheckFailure = ALL_OLD`).
        pub fn old_item_on_condition_failure(mut self) -> Self {
            self.request.return_item_on_condition_failure = true;
            self
        }
    };
}

/// A put; from [`Table::put`]. Answers `None`, or the old item after
/// [`returning`](PutItem::returning)`(ReturnValues::AllOld)`.
#[must_use = "a request does nothing until .run() or .await"]
#[derive(Debug)]
pub struct PutItem<'t> {
    pub(crate) table: &'t Table,
    pub(crate) request: PutItemRequest,
}

impl PutItem<'_> {
    condition_methods!();

    /// Writes, and blocks until the change is durable.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an item or
    /// expression that breaks a rule,
    /// [`Error::ConditionalCheckFailed`](crate::Error::ConditionalCheckFailed),
    /// [`Error::TableNotFound`](crate::Error::TableNotFound), and the
    /// storage errors of [`Error::kind`](crate::Error::kind) `Storage`.
    pub fn run(self) -> Result<Option<Item>> {
        let table = self.table;
        table.run_write(self.prepare())
    }

    fn prepare(self) -> Prepared {
        let returns = self.request.return_values;
        let op = put_op(&self.table.db.inner, self.request);
        (op, Box::new(move |written| old_if_asked(returns, written)))
    }
}

impl IntoFuture for PutItem<'_> {
    type Output = Result<Option<Item>>;
    type IntoFuture = WriteFuture<Option<Item>>;

    /// The errors of [`PutItem::run`].
    fn into_future(self) -> Self::IntoFuture {
        let table = self.table;
        table.await_write(self.prepare())
    }
}

/// A delete; from [`Table::delete`]. Answers `None`, or the old item after
/// [`returning`](DeleteItem::returning)`(ReturnValues::AllOld)`.
#[must_use = "a request does nothing until .run() or .await"]
#[derive(Debug)]
pub struct DeleteItem<'t> {
    pub(crate) table: &'t Table,
    pub(crate) request: DeleteItemRequest,
}

impl DeleteItem<'_> {
    condition_methods!();

    /// Deletes, and blocks until the change is durable.
    ///
    /// # Errors
    ///
    /// As [`PutItem::run`].
    pub fn run(self) -> Result<Option<Item>> {
        let table = self.table;
        table.run_write(self.prepare())
    }

    fn prepare(self) -> Prepared {
        let returns = self.request.return_values;
        let op = delete_op(&self.table.db.inner, self.request);
        (op, Box::new(move |written| old_if_asked(returns, written)))
    }
}

impl IntoFuture for DeleteItem<'_> {
    type Output = Result<Option<Item>>;
    type IntoFuture = WriteFuture<Option<Item>>;

    fn into_future(self) -> Self::IntoFuture {
        let table = self.table;
        table.await_write(self.prepare())
    }
}

/// An update; from [`Table::update`]. Answers what
/// [`returning`](UpdateItem::returning) asks for (`None` by default).
#[must_use = "a request does nothing until .run() or .await"]
pub struct UpdateItem<'t> {
    pub(crate) table: &'t Table,
    pub(crate) request: UpdateOp,
}

impl std::fmt::Debug for UpdateItem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateItem")
            .field("table", &self.request.table_name)
            .field("key", &self.request.key)
            .field("update", &self.request.update)
            .finish_non_exhaustive()
    }
}

impl UpdateItem<'_> {
    condition_methods!();

    /// Updates, and blocks until the change is durable.
    ///
    /// # Errors
    ///
    /// As [`PutItem::run`]; also [`Error::Validation`](crate::Error::Validation)
    /// for an update of a key attribute, two actions on one attribute, or
    /// an `ADD` or `DELETE` of the wrong type for the stored value.
    pub fn run(self) -> Result<Option<Item>> {
        let table = self.table;
        table.run_write(self.prepare())
    }

    fn prepare(self) -> Prepared {
        match update_op(&self.table.db.inner, self.request) {
            Ok((op, answer)) => (Ok(op), answer),
            Err(e) => (Err(e), Box::new(|_| None)),
        }
    }
}

impl IntoFuture for UpdateItem<'_> {
    type Output = Result<Option<Item>>;
    type IntoFuture = WriteFuture<Option<Item>>;

    fn into_future(self) -> Self::IntoFuture {
        let table = self.table;
        table.await_write(self.prepare())
    }
}

/// A condition check; from [`Table::check`], for a
/// [`Transaction`](crate::Transaction).
#[must_use = "a condition check does nothing outside a transaction"]
#[derive(Debug)]
pub struct CheckItem<'t> {
    pub(crate) table: &'t Table,
    pub(crate) request: CheckOp,
}

impl CheckItem<'_> {
    crate::table::placeholder_methods!();

    /// When the condition fails, the cancellation reason carries the
    /// current item.
    pub fn old_item_on_condition_failure(mut self) -> Self {
        self.request.return_item_on_condition_failure = true;
        self
    }
}

/// A read by key; from [`Table::get`]. Answers the item, or `None`.
#[must_use = "a request does nothing until .run() or .await"]
#[derive(Debug)]
pub struct GetItem<'t> {
    table: &'t Table,
    request: GetItemRequest,
}

impl GetItem<'_> {
    /// Returns only these attributes (a projection expression, such as
    /// `"id, #n, address.city"`).
    pub fn projection(mut self, expression: impl Into<String>) -> Self {
        self.request.projection_expression = Some(expression.into());
        self
    }

    /// Defines the name placeholder `#placeholder` of the projection.
    pub fn name(mut self, placeholder: impl Into<String>, name: impl Into<String>) -> Self {
        self.request.attributes =
            std::mem::take(&mut self.request.attributes).name(placeholder, name);
        self
    }

    /// Reads the item. A read does not wait for anything to be durable.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for a bad key or
    /// projection, [`Error::TableNotFound`](crate::Error::TableNotFound),
    /// [`Error::Closed`](crate::Error::Closed), and storage errors.
    pub fn run(self) -> Result<Option<Item>> {
        self.table.db.get_item_with(self.request)
    }
}

impl IntoFuture for GetItem<'_> {
    type Output = Result<Option<Item>>;
    type IntoFuture = Ready<Result<Option<Item>>>;

    /// Reads at once: a read never waits for an fsync.
    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self.run())
    }
}
