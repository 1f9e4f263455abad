//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is all or nothing because eddy's write path already
//! is: every operation's item is locked (stripes in a fixed order), every
//! condition is evaluated against the current items, and the changes go to
//! the change log as one frame, so a crash keeps all of them or none, in the
//! table and in the stream alike. Each changed item still gets its own
//! change record, as in DynamoDB. If any condition fails, nothing is
//! written and [`Error::TransactionCanceled`] gives a reason per operation.
//!
//! Client request tokens make a transaction idempotent for ten minutes: the
//! same token with the same request succeeds again without writing; with a
//! different request it is `IdempotentParameterMismatchException`. Tokens
//! are remembered in memory, so a restart forgets them.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use eddy_model::expr::{Condition, Projection, UpdateExpression};
use eddy_model::{ChangeOrigin, Item};

use crate::db::{Database, Inner};
use crate::error::{Error, Result};
use crate::requests::{condition_failed, expr_error, parse_condition, ExpressionAttributes};
use crate::write::{Mode, Mutation, WriteOp};

/// Refuses two actions on one item.
pub(crate) fn check_distinct(ops: &[WriteOp<'_>]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for op in ops {
        if !seen.insert((op.table.id, op.table.key_schema.encode_key(&op.key)?)) {
            return Err(Error::Validation(
                "Transaction request cannot include multiple operations on one item".into(),
            ));
        }
    }
    Ok(())
}

/// Remembers a done transaction's client request token.
pub(crate) fn remember_token(inner: &Inner, token: &str, fingerprint: u64) {
    inner
        .tokens
        .lock()
        .insert(token.to_string(), (fingerprint, Instant::now()));
}

/// The fingerprint a client request token is checked against.
pub(crate) fn fingerprint(request: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    request.hash(&mut hasher);
    hasher.finish()
}

/// The most actions one transaction may hold.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// How long a client request token is remembered.
pub const TOKEN_TTL: Duration = Duration::from_secs(600);

/// One action of a write transaction.
#[derive(Debug, Clone)]
pub enum TransactWriteItem {
    /// Put an item, if the condition holds.
    Put {
        /// The table.
        table_name: String,
        /// The item.
        item: Item,
        /// `ConditionExpression`.
        condition_expression: Option<String>,
        /// Placeholders.
        attributes: ExpressionAttributes,
        /// Return the item if the condition fails.
        return_item_on_condition_failure: bool,
    },
    /// Update an item, if the condition holds.
    Update {
        /// The table.
        table_name: String,
        /// The item's key.
        key: Item,
        /// `UpdateExpression`.
        update_expression: String,
        /// `ConditionExpression`.
        condition_expression: Option<String>,
        /// Placeholders.
        attributes: ExpressionAttributes,
        /// Return the item if the condition fails.
        return_item_on_condition_failure: bool,
    },
    /// Delete an item, if the condition holds.
    Delete {
        /// The table.
        table_name: String,
        /// The item's key.
        key: Item,
        /// `ConditionExpression`.
        condition_expression: Option<String>,
        /// Placeholders.
        attributes: ExpressionAttributes,
        /// Return the item if the condition fails.
        return_item_on_condition_failure: bool,
    },
    /// Only check a condition on an item.
    ConditionCheck {
        /// The table.
        table_name: String,
        /// The item's key.
        key: Item,
        /// `ConditionExpression`.
        condition_expression: String,
        /// Placeholders.
        attributes: ExpressionAttributes,
        /// Return the item if the condition fails.
        return_item_on_condition_failure: bool,
    },
}

/// Why one action of a cancelled transaction failed (`CancellationReasons`).
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed` or `ValidationError`.
    pub code: String,
    /// The message, for failures.
    pub message: Option<String>,
    /// The item, when a failed condition asked for it.
    pub item: Option<Item>,
}

impl CancellationReason {
    pub(crate) fn from_error(error: Option<Error>) -> CancellationReason {
        match error {
            None => CancellationReason {
                code: "None".into(),
                message: None,
                item: None,
            },
            Some(Error::ConditionalCheckFailed { item }) => CancellationReason {
                code: "ConditionalCheckFailed".into(),
                message: Some("The conditional request failed".into()),
                item,
            },
            Some(other) => CancellationReason {
                code: "ValidationError".into(),
                message: Some(other.to_string()),
                item: None,
            },
        }
    }
}

/// One read of a read transaction.
#[derive(Debug, Clone, Default)]
pub struct TransactGetItem {
    /// The table.
    pub table_name: String,
    /// The item's key.
    pub key: Item,
    /// `ProjectionExpression`.
    pub projection_expression: Option<String>,
    /// Placeholders.
    pub attributes: ExpressionAttributes,
}

impl Database {
    /// Applies up to 100 puts, updates, deletes and condition checks
    /// atomically (TransactWriteItems).
    pub fn transact_write_items(
        &self,
        actions: Vec<TransactWriteItem>,
        client_request_token: Option<&str>,
    ) -> Result<()> {
        let fingerprint = fingerprint(&format!("{actions:?}"));
        self.run_transaction(actions.len(), fingerprint, client_request_token, || {
            actions.into_iter().map(|a| self.prepare(a)).collect()
        })
    }

    /// A write transaction of `count` actions, whatever the request form:
    /// the count checked, then the token, then the actions prepared by
    /// `prepare` and written as one group (cancelled whole if any
    /// condition fails).
    pub(crate) fn run_transaction(
        &self,
        count: usize,
        fingerprint: u64,
        client_request_token: Option<&str>,
        prepare: impl FnOnce() -> Result<Vec<WriteOp<'static>>>,
    ) -> Result<()> {
        if self.transaction_replayed(count, fingerprint, client_request_token)? {
            return Ok(());
        }
        let ops = prepare()?;
        check_distinct(&ops)?;
        self.inner
            .write_group(ops, Mode::Transaction, ChangeOrigin::Application)?;
        if let Some(token) = client_request_token {
            remember_token(&self.inner, token, fingerprint);
        }
        Ok(())
    }

    /// The checks before a transaction's actions are evaluated: their
    /// count, then its client request token. `Ok(true)` if the token's
    /// transaction is done already.
    pub(crate) fn transaction_replayed(
        &self,
        count: usize,
        fingerprint: u64,
        client_request_token: Option<&str>,
    ) -> Result<bool> {
        if count == 0 || count > MAX_TRANSACTION_ITEMS {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACTION_ITEMS} and greater than or equal to 1 (got {count})"
            )));
        }
        if let Some(token) = client_request_token {
            let mut tokens = self.inner.tokens.lock();
            tokens.retain(|_, (_, at)| at.elapsed() < TOKEN_TTL);
            match tokens.get(token) {
                Some((seen, _)) if *seen == fingerprint => return Ok(true),
                Some(_) => {
                    return Err(Error::IdempotentParameterMismatch(
                        "The request uses the same client token as a previous, but non-identical request.".into(),
                    ))
                }
                None => {}
            }
        }
        Ok(false)
    }

    fn prepare(&self, action: TransactWriteItem) -> Result<WriteOp<'static>> {
        let (table_name, key, mutation): (String, Item, Mutation<'static>) = match action {
            TransactWriteItem::Put {
                table_name,
                item,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            } => {
                let mut ctx = attributes.context()?;
                let condition = parse_condition(&condition_expression, &mut ctx)?;
                ctx.check_all_used().map_err(expr_error)?;
                let table = self.inner.store.table(&table_name)?;
                table.key_schema.validate_item(&item)?;
                let key = table.key_schema.key_of(&item)?;
                (
                    table_name,
                    key,
                    Mutation::With(Box::new(move |old| {
                        condition_failed(&condition, old, return_item_on_condition_failure)?;
                        Ok(Some(item))
                    })),
                )
            }
            TransactWriteItem::Update {
                table_name,
                key,
                update_expression,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            } => {
                let mut ctx = attributes.context()?;
                let update =
                    UpdateExpression::parse(&update_expression, &mut ctx).map_err(expr_error)?;
                let condition = parse_condition(&condition_expression, &mut ctx)?;
                ctx.check_all_used().map_err(expr_error)?;
                let table = self.inner.store.table(&table_name)?;
                update.validate(&table.key_schema).map_err(expr_error)?;
                let k = key.clone();
                (
                    table_name,
                    key,
                    Mutation::With(Box::new(move |old| {
                        condition_failed(&condition, old, return_item_on_condition_failure)?;
                        update.apply(old, &k).map(Some).map_err(expr_error)
                    })),
                )
            }
            TransactWriteItem::Delete {
                table_name,
                key,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            } => {
                let mut ctx = attributes.context()?;
                let condition = parse_condition(&condition_expression, &mut ctx)?;
                ctx.check_all_used().map_err(expr_error)?;
                (
                    table_name,
                    key,
                    Mutation::With(Box::new(move |old| {
                        condition_failed(&condition, old, return_item_on_condition_failure)?;
                        Ok(None)
                    })),
                )
            }
            TransactWriteItem::ConditionCheck {
                table_name,
                key,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            } => {
                let mut ctx = attributes.context()?;
                let condition =
                    Some(Condition::parse(&condition_expression, &mut ctx).map_err(expr_error)?);
                ctx.check_all_used().map_err(expr_error)?;
                (
                    table_name,
                    key,
                    Mutation::With(Box::new(move |old| {
                        condition_failed(&condition, old, return_item_on_condition_failure)?;
                        Ok(old.cloned())
                    })),
                )
            }
        };
        let table = self.inner.store.shared_table(&table_name)?;
        table.key_schema.validate_key(&key)?;
        Ok(WriteOp {
            table,
            key,
            mutation,
        })
    }

    /// Reads up to 100 items as one consistent snapshot (TransactGetItems):
    /// no write commits between the reads.
    pub fn transact_get_items(&self, gets: Vec<TransactGetItem>) -> Result<Vec<Option<Item>>> {
        if gets.is_empty() || gets.len() > MAX_TRANSACTION_ITEMS {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACTION_ITEMS} and greater than or equal to 1 (got {})",
                gets.len()
            )));
        }
        let mut prepared = Vec::with_capacity(gets.len());
        for get in gets {
            let table = self.inner.store.table(&get.table_name)?;
            table.key_schema.validate_key(&get.key)?;
            let mut ctx = get.attributes.context()?;
            let projection = get
                .projection_expression
                .as_deref()
                .map(|t| Projection::parse(t, &mut ctx))
                .transpose()
                .map_err(expr_error)?;
            ctx.check_all_used().map_err(expr_error)?;
            let encoded = table.key_schema.encode_key(&get.key)?;
            prepared.push((table, get.key, encoded, projection));
        }
        let _guards = self
            .inner
            .lock_stripes(prepared.iter().map(|(t, _, k, _)| (t.id, k.as_slice())));
        prepared
            .iter()
            .map(|(table, key, _, projection)| {
                let item = self.inner.store.get(table, key)?;
                Ok(match (item, projection) {
                    (Some(item), Some(p)) => Some(p.apply(&item)),
                    (item, _) => item,
                })
            })
            .collect()
    }
}
