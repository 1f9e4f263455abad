//! Typed item updates: the actions of DynamoDB's `UpdateItem` without the
//! expression language.
//!
//! An [`Update`] is a list of actions on top-level attributes (SET, REMOVE,
//! ADD, DELETE). Applying it to the current item (or, if there is none, to
//! the key alone, since UpdateItem upserts) yields the new item. The rules
//! that DynamoDB checks before touching anything are checked here in
//! [`Update::validate`]: key attributes cannot be updated, one attribute
//! appears in one action only, and ADD and DELETE take operands of the right
//! types. Type errors that depend on the stored item are found during
//! [`Update::apply`], before anything is written.

use std::collections::BTreeSet;

use eddy_model::{AttributeValue, Item, KeySchema};

use crate::error::{Error, Result};

/// One action of an [`Update`].
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// `SET name = value`.
    Set(String, AttributeValue),
    /// `REMOVE name`.
    Remove(String),
    /// `ADD name value`: adds a number to a number (absent counts as 0) or
    /// elements to a set (absent counts as empty).
    Add(String, AttributeValue),
    /// `DELETE name set`: removes elements from a set; an emptied set is
    /// removed.
    Delete(String, AttributeValue),
}

impl UpdateAction {
    fn name(&self) -> &str {
        match self {
            UpdateAction::Set(n, _)
            | UpdateAction::Remove(n)
            | UpdateAction::Add(n, _)
            | UpdateAction::Delete(n, _) => n,
        }
    }
}

/// A typed update of an item's attributes.
///
/// ```
/// use eddy::{AttributeValue, Item, Update};
/// let update = Update::new()
///     .set("status", "shipped")
///     .add("count", 2)
///     .add("tags", AttributeValue::string_set(["new"]).unwrap())
///     .remove("draft");
/// assert_eq!(update.actions().len(), 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    actions: Vec<UpdateAction>,
}

impl Update {
    /// An update with no actions (applied to a missing item, it creates the
    /// item with only its key, as DynamoDB does).
    pub fn new() -> Update {
        Update::default()
    }

    /// Sets an attribute to a value.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Update {
        self.actions
            .push(UpdateAction::Set(name.into(), value.into()));
        self
    }

    /// Removes an attribute.
    pub fn remove(mut self, name: impl Into<String>) -> Update {
        self.actions.push(UpdateAction::Remove(name.into()));
        self
    }

    /// Adds a number to a number attribute, or elements to a set attribute.
    pub fn add(mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Update {
        self.actions
            .push(UpdateAction::Add(name.into(), value.into()));
        self
    }

    /// Deletes elements from a set attribute.
    pub fn delete(mut self, name: impl Into<String>, set: AttributeValue) -> Update {
        self.actions.push(UpdateAction::Delete(name.into(), set));
        self
    }

    /// The actions, in the order given.
    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// The names of the attributes this update touches.
    pub fn touched(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(UpdateAction::name)
    }

    /// Checks the update against the table's key schema, independently of
    /// any stored item.
    pub fn validate(&self, schema: &KeySchema) -> Result<()> {
        let mut seen = BTreeSet::new();
        for action in &self.actions {
            let name = action.name();
            eddy_model::value::check_attribute_name(name)?;
            if schema.is_key_attribute(name) {
                return Err(Error::Validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                )));
            }
            if !seen.insert(name) {
                return Err(Error::Validation(format!(
                    "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [{name}], path two: [{name}]"
                )));
            }
            match action {
                UpdateAction::Set(_, value) => value.validate(name)?,
                UpdateAction::Add(_, value) => {
                    if !matches!(
                        value,
                        AttributeValue::N(_)
                            | AttributeValue::Ss(_)
                            | AttributeValue::Ns(_)
                            | AttributeValue::Bs(_)
                    ) {
                        return Err(operand_error("ADD", value));
                    }
                    value.validate(name)?;
                }
                UpdateAction::Delete(_, value) => {
                    if !matches!(
                        value,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                    ) {
                        return Err(operand_error("DELETE", value));
                    }
                    value.validate(name)?;
                }
                UpdateAction::Remove(_) => {}
            }
        }
        Ok(())
    }

    /// Applies the update to `current` (or to `key` when there is no current
    /// item) and returns the new item.
    pub fn apply(&self, current: Option<&Item>, key: &Item) -> Result<Item> {
        let mut item = current.cloned().unwrap_or_else(|| key.clone());
        for action in &self.actions {
            match action {
                UpdateAction::Set(name, value) => {
                    item.insert(name.clone(), value.clone());
                }
                UpdateAction::Remove(name) => {
                    item.remove(name);
                }
                UpdateAction::Add(name, value) => {
                    let merged = match (item.get(name), value) {
                        (None, v) => v.clone(),
                        (Some(AttributeValue::N(a)), AttributeValue::N(b)) => {
                            AttributeValue::N(a.checked_add(b)?)
                        }
                        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                            AttributeValue::Ss(a.union(b).cloned().collect())
                        }
                        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                            AttributeValue::Ns(a.union(b).cloned().collect())
                        }
                        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                            AttributeValue::Bs(a.union(b).cloned().collect())
                        }
                        (Some(existing), v) => return Err(mismatch("ADD", name, existing, v)),
                    };
                    item.insert(name.clone(), merged);
                }
                UpdateAction::Delete(name, value) => {
                    let remaining = match (item.get(name), value) {
                        (None, _) => continue,
                        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                            non_empty(a.difference(b).cloned().collect(), AttributeValue::Ss)
                        }
                        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => {
                            non_empty(a.difference(b).cloned().collect(), AttributeValue::Ns)
                        }
                        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => {
                            non_empty(a.difference(b).cloned().collect(), AttributeValue::Bs)
                        }
                        (Some(existing), v) => return Err(mismatch("DELETE", name, existing, v)),
                    };
                    match remaining {
                        Some(v) => item.insert(name.clone(), v),
                        None => item.remove(name),
                    };
                }
            }
        }
        Ok(item)
    }
}

fn non_empty<T>(
    set: BTreeSet<T>,
    wrap: fn(BTreeSet<T>) -> AttributeValue,
) -> Option<AttributeValue> {
    (!set.is_empty()).then(|| wrap(set))
}

fn operand_error(op: &str, value: &AttributeValue) -> Error {
    Error::Validation(format!(
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: {op}, operand type: {}",
        value.attribute_type()
    ))
}

fn mismatch(op: &str, name: &str, existing: &AttributeValue, operand: &AttributeValue) -> Error {
    Error::Validation(format!(
        "An operand in the update expression has an incorrect data type: {op} of {} to attribute {name} of type {}",
        operand.attribute_type(),
        existing.attribute_type()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use eddy_model::KeyType;

    fn schema() -> KeySchema {
        KeySchema::new("pk", KeyType::S)
    }

    #[test]
    fn actions_apply_in_order() {
        let key = Item::new().with("pk", "a");
        let current = Item::new()
            .with("pk", "a")
            .with("n", 5)
            .with("tags", AttributeValue::string_set(["x", "y"]).unwrap())
            .with("gone", true);
        let update = Update::new()
            .add("n", -7)
            .add("fresh", 3)
            .add("tags", AttributeValue::string_set(["z"]).unwrap())
            .remove("gone")
            .set("s", "v");
        update.validate(&schema()).unwrap();
        let new = update.apply(Some(&current), &key).unwrap();
        assert_eq!(new.get("n"), Some(&AttributeValue::from(-2)));
        assert_eq!(new.get("fresh"), Some(&AttributeValue::from(3)));
        assert_eq!(
            new.get("tags"),
            Some(&AttributeValue::string_set(["x", "y", "z"]).unwrap())
        );
        assert!(!new.contains("gone"));
        let emptied = Update::new()
            .delete("tags", AttributeValue::string_set(["x", "y", "z"]).unwrap())
            .apply(Some(&new), &key)
            .unwrap();
        assert!(!emptied.contains("tags"));
    }

    #[test]
    fn upsert_starts_from_the_key() {
        let key = Item::new().with("pk", "a");
        assert_eq!(Update::new().remove("x").apply(None, &key).unwrap(), key);
    }

    #[test]
    fn rules_are_checked() {
        let s = schema();
        assert!(Update::new()
            .set("pk", "b")
            .validate(&s)
            .unwrap_err()
            .to_string()
            .contains("part of the key"));
        assert!(Update::new()
            .set("a", 1)
            .remove("a")
            .validate(&s)
            .unwrap_err()
            .to_string()
            .contains("overlap"));
        assert!(Update::new().add("a", "text").validate(&s).is_err());
        assert!(Update::new()
            .delete("a", AttributeValue::from(1))
            .validate(&s)
            .is_err());
        let key = Item::new().with("pk", "a");
        let current = key.clone().with("a", "text");
        let err = Update::new()
            .add("a", 1)
            .apply(Some(&current), &key)
            .unwrap_err();
        assert!(err.to_string().contains("incorrect data type"), "{err}");
        let max = Item::new().with("pk", "a").with(
            "n",
            AttributeValue::number("9.9999999999999999999999999999999999999E+125").unwrap(),
        );
        let err = Update::new()
            .add("n", AttributeValue::number("9E125").unwrap())
            .apply(Some(&max), &key)
            .unwrap_err();
        assert!(err.to_string().contains("overflow"), "{err}");
    }
}
