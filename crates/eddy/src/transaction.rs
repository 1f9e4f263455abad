//! [`Transaction`]: a write transaction built from the same request
//! builders a single write uses.
//!
//! `db.transaction().put(orders.put(item)).update(stock.update(key,
//! Update::new().add("n", -1)).condition("n > :zero").value(":zero", 0))`
//! says each action exactly as it would be said alone (conditions,
//! placeholders, the typed `Update`), and runs them as TransactWriteItems
//! does: all or nothing, one log group, one change record per changed item,
//! cancelled whole with a reason per action if any condition fails.

use std::future::IntoFuture;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::item_writes::{check_op, delete_op, put_op, update_op};
use crate::ops::ReturnValues;
use crate::pending::{PendingWrite, WriteFuture};
use crate::table::{CheckItem, DeleteItem, PutItem, Table, UpdateItem};
use crate::transactions::{check_distinct, fingerprint, remember_token};
use crate::write::{AfterWrite, Mode, WriteOp};

impl Database {
    /// A write transaction (TransactWriteItems) over tables of this
    /// database: up to 100 actions, on distinct items.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eddy::{Database, Error, Item, KeySchema, KeyType, Update};
    /// let db = Database::open(dir.path())?;
    /// db.create_table("accounts", KeySchema::new("id", KeyType::S))?;
    /// let accounts = db.table("accounts")?;
    /// accounts.put(Item::new().with("id", "a").with("balance", 10)).run()?;
    /// let transfer = |n: i64| {
    ///     db.transaction()
    ///         .update(
    ///             accounts
    ///                 .update(Item::new().with("id", "a"), Update::new().add("balance", -n))
    ///                 .condition("balance >= :n")
    ///                 .value(":n", n),
    ///         )
    ///         .update(accounts.update(Item::new().with("id", "b"), Update::new().add("balance", n)))
    ///         .run()
    /// };
    /// transfer(4)?;
    /// // Too much: cancelled whole, a reason per action.
    /// match transfer(7) {
    ///     Err(Error::TransactionCanceled { reasons }) => assert_eq!(reasons[0].code, "ConditionalCheckFailed"),
    ///     other => panic!("{other:?}"),
    /// }
    /// let b = accounts.get(Item::new().with("id", "b")).run()?.unwrap();
    /// assert_eq!(b.get("balance"), Some(&4.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction {
            db: self,
            ops: Ok(Vec::new()),
            requests: String::new(),
            token: None,
        }
    }
}

/// A write transaction; from [`Database::transaction`].
#[must_use = "a transaction does nothing until .run() or .await"]
pub struct Transaction<'d> {
    db: &'d Database,
    /// The actions so far, or the first one that was refused.
    ops: Result<Vec<WriteOp<'static>>>,
    /// What the actions said, for the client request token's fingerprint.
    requests: String,
    token: Option<String>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("actions", &self.ops.as_ref().map(Vec::len))
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Transaction<'_> {
    /// Adds a put (with its condition, if any).
    pub fn put(self, put: PutItem<'_>) -> Self {
        let returns = put.request.return_values;
        let described = format!("{:?}", put.request);
        self.add(put.table, returns, described, |db| {
            put_op(&db.inner, put.request)
        })
    }

    /// Adds an update (the typed [`Update`](crate::Update), with its
    /// condition, if any).
    pub fn update(self, update: UpdateItem<'_>) -> Self {
        let returns = update.request.return_values;
        let described = format!("{:?}", update.request);
        self.add(update.table, returns, described, |db| {
            update_op(&db.inner, update.request).map(|(op, _)| op)
        })
    }

    /// Adds a delete (with its condition, if any).
    pub fn delete(self, delete: DeleteItem<'_>) -> Self {
        let returns = delete.request.return_values;
        let described = format!("{:?}", delete.request);
        self.add(delete.table, returns, described, |db| {
            delete_op(&db.inner, delete.request)
        })
    }

    /// Adds a condition on an item that the transaction does not write.
    pub fn check(self, check: CheckItem<'_>) -> Self {
        let described = format!("{:?}", check.request);
        self.add(check.table, ReturnValues::None, described, |db| {
            check_op(&db.inner, check.request)
        })
    }

    /// Makes the transaction idempotent for ten minutes
    /// (`ClientRequestToken`): the same token with the same actions
    /// succeeds again without writing; with other actions it is
    /// [`Error::IdempotentParameterMismatch`].
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Runs the transaction, and blocks until it is durable. `.await` it
    /// instead to park no thread.
    ///
    /// # Errors
    ///
    /// [`Error::TransactionCanceled`] when a condition fails (nothing is
    /// written); [`Error::Validation`] for no actions or more than 100,
    /// two actions on one item, an action with return values, a table of
    /// another database, or an invalid action;
    /// [`Error::IdempotentParameterMismatch`]; the storage errors.
    pub fn run(self) -> Result<()> {
        let ops = self.ops?;
        let fingerprint = fingerprint(&self.requests);
        self.db
            .run_transaction(ops.len(), fingerprint, self.token.as_deref(), || Ok(ops))
    }

    fn add(
        mut self,
        table: &Table,
        returns: ReturnValues,
        described: String,
        op: impl FnOnce(&Database) -> Result<WriteOp<'static>>,
    ) -> Self {
        let Ok(ops) = &mut self.ops else {
            return self;
        };
        let op = if !table.database().same_as(self.db) {
            Err(Error::Validation(format!(
                "table {} belongs to another database than the transaction",
                table.name()
            )))
        } else if returns != ReturnValues::None {
            Err(Error::Validation(
                "a transaction's actions return no values: remove returning()".into(),
            ))
        } else {
            op(self.db)
        };
        match op {
            Ok(op) => {
                ops.push(op);
                self.requests.push_str(&described);
            }
            Err(e) => self.ops = Err(e),
        }
        self
    }
}

impl IntoFuture for Transaction<'_> {
    type Output = Result<()>;
    type IntoFuture = WriteFuture<()>;

    /// The errors of [`Transaction::run`]. The token is recorded once the
    /// transaction is applied, even if the future is dropped.
    fn into_future(self) -> Self::IntoFuture {
        let fingerprint = fingerprint(&self.requests);
        let (db, token) = (self.db, self.token);
        let pending = self.ops.and_then(|ops| {
            if db.transaction_replayed(ops.len(), fingerprint, token.as_deref())? {
                return Ok(PendingWrite::ready(Ok(Vec::new())));
            }
            check_distinct(&ops)?;
            let after = token.map(|token| -> AfterWrite {
                Box::new(move |inner| remember_token(inner, &token, fingerprint))
            });
            Ok(db.inner.write_async(ops, Mode::Transaction, after))
        });
        WriteFuture::new(
            pending.unwrap_or_else(|e| PendingWrite::ready(Err(e))),
            |_| (),
        )
    }
}
