//! Key condition expressions: which items of one partition a query reads.
//!
//! The text is parsed with the condition grammar, then narrowed the way
//! DynamoDB narrows it: an equality on the partition key, optionally `AND`
//! one condition on the sort key (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN` or
//! `begins_with`), each on a top-level key attribute compared with a value
//! of the key's type. The result is structured so the store can turn it
//! into a range scan without looking at expression syntax again.

use std::cmp::Ordering;

use crate::expr::ast::{BoolFunction, Comparator, CondNode, Operand};
use crate::expr::condition::parse_condition;
use crate::expr::eval::compare;
use crate::expr::path::DocumentPath;
use crate::expr::{ExprError, ExprResult, ExpressionContext, ExpressionKind};
use crate::key::{KeySchema, KeyType};
use crate::value::AttributeValue;

/// The condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyCondition {
    /// `sk = v`
    Eq(AttributeValue),
    /// `sk < v`
    Lt(AttributeValue),
    /// `sk <= v`
    Le(AttributeValue),
    /// `sk > v`
    Gt(AttributeValue),
    /// `sk >= v`
    Ge(AttributeValue),
    /// `sk BETWEEN lo AND hi` (inclusive)
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)`
    BeginsWith(AttributeValue),
}

impl SortKeyCondition {
    /// Whether a sort key value satisfies the condition.
    ///
    /// ```
    /// use eddy_model::expr::SortKeyCondition;
    /// use eddy_model::AttributeValue;
    /// let c = SortKeyCondition::Between(1.into(), 3.into());
    /// assert!(c.matches(&AttributeValue::from(3)));
    /// assert!(!c.matches(&AttributeValue::from(4)));
    /// assert!(SortKeyCondition::BeginsWith("ab".into()).matches(&"abc".into()));
    /// ```
    pub fn matches(&self, value: &AttributeValue) -> bool {
        let cmp = |v: &AttributeValue| compare(value, v);
        match self {
            SortKeyCondition::Eq(v) => cmp(v) == Some(Ordering::Equal),
            SortKeyCondition::Lt(v) => cmp(v) == Some(Ordering::Less),
            SortKeyCondition::Le(v) => matches!(cmp(v), Some(Ordering::Less | Ordering::Equal)),
            SortKeyCondition::Gt(v) => cmp(v) == Some(Ordering::Greater),
            SortKeyCondition::Ge(v) => matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal)),
            SortKeyCondition::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
            SortKeyCondition::BeginsWith(p) => match (value, p) {
                (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
                (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
                _ => false,
            },
        }
    }

    fn values(&self) -> Vec<&AttributeValue> {
        match self {
            SortKeyCondition::Between(lo, hi) => vec![lo, hi],
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
        }
    }
}

/// A parsed and schema-checked `KeyConditionExpression`.
///
/// ```
/// use std::collections::BTreeMap;
/// use eddy_model::expr::{ExpressionContext, KeyCondition, SortKeyCondition};
/// use eddy_model::{AttributeValue, KeySchema, KeyType};
/// let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
/// let values = BTreeMap::from([
///     (":p".to_string(), AttributeValue::from("user")),
///     (":lo".to_string(), AttributeValue::from(1)),
///     (":hi".to_string(), AttributeValue::from(9)),
/// ]);
/// let mut ctx = ExpressionContext::new(BTreeMap::new(), values);
/// let kc = KeyCondition::parse("pk = :p AND sk BETWEEN :lo AND :hi", &mut ctx, &schema)?;
/// assert_eq!(kc.partition, AttributeValue::from("user"));
/// assert_eq!(kc.sort, Some(SortKeyCondition::Between(1.into(), 9.into())));
/// # Ok::<(), eddy_model::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCondition {
    /// The partition key value to read.
    pub partition: AttributeValue,
    /// The condition on the sort key, if any.
    pub sort: Option<SortKeyCondition>,
}

impl KeyCondition {
    /// Parses `text` and checks it against the table's (or index's) key
    /// schema.
    pub fn parse(
        text: &str,
        ctx: &mut ExpressionContext,
        schema: &KeySchema,
    ) -> ExprResult<KeyCondition> {
        let root = parse_condition(ExpressionKind::KeyCondition, text, ctx)?;
        let mut conditions: Vec<(String, SortKeyCondition)> = Vec::new();
        collect(&root, &mut conditions)?;
        if conditions.len() > 2 {
            return Err(ExprError::new("Conditions can be of length 1 or 2 only"));
        }
        if schema.sort.is_none() && conditions.len() > 1 {
            return Err(ExprError::new("Query key condition not supported"));
        }
        let pk = &schema.partition;
        let Some(at) = conditions.iter().position(|(name, _)| *name == pk.name) else {
            return Err(ExprError::new(format!(
                "Query condition missed key schema element: {}",
                pk.name
            )));
        };
        let (_, partition) = conditions.remove(at);
        let SortKeyCondition::Eq(partition) = partition else {
            return Err(ExprError::new("Query key condition not supported"));
        };
        check_type(pk.key_type, &partition)?;
        let empty = match &partition {
            AttributeValue::S(s) => s.is_empty(),
            AttributeValue::B(b) => b.is_empty(),
            _ => false,
        };
        if empty {
            return Err(ExprError::new(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
                if pk.key_type == KeyType::S { "string" } else { "binary" },
                pk.name
            )));
        }
        let sort = match (conditions.pop(), &schema.sort) {
            (None, _) => None,
            (Some((name, cond)), Some(sk)) if name == sk.name => {
                for v in cond.values() {
                    check_type(sk.key_type, v)?;
                }
                Some(cond)
            }
            (Some(_), Some(sk)) => {
                return Err(ExprError::new(format!(
                    "Query condition missed key schema element: {}",
                    sk.name
                )))
            }
            (Some(_), None) => return Err(ExprError::new("Query key condition not supported")),
        };
        Ok(KeyCondition { partition, sort })
    }
}

fn check_type(key_type: KeyType, value: &AttributeValue) -> ExprResult<()> {
    if key_type.tag() == value.attribute_type().tag() {
        Ok(())
    } else {
        Err(ExprError::new(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ))
    }
}

fn bad_operator(op: &str) -> ExprError {
    ExprError::new(format!(
        "Invalid operator used in KeyConditionExpression: {op}"
    ))
}

/// Splits the `AND`ed key conditions into (attribute, condition) pairs.
fn collect(node: &CondNode, out: &mut Vec<(String, SortKeyCondition)>) -> ExprResult<()> {
    let (name, cond) = match node {
        CondNode::And(items) => {
            for item in items {
                collect(item, out)?;
            }
            return Ok(());
        }
        CondNode::Or(_) => return Err(bad_operator("OR")),
        CondNode::Not(_) => return Err(bad_operator("NOT")),
        CondNode::In(..) => return Err(bad_operator("IN")),
        CondNode::Compare(Comparator::Ne, ..) => return Err(bad_operator("<>")),
        CondNode::Function(BoolFunction::AttributeExists(_)) => {
            return Err(bad_operator("attribute_exists"))
        }
        CondNode::Function(BoolFunction::AttributeNotExists(_)) => {
            return Err(bad_operator("attribute_not_exists"))
        }
        CondNode::Function(BoolFunction::AttributeType(..)) => {
            return Err(bad_operator("attribute_type"))
        }
        CondNode::Function(BoolFunction::Contains(..)) => return Err(bad_operator("contains")),
        CondNode::Compare(cmp, a, b) => {
            let (path, value, cmp) = match (key_operand(a)?, key_operand(b)?) {
                (Some(path), None) => (path, b, *cmp),
                (None, Some(path)) => (path, a, cmp.flipped()),
                (Some(_), Some(_)) => return Err(multiple_names()),
                (None, None) => return Err(no_key_attribute()),
            };
            let v = constant(value)?;
            let cond = match cmp {
                Comparator::Eq | Comparator::Ne => SortKeyCondition::Eq(v),
                Comparator::Lt => SortKeyCondition::Lt(v),
                Comparator::Le => SortKeyCondition::Le(v),
                Comparator::Gt => SortKeyCondition::Gt(v),
                Comparator::Ge => SortKeyCondition::Ge(v),
            };
            (path, cond)
        }
        CondNode::Between(a, lo, hi) => {
            let first = key_operand(a)?;
            if key_operand(lo)?.is_some() || key_operand(hi)?.is_some() {
                return Err(if first.is_some() {
                    multiple_names()
                } else {
                    first_operand("BETWEEN")
                });
            }
            let path = first.ok_or_else(|| first_operand("BETWEEN"))?;
            (
                path,
                SortKeyCondition::Between(constant(lo)?, constant(hi)?),
            )
        }
        CondNode::Function(BoolFunction::BeginsWith(a, b)) => {
            let first = key_operand(a)?;
            if key_operand(b)?.is_some() {
                return Err(if first.is_some() {
                    multiple_names()
                } else {
                    first_operand("begins_with")
                });
            }
            let path = first.ok_or_else(|| first_operand("begins_with"))?;
            (path, SortKeyCondition::BeginsWith(constant(b)?))
        }
    };
    if out.iter().any(|(n, _)| *n == name) {
        return Err(ExprError::new(
            "KeyConditionExpressions must only contain one condition per key",
        ));
    }
    out.push((name, cond));
    Ok(())
}

/// The key attribute an operand names, if it is a path.
fn key_operand(op: &Operand) -> ExprResult<Option<String>> {
    match op {
        Operand::Path(path) => top_level(path).map(Some),
        Operand::Value(_) => Ok(None),
        Operand::Size(_) => Err(ExprError::new(
            "KeyConditionExpressions cannot contain nested operations",
        )),
    }
}

fn top_level(path: &DocumentPath) -> ExprResult<String> {
    if path.is_top_level() {
        Ok(path.attribute().to_string())
    } else {
        Err(ExprError::new(
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ))
    }
}

fn constant(op: &Operand) -> ExprResult<AttributeValue> {
    match op {
        Operand::Value(v) => Ok(v.clone()),
        _ => Err(no_key_attribute()),
    }
}

fn multiple_names() -> ExprError {
    ExprError::new(
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
    )
}

fn no_key_attribute() -> ExprError {
    ExprError::new("Invalid condition in KeyConditionExpression: No key attribute specified")
}

fn first_operand(op: &str) -> ExprError {
    ExprError::new(format!(
        "Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its first operand"
    ))
}
