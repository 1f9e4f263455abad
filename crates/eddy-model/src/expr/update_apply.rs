//! Applies a parsed update expression to an item.
//!
//! DynamoDB evaluates every `SET` value against the item as it was before
//! the update, then writes. Because no two target paths overlap, writes
//! cannot disturb each other, with one exception this module orders for:
//! several indexes of one list. `SET` writes ascending, so that several
//! writes past the end append in index order, and `REMOVE` deletes
//! descending, so every index refers to the list as it was.
//!
//! Writing through a path needs every step but the last to exist with the
//! right type (`SET a.b` when `a` is not a map is an error); a list index
//! past the end appends.

use crate::expr::path::{DocumentPath, PathElement};
use crate::expr::update::{SetValue, UpdateExpression, UpdateOperand};
use crate::expr::{ExprError, ExprResult};
use crate::value::{AttributeValue, Item};

fn invalid_path() -> ExprError {
    ExprError::new("The document path provided in the update expression is invalid for update")
}

fn wrong_type() -> ExprError {
    ExprError::new(
        "Invalid UpdateExpression: An operand in the update expression has an incorrect data type",
    )
}

fn missing_attribute() -> ExprError {
    ExprError::new("The provided expression refers to an attribute that does not exist in the item")
}

/// `update` applied to `base`.
pub(crate) fn apply(update: &UpdateExpression, base: &Item) -> ExprResult<Item> {
    let mut sets = Vec::with_capacity(update.set.len());
    for (path, value) in &update.set {
        sets.push((path, eval_set(value, base)?));
    }
    sets.sort_by(|a, b| a.0.cmp(b.0));
    let mut item = base.clone();
    for (path, value) in sets {
        set_path(&mut item, path, value)?;
    }
    let mut removes: Vec<&DocumentPath> = update.remove.iter().collect();
    removes.sort_by(|a, b| b.cmp(a));
    for path in removes {
        remove_path(&mut item, path)?;
    }
    for (path, value) in &update.add {
        let new = match path.get(&item) {
            None => value.clone(),
            Some(old) => add_values(old, value)?,
        };
        set_path(&mut item, path, new)?;
    }
    for (path, value) in &update.delete {
        let Some(old) = path.get(&item) else {
            continue;
        };
        match delete_values(old, value)? {
            Some(new) => set_path(&mut item, path, new)?,
            None => remove_path(&mut item, path)?,
        }
    }
    item.validate()?;
    Ok(item)
}

fn eval_set(value: &SetValue, base: &Item) -> ExprResult<AttributeValue> {
    let numbers = |a: &UpdateOperand, b: &UpdateOperand| -> ExprResult<_> {
        match (eval_operand(a, base)?, eval_operand(b, base)?) {
            (AttributeValue::N(x), AttributeValue::N(y)) => Ok((x, y)),
            _ => Err(wrong_type()),
        }
    };
    match value {
        SetValue::Operand(o) => eval_operand(o, base),
        SetValue::Plus(a, b) => {
            let (x, y) = numbers(a, b)?;
            Ok(AttributeValue::N(x.checked_add(&y)?))
        }
        SetValue::Minus(a, b) => {
            let (x, y) = numbers(a, b)?;
            Ok(AttributeValue::N(x.checked_sub(&y)?))
        }
    }
}

fn eval_operand(op: &UpdateOperand, base: &Item) -> ExprResult<AttributeValue> {
    match op {
        UpdateOperand::Path(path) => path.get(base).cloned().ok_or_else(missing_attribute),
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::IfNotExists(path, default) => match path.get(base) {
            Some(v) => Ok(v.clone()),
            None => eval_operand(default, base),
        },
        UpdateOperand::ListAppend(a, b) => match (eval_operand(a, base)?, eval_operand(b, base)?) {
            (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                x.extend(y);
                Ok(AttributeValue::L(x))
            }
            _ => Err(wrong_type()),
        },
    }
}

/// `ADD`: a sum of numbers or a union of sets of one type.
fn add_values(old: &AttributeValue, add: &AttributeValue) -> ExprResult<AttributeValue> {
    Ok(match (old, add) {
        (AttributeValue::N(a), AttributeValue::N(b)) => AttributeValue::N(a.checked_add(b)?),
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            AttributeValue::Ss(a.union(b).cloned().collect())
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            AttributeValue::Ns(a.union(b).cloned().collect())
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            AttributeValue::Bs(a.union(b).cloned().collect())
        }
        _ => return Err(wrong_type()),
    })
}

/// `DELETE`: a set difference; `None` when nothing is left.
fn delete_values(old: &AttributeValue, del: &AttributeValue) -> ExprResult<Option<AttributeValue>> {
    let new = match (old, del) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            AttributeValue::Ss(a.difference(b).cloned().collect())
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            AttributeValue::Ns(a.difference(b).cloned().collect())
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            AttributeValue::Bs(a.difference(b).cloned().collect())
        }
        _ => return Err(wrong_type()),
    };
    let empty = match &new {
        AttributeValue::Ss(s) => s.is_empty(),
        AttributeValue::Ns(s) => s.is_empty(),
        AttributeValue::Bs(s) => s.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(new))
}

/// The container holding the last element of a nested `path`, which must
/// exist.
fn parent_mut<'a>(item: &'a mut Item, path: &DocumentPath) -> ExprResult<&'a mut AttributeValue> {
    let mut value = item.get_mut(path.attribute()).ok_or_else(invalid_path)?;
    let rest = path.rest();
    for element in &rest[..rest.len().saturating_sub(1)] {
        value = step_mut(value, element).ok_or_else(invalid_path)?;
    }
    Ok(value)
}

fn step_mut<'a>(
    value: &'a mut AttributeValue,
    element: &PathElement,
) -> Option<&'a mut AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Name(name)) => map.get_mut(name),
        (AttributeValue::L(list), PathElement::Index(i)) => list.get_mut(*i),
        _ => None,
    }
}

fn set_path(item: &mut Item, path: &DocumentPath, value: AttributeValue) -> ExprResult<()> {
    let Some(last) = path.rest().last() else {
        item.insert(path.attribute(), value);
        return Ok(());
    };
    match (parent_mut(item, path)?, last) {
        (AttributeValue::M(map), PathElement::Name(name)) => {
            map.insert(name.clone(), value);
        }
        (AttributeValue::L(list), PathElement::Index(i)) => match list.get_mut(*i) {
            Some(slot) => *slot = value,
            None => list.push(value),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_path(item: &mut Item, path: &DocumentPath) -> ExprResult<()> {
    let Some(last) = path.rest().last() else {
        item.remove(path.attribute());
        return Ok(());
    };
    match (parent_mut(item, path)?, last) {
        (AttributeValue::M(map), PathElement::Name(name)) => {
            map.remove(name);
        }
        (AttributeValue::L(list), PathElement::Index(i)) => {
            if *i < list.len() {
                list.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}
