//! DynamoDB's expression language: condition, filter, key condition,
//! projection and update expressions.
//!
//! Clients of DynamoDB write these expressions as text and expect the same
//! answers, and the same error messages, from eddy as from DynamoDB, so this
//! module follows DynamoDB's grammar and its validation order rather than a
//! tidier design of its own:
//!
//! * one request may carry several expressions (a condition and an update,
//!   a key condition, a filter and a projection) sharing one set of
//!   `ExpressionAttributeNames` and `ExpressionAttributeValues`; an
//!   [`ExpressionContext`] holds them, every parse marks what it uses, and
//!   [`ExpressionContext::check_all_used`] reports leftovers the way DynamoDB
//!   does;
//! * parsing is two-phase like DynamoDB's: a syntax error stops at once,
//!   everything else (reserved words, undefined placeholders, bad function
//!   use, overlapping paths) is collected and the most important one is
//!   reported, in DynamoDB's priority order;
//! * nothing here panics or recurses without bound: expressions are limited
//!   to [`MAX_EXPRESSION_BYTES`], parenthesis and function nesting to
//!   [`MAX_NESTING`], document paths to [`MAX_PATH_DEPTH`] elements, and
//!   `AND`/`OR` chains are kept flat.
//!
//! ```
//! use std::collections::BTreeMap;
//! use eddy_model::expr::{Condition, ExpressionContext, UpdateExpression};
//! use eddy_model::{AttributeValue, Item};
//!
//! let values = BTreeMap::from([(":one".to_string(), AttributeValue::from(1))]);
//! let mut ctx = ExpressionContext::new(BTreeMap::new(), values);
//! let cond = Condition::parse("attribute_not_exists(n) OR n < :one", &mut ctx)?;
//! let update = UpdateExpression::parse("SET n = if_not_exists(n, :one) + :one", &mut ctx)?;
//! ctx.check_all_used()?;
//!
//! let key = Item::new().with("pk", "a");
//! assert!(cond.evaluate(None));
//! let item = update.apply(None, &key)?;
//! assert_eq!(item, Item::new().with("pk", "a").with("n", 2));
//! # Ok::<(), eddy_model::expr::ExprError>(())
//! ```

mod ast;
mod check;
mod condition;
mod eval;
mod key_condition;
mod lexer;
mod parser;
mod path;
mod projection;
mod reserved;
mod update;
mod update_apply;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::value::AttributeValue;

pub use condition::Condition;
pub use key_condition::{KeyCondition, SortKeyCondition};
pub use path::{DocumentPath, PathElement};
pub use projection::Projection;
pub use reserved::is_reserved_word;
pub use update::UpdateExpression;

/// The longest expression DynamoDB accepts, in UTF-8 bytes (4 KB).
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// How deeply parentheses, `NOT`s and function calls may nest.
///
/// DynamoDB documents no such limit; eddy needs one so that hostile input
/// cannot exhaust the stack of the recursive-descent parser.
pub const MAX_NESTING: usize = 64;

/// The most elements a document path may have: DynamoDB's 32 levels of
/// nesting below a top-level attribute, plus the attribute itself.
pub const MAX_PATH_DEPTH: usize = crate::value::MAX_NESTING_DEPTH + 1;

/// The most values the right-hand side of `IN` may list.
pub const MAX_IN_OPERANDS: usize = 100;

/// A DynamoDB `ValidationException` raised by an expression, with DynamoDB's
/// message.
///
/// ```
/// use std::collections::BTreeMap;
/// use eddy_model::expr::{Condition, ExpressionContext};
/// let mut ctx = ExpressionContext::new(BTreeMap::new(), BTreeMap::new());
/// let err = Condition::parse("status = status", &mut ctx).unwrap_err();
/// assert_eq!(
///     err.message(),
///     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    message: String,
}

impl ExprError {
    /// An error with exactly this message.
    pub fn new(message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
        }
    }

    /// An error about an expression of `kind`: the message gets DynamoDB's
    /// `Invalid <Kind>: ` prefix.
    pub fn invalid(kind: ExpressionKind, message: impl fmt::Display) -> ExprError {
        ExprError::new(format!("Invalid {}: {message}", kind.parameter()))
    }

    /// The message, as DynamoDB would word it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::Error> for ExprError {
    fn from(e: crate::Error) -> ExprError {
        ExprError::new(e.to_string())
    }
}

/// The result type of expression parsing and evaluation.
pub type ExprResult<T> = Result<T, ExprError>;

/// Which request parameter an expression came from; it decides the prefix
/// of error messages and which functions are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpressionKind {
    /// `ConditionExpression` of a write.
    Condition,
    /// `FilterExpression` of a query or scan.
    Filter,
    /// `KeyConditionExpression` of a query.
    KeyCondition,
    /// `ProjectionExpression` of a read.
    Projection,
    /// `UpdateExpression` of `UpdateItem`.
    Update,
}

impl ExpressionKind {
    /// The request parameter's name, e.g. `"ConditionExpression"`.
    pub fn parameter(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Projection => "ProjectionExpression",
            ExpressionKind::Update => "UpdateExpression",
        }
    }
}

/// The `ExpressionAttributeNames` and `ExpressionAttributeValues` of one
/// request, and which of them its expressions have used so far.
#[derive(Debug, Clone, Default)]
pub struct ExpressionContext {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl ExpressionContext {
    /// A context over the given substitutions (`"#n" -> "name"`,
    /// `":v" -> value`), which are taken as valid.
    pub fn new(
        names: BTreeMap<String, String>,
        values: BTreeMap<String, AttributeValue>,
    ) -> ExpressionContext {
        ExpressionContext {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    /// A context from a request's optional parameters, checked as DynamoDB
    /// checks them: present maps must not be empty, names start with `#`,
    /// values with `:`, and every value must be a valid attribute value.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use eddy_model::expr::ExpressionContext;
    /// let err = ExpressionContext::from_request(Some(BTreeMap::new()), None).unwrap_err();
    /// assert_eq!(err.message(), "ExpressionAttributeNames must not be empty");
    /// ```
    pub fn from_request(
        names: Option<BTreeMap<String, String>>,
        values: Option<BTreeMap<String, AttributeValue>>,
    ) -> ExprResult<ExpressionContext> {
        if names.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err(ExprError::new("ExpressionAttributeNames must not be empty"));
        }
        if values.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err(ExprError::new(
                "ExpressionAttributeValues must not be empty",
            ));
        }
        let names = names.unwrap_or_default();
        let values = values.unwrap_or_default();
        for key in names.keys() {
            if !is_placeholder(key, '#') {
                return Err(ExprError::new(format!(
                    "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
                )));
            }
        }
        for (key, value) in &values {
            if !is_placeholder(key, ':') {
                return Err(ExprError::new(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
                )));
            }
            value.validate(key).map_err(|e| {
                ExprError::new(format!(
                    "ExpressionAttributeValues contains invalid value: {e} for key {key}"
                ))
            })?;
        }
        Ok(ExpressionContext::new(names, values))
    }

    /// Fails, as DynamoDB does, if a name or value was never used by any
    /// expression parsed with this context. Names are checked first.
    pub fn check_all_used(&self) -> ExprResult<()> {
        let unused: Vec<&str> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        let unused: Vec<&str> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        Ok(())
    }

    /// The attribute name `#placeholder` stands for, marking it used.
    fn resolve_name(&mut self, placeholder: &str) -> Option<String> {
        let name = self.names.get(placeholder)?.clone();
        self.used_names.insert(placeholder.to_string());
        Some(name)
    }

    /// The value `:placeholder` stands for, marking it used.
    fn resolve_value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let value = self.values.get(placeholder)?.clone();
        self.used_values.insert(placeholder.to_string());
        Some(value)
    }
}

/// Whether `key` is `sigil` followed by at least one identifier character.
fn is_placeholder(key: &str, sigil: char) -> bool {
    key.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}
