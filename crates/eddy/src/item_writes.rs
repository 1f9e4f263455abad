//! The writes of single-item requests (PutItem, DeleteItem, UpdateItem),
//! built once for both ways of running them: blocking
//! ([`Inner::write`](crate::db::Inner)) and awaited
//! ([`Inner::write_async`](crate::db::Inner)). Each checks everything that
//! does not depend on the stored item before any lock is taken (return
//! values, expressions and their placeholders, the table, the key), and
//! returns the [`WriteOp`] whose mutation checks the condition against the
//! stored item and computes the new one, and the function that turns the
//! written images into the request's answer.

use std::sync::Arc;

use eddy_model::expr::Condition;
use eddy_model::{Item, TableDef};

use crate::db::Inner;
use crate::error::Result;
use crate::ops::{only_none_or_all_old, ReturnValues};
use crate::requests::{
    condition_failed, expr_error, parse_condition, DeleteItemRequest, ExpressionAttributes,
    PutItemRequest,
};
use crate::update::Update;
use crate::write::{Mutation, WriteOp, Written};

/// A single-item write request with a condition.
trait ConditionalWrite {
    /// Its table, return values, condition and placeholders.
    fn parts(&self) -> (&str, ReturnValues, &Option<String>, &ExpressionAttributes);
}

impl ConditionalWrite for PutItemRequest {
    fn parts(&self) -> (&str, ReturnValues, &Option<String>, &ExpressionAttributes) {
        (
            &self.table_name,
            self.return_values,
            &self.condition_expression,
            &self.attributes,
        )
    }
}

impl ConditionalWrite for DeleteItemRequest {
    fn parts(&self) -> (&str, ReturnValues, &Option<String>, &ExpressionAttributes) {
        (
            &self.table_name,
            self.return_values,
            &self.condition_expression,
            &self.attributes,
        )
    }
}

/// The checks a conditional single-item write passes before it is
/// evaluated: its return values, its condition (parsed, every placeholder
/// used), the database open and the table there.
fn checked_write(
    inner: &Inner,
    request: &impl ConditionalWrite,
) -> Result<(Arc<TableDef>, Option<Condition>)> {
    let (table_name, return_values, condition_expression, attributes) = request.parts();
    only_none_or_all_old(return_values)?;
    let mut ctx = attributes.context()?;
    let condition = parse_condition(condition_expression, &mut ctx)?;
    ctx.check_all_used().map_err(expr_error)?;
    inner.check_open()?;
    Ok((inner.store.shared_table(table_name)?, condition))
}

/// The write of a PutItem request, its condition parsed and checked.
pub(crate) fn put_op(inner: &Inner, request: PutItemRequest) -> Result<WriteOp<'static>> {
    let (table, condition) = checked_write(inner, &request)?;
    table.key_schema.validate_item(&request.item)?;
    let key = table.key_schema.key_of(&request.item)?;
    let (item, return_item) = (request.item, request.return_item_on_condition_failure);
    Ok(WriteOp {
        table,
        key,
        mutation: Mutation::With(Box::new(move |old| {
            condition_failed(&condition, old, return_item)?;
            Ok(Some(item))
        })),
    })
}

/// The write of a DeleteItem request, its condition parsed and checked.
pub(crate) fn delete_op(inner: &Inner, request: DeleteItemRequest) -> Result<WriteOp<'static>> {
    let (table, condition) = checked_write(inner, &request)?;
    table.key_schema.validate_key(&request.key)?;
    let return_item = request.return_item_on_condition_failure;
    Ok(WriteOp {
        table,
        key: request.key,
        mutation: Mutation::With(Box::new(move |old| {
            condition_failed(&condition, old, return_item)?;
            Ok(None)
        })),
    })
}

/// The old item of a single write, if `returns` asked for it.
pub(crate) fn old_if_asked(returns: ReturnValues, mut written: Vec<Written>) -> Option<Item> {
    match returns {
        ReturnValues::AllOld => written.pop().and_then(|w| w.old),
        _ => None,
    }
}

/// A typed update of one item, with an optional condition.
pub(crate) struct UpdateOp {
    pub table_name: String,
    pub key: Item,
    pub update: Update,
    pub condition_expression: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_values: ReturnValues,
    pub return_item_on_condition_failure: bool,
}

/// The answer of an update: what `returns` asks for of the written images.
pub(crate) type UpdateAnswer = Box<dyn FnOnce(Vec<Written>) -> Option<Item> + Send>;

/// The write of a typed update, and how to answer it.
pub(crate) fn update_op(
    inner: &Inner,
    request: UpdateOp,
) -> Result<(WriteOp<'static>, UpdateAnswer)> {
    let mut ctx = request.attributes.context()?;
    let condition = parse_condition(&request.condition_expression, &mut ctx)?;
    ctx.check_all_used().map_err(expr_error)?;
    inner.check_open()?;
    let table = inner.store.shared_table(&request.table_name)?;
    table.key_schema.validate_key(&request.key)?;
    request.update.validate(&table.key_schema)?;
    let touched: Vec<String> = request.update.touched().map(str::to_string).collect();
    let (update, key) = (request.update, request.key.clone());
    let return_item = request.return_item_on_condition_failure;
    let op = WriteOp {
        table,
        key: request.key,
        mutation: Mutation::With(Box::new(move |old| {
            condition_failed(&condition, old, return_item)?;
            update.apply(old, &key).map(Some)
        })),
    };
    let returns = request.return_values;
    let answer: UpdateAnswer = Box::new(move |mut written| {
        let Written { old, new } = written.pop()?;
        let only_touched = |item: Option<Item>| {
            item.map(|i| {
                i.into_iter()
                    .filter(|(name, _)| touched.contains(name))
                    .collect::<Item>()
            })
            .filter(|i| !i.is_empty())
        };
        match returns {
            ReturnValues::None => None,
            ReturnValues::AllOld => old,
            ReturnValues::AllNew => new,
            ReturnValues::UpdatedOld => only_touched(old),
            ReturnValues::UpdatedNew => only_touched(new),
        }
    });
    Ok((op, answer))
}
