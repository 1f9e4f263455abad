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
    condition_failed, expr_error, DeleteItemRequest, ExpressionAttributes, PutItemRequest,
};
use crate::update::Update;
use crate::write::{Mutation, WriteOp, Written};

/// A single-item write request with a condition.
trait ConditionalWrite {
    /// Its table, condition, placeholders and whether a failed condition
    /// returns the item.
    fn parts(&self) -> (&str, Option<&str>, &ExpressionAttributes, bool);

    /// Whether it may return what it asks to.
    fn check_returns(&self) -> Result<()>;
}

/// The parts of a request type whose fields have the usual names;
/// `$returns` checks its return values.
macro_rules! conditional_write {
    ($type:ty, $returns:expr) => {
        impl ConditionalWrite for $type {
            fn parts(&self) -> (&str, Option<&str>, &ExpressionAttributes, bool) {
                let condition = self.condition_expression.as_deref();
                (
                    &self.table_name,
                    condition,
                    &self.attributes,
                    self.return_item_on_condition_failure,
                )
            }

            fn check_returns(&self) -> Result<()> {
                $returns(self)
            }
        }
    };
}

conditional_write!(PutItemRequest, |r: &PutItemRequest| only_none_or_all_old(
    r.return_values
));
conditional_write!(DeleteItemRequest, |r: &DeleteItemRequest| {
    only_none_or_all_old(r.return_values)
});
conditional_write!(UpdateOp, |_| Ok(()));
conditional_write!(CheckOp, |_| Ok(()));

/// A checked conditional write: its table, and the mutation that checks
/// the condition against the stored item before `then` computes the new
/// one.
struct Checked {
    table: Arc<TableDef>,
    condition: Option<Condition>,
    return_item: bool,
}

impl Checked {
    /// The write of `key`: `then` runs once the condition holds.
    fn write(
        self,
        key: Item,
        then: impl FnOnce(Option<&Item>) -> Result<Option<Item>> + Send + 'static,
    ) -> WriteOp<'static> {
        let (condition, return_item) = (self.condition, self.return_item);
        WriteOp {
            table: self.table,
            key,
            mutation: Mutation::With(Box::new(move |old| {
                condition_failed(&condition, old, return_item)?;
                then(old)
            })),
        }
    }
}

/// The checks a conditional single-item write passes before it is
/// evaluated: its return values, its condition (parsed, every placeholder
/// used), the database open and the table there.
fn checked_write(inner: &Inner, request: &impl ConditionalWrite) -> Result<Checked> {
    request.check_returns()?;
    let (table_name, condition_expression, attributes, return_item) = request.parts();
    let mut ctx = attributes.context()?;
    let condition = condition_expression
        .map(|text| Condition::parse(text, &mut ctx))
        .transpose()
        .map_err(expr_error)?;
    ctx.check_all_used().map_err(expr_error)?;
    inner.check_open()?;
    Ok(Checked {
        table: inner.store.shared_table(table_name)?,
        condition,
        return_item,
    })
}

/// The write of a PutItem request, its condition parsed and checked.
pub(crate) fn put_op(inner: &Inner, request: PutItemRequest) -> Result<WriteOp<'static>> {
    let checked = checked_write(inner, &request)?;
    checked.table.key_schema.validate_item(&request.item)?;
    let key = checked.table.key_schema.key_of(&request.item)?;
    let item = request.item;
    Ok(checked.write(key, move |_| Ok(Some(item))))
}

/// The write of a DeleteItem request, its condition parsed and checked.
pub(crate) fn delete_op(inner: &Inner, request: DeleteItemRequest) -> Result<WriteOp<'static>> {
    let checked = checked_write(inner, &request)?;
    checked.table.key_schema.validate_key(&request.key)?;
    Ok(checked.write(request.key, |_| Ok(None)))
}

/// The old item of a single write, if `returns` asked for it.
pub(crate) fn old_if_asked(returns: ReturnValues, mut written: Vec<Written>) -> Option<Item> {
    match returns {
        ReturnValues::AllOld => written.pop().and_then(|w| w.old),
        _ => None,
    }
}

/// A condition on one item, checked in a transaction.
#[derive(Debug)]
pub(crate) struct CheckOp {
    pub table_name: String,
    pub key: Item,
    /// Always given (`Some`).
    pub condition_expression: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_item_on_condition_failure: bool,
}

/// The "write" of a condition check: changes nothing, fails if the
/// condition does not hold.
pub(crate) fn check_op(inner: &Inner, request: CheckOp) -> Result<WriteOp<'static>> {
    let checked = checked_write(inner, &request)?;
    checked.table.key_schema.validate_key(&request.key)?;
    Ok(checked.write(request.key, |old| Ok(old.cloned())))
}

/// A typed update of one item, with an optional condition.
#[derive(Debug)]
pub(crate) struct UpdateOp {
    pub table_name: String,
    pub key: Item,
    pub update: Update,
    pub condition_expression: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_values: ReturnValues,
    pub return_item_on_condition_failure: bool,
}

/// The answer of a single-item write, from its written images.
pub(crate) type WriteAnswer = Box<dyn FnOnce(Vec<Written>) -> Option<Item> + Send>;

/// The write of a typed update, and how to answer it.
pub(crate) fn update_op(
    inner: &Inner,
    request: UpdateOp,
) -> Result<(WriteOp<'static>, WriteAnswer)> {
    let checked = checked_write(inner, &request)?;
    checked.table.key_schema.validate_key(&request.key)?;
    request.update.validate(&checked.table.key_schema)?;
    let touched: Vec<String> = request.update.touched().map(str::to_string).collect();
    let (update, key) = (request.update, request.key.clone());
    let op = checked.write(request.key, move |old| update.apply(old, &key).map(Some));
    let returns = request.return_values;
    let answer: WriteAnswer = Box::new(move |mut written| {
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
