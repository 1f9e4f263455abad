//! DynamoDB's legacy (pre-expression) parameters rewritten as expressions.
//!
//! `Expected`, `AttributeUpdates`, `KeyConditions`, `QueryFilter`,
//! `ScanFilter` and `AttributesToGet` (which the Kinesis Client Library
//! still sends against its lease table) become condition, update, key
//! condition, filter and projection expression text, so every operation has
//! one code path through the expression engine. Attribute names and values
//! never appear in the text: each becomes a generated placeholder (`#lgN`,
//! `:lgN`) collected in [`Placeholders`], so names with dots, reserved words
//! or odd characters need no escaping.
//!
//! The checks that only make sense for the legacy shapes (argument counts,
//! `Exists` without `Value`, the types `ADD` and `DELETE` take, ...) are made
//! here with DynamoDB's messages; everything else (paths, key attributes,
//! type errors on evaluation) is left to the engine.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use eddy::json::value_from_json;
use eddy::{AttributeType, AttributeValue, ExpressionAttributes};
use serde_json::Value;

use crate::input::{constraint, missing, Input};
use crate::protocol::ApiError;

/// The generated placeholders of one request, to merge into its
/// `ExpressionAttributeNames`/`ExpressionAttributeValues`.
///
/// Names are `#lgN` and values `:lgN`. Clients cannot mix legacy and
/// expression parameters ([`check_not_mixed`]) except `KeyConditions` with
/// a `FilterExpression` or `ProjectionExpression`; for that case every
/// translation first marks the request's own placeholders as taken, so a
/// generated one never replaces a client's.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    names: BTreeMap<String, String>,
    by_attribute: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    taken: BTreeSet<String>,
    next_name: usize,
    next_value: usize,
}

impl Placeholders {
    /// No placeholders yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Marks the request's own placeholder keys as taken.
    fn avoid_clients(&mut self, input: &Input<'_>) {
        for member in [NAMES, VALUES] {
            if let Some(Value::Object(map)) = input.map().get(member) {
                self.taken.extend(map.keys().cloned());
            }
        }
    }

    /// The next free placeholder `<sigil>lgN`.
    fn fresh(&self, sigil: char, next: &mut usize) -> String {
        loop {
            let candidate = format!("{sigil}lg{next}");
            *next += 1;
            if !self.taken.contains(&candidate) {
                return candidate;
            }
        }
    }

    /// The placeholder of a top-level attribute name (one per name).
    pub(crate) fn name(&mut self, attr: &str) -> String {
        if let Some(placeholder) = self.by_attribute.get(attr) {
            return placeholder.clone();
        }
        let mut next = self.next_name;
        let placeholder = self.fresh('#', &mut next);
        self.next_name = next;
        self.names.insert(placeholder.clone(), attr.to_string());
        self.by_attribute
            .insert(attr.to_string(), placeholder.clone());
        placeholder
    }

    /// A new placeholder for a value.
    pub(crate) fn value(&mut self, v: AttributeValue) -> String {
        let mut next = self.next_value;
        let placeholder = self.fresh(':', &mut next);
        self.next_value = next;
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    /// The placeholders as a request's attributes (`None` where empty, as
    /// DynamoDB refuses empty maps).
    pub(crate) fn into_attributes(self) -> ExpressionAttributes {
        ExpressionAttributes {
            names: (!self.names.is_empty()).then_some(self.names),
            values: (!self.values.is_empty()).then_some(self.values),
        }
    }
}

const NAMES: &str = "ExpressionAttributeNames";
const VALUES: &str = "ExpressionAttributeValues";

/// Refuses a request that mixes legacy and expression parameters, in
/// DynamoDB's words: `Can not use both expression and non-expression
/// parameters in the same request: Non-expression parameters: {Expected}
/// Expression parameters: {ConditionExpression}`.
///
/// `legacy` and `expression` list the operation's parameters of each kind,
/// in the order messages name them. `ExpressionAttributeNames` and
/// `ExpressionAttributeValues` may be listed among `expression` but do not
/// count as expressions: as in DynamoDB, names without any expression, or
/// values without a non-projection expression, are refused on their own.
/// `KeyConditions` only conflicts with `KeyConditionExpression`.
pub(crate) fn check_not_mixed(
    input: &Input<'_>,
    legacy: &[&str],
    expression: &[&str],
) -> Result<(), ApiError> {
    let expressions: Vec<&str> = expression
        .iter()
        .copied()
        .filter(|n| *n != NAMES && *n != VALUES)
        .collect();
    let present: Vec<&str> = expressions
        .iter()
        .copied()
        .filter(|n| input.has(n))
        .collect();
    if !present.is_empty() {
        let mixed: Vec<&str> = legacy
            .iter()
            .copied()
            .filter(|n| input.has(n))
            .filter(|n| *n != "KeyConditions" || input.has("KeyConditionExpression"))
            .collect();
        if !mixed.is_empty() {
            return Err(ApiError::validation(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
                mixed.join(", "),
                present.join(", ")
            )));
        }
    }
    if input.has(NAMES) && present.is_empty() {
        return Err(ApiError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    let valued: Vec<&str> = expressions
        .iter()
        .copied()
        .filter(|n| *n != "ProjectionExpression")
        .collect();
    if input.has(VALUES) && !valued.is_empty() && valued.iter().all(|n| !input.has(n)) {
        return Err(ApiError::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
            valued.join(" and "),
            if valued.len() > 1 { "are" } else { "is" }
        )));
    }
    Ok(())
}

/// `Expected` and `ConditionalOperator` as a `ConditionExpression`, or
/// `None` without `Expected`.
pub(crate) fn expected(
    input: &Input<'_>,
    p: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    p.avoid_clients(input);
    let joiner = conditional_operator(input)?;
    let entries = entries(input, "Expected")?;
    if entries.is_empty() {
        return without_conditions(joiner);
    }
    let mut parts = Vec::with_capacity(entries.len());
    for (attr, entry) in entries {
        let value = match raw(&entry, "Value") {
            Some(json) => Some(parse_value(json, attr)?),
            None => None,
        };
        let list = value_list(&entry, attr)?;
        let path = format!("expected.{attr}.member.comparisonOperator");
        let operator = comparison_operator(&entry, &path)?;
        let exists = entry.opt_bool("Exists")?;
        let fail = |what: &str| Err(invalid(&format!("{what} for Attribute: {attr}")));
        if value.is_some() && list.is_some() {
            return fail("Value and AttributeValueList cannot be used together");
        }
        let part = if let Some(op) = operator {
            if exists.is_some() {
                return fail("Exists and ComparisonOperator cannot be used together");
            }
            if value.is_none() && list.is_none() && op != "NULL" && op != "NOT_NULL" {
                return fail(&format!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {op}"
                ));
            }
            let values = list.or(value.map(|v| vec![v])).unwrap_or_default();
            check_values(op, &values)?;
            render(attr, op, values, p)
        } else if list.is_some() {
            return fail("AttributeValueList can only be used with a ComparisonOperator");
        } else {
            match (exists, value) {
                (Some(false), Some(_)) => {
                    return fail("Value cannot be used when Exists is false");
                }
                (Some(false), None) => format!("attribute_not_exists({})", p.name(attr)),
                (_, Some(v)) => render(attr, "EQ", vec![v], p),
                (None, None) => return fail("Value must be provided when Exists is null"),
                (Some(true), None) => return fail("Value must be provided when Exists is true"),
            }
        };
        parts.push(part);
    }
    Ok(Some(parts.join(joiner.unwrap_or(" AND "))))
}

/// `QueryFilter` or `ScanFilter` (`member`) and `ConditionalOperator` as a
/// `FilterExpression`, or `None` without the filter.
pub(crate) fn filter(
    input: &Input<'_>,
    member: &str,
    p: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    p.avoid_clients(input);
    let joiner = conditional_operator(input)?;
    let conditions = conditions(input, member)?;
    if conditions.is_empty() {
        return without_conditions(joiner);
    }
    let parts: Vec<String> = conditions
        .into_iter()
        .map(|(attr, op, values)| render(attr, op, values, p))
        .collect();
    Ok(Some(parts.join(joiner.unwrap_or(" AND "))))
}

/// `KeyConditions` as a `KeyConditionExpression`, or `None` without them.
///
/// Only the operators a key condition can use (`EQ`, `LE`, `LT`, `GE`,
/// `GT`, `BEGINS_WITH`, `BETWEEN`) are accepted; which attribute is which
/// key is the engine's to check.
pub(crate) fn key_conditions(
    input: &Input<'_>,
    p: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    p.avoid_clients(input);
    if !input.has("KeyConditions") {
        return Ok(None);
    }
    let conditions = conditions(input, "KeyConditions")?;
    if conditions.is_empty() || conditions.len() > 2 {
        return Err(ApiError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    let mut parts = Vec::with_capacity(2);
    for (attr, op, values) in conditions {
        if !matches!(
            op,
            "EQ" | "LE" | "LT" | "GE" | "GT" | "BEGINS_WITH" | "BETWEEN"
        ) {
            return Err(ApiError::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        parts.push(render(attr, op, values, p));
    }
    Ok(Some(parts.join(" AND ")))
}

/// `AttributeUpdates` as an `UpdateExpression`, or `None` without updates.
///
/// `PUT` (the default action) becomes `SET`, `DELETE` without a value
/// `REMOVE`, `DELETE` of a set `DELETE`, `ADD` of a number or set `ADD`, and
/// `ADD` of a list appends it (`SET a = list_append(if_not_exists(a, []),
/// v)`). Updates of key attributes are refused by the engine.
pub(crate) fn attribute_updates(
    input: &Input<'_>,
    p: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    p.avoid_clients(input);
    let entries = entries(input, "AttributeUpdates")?;
    if entries.is_empty() {
        return Ok(None);
    }
    let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
    let mut empty_list: Option<String> = None;
    for (attr, entry) in entries {
        let action = entry.opt_str("Action")?.unwrap_or("PUT");
        if !matches!(action, "ADD" | "PUT" | "DELETE") {
            return Err(constraint(
                &format!("attributeUpdates.{attr}.member.action"),
                action,
                "Member must satisfy enum value set: [ADD, PUT, DELETE]",
            ));
        }
        let value = match raw(&entry, "Value") {
            Some(json) => parse_value(json, attr)?,
            None if action == "DELETE" => {
                remove.push(p.name(attr));
                continue;
            }
            None => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ))
            }
        };
        let t = value.attribute_type();
        let is_set = matches!(t, AttributeType::Ss | AttributeType::Ns | AttributeType::Bs);
        match action {
            "PUT" => set.push(format!("{} = {}", p.name(attr), p.value(value))),
            "DELETE" if is_set => delete.push(format!("{} {}", p.name(attr), p.value(value))),
            "DELETE" => {
                return Err(invalid(&format!(
                    "DELETE action with value is not supported for the type {t}"
                )))
            }
            _ if is_set || t == AttributeType::N => {
                add.push(format!("{} {}", p.name(attr), p.value(value)))
            }
            _ if t == AttributeType::L => {
                let empty = empty_list
                    .get_or_insert_with(|| p.value(AttributeValue::L(Vec::new())))
                    .clone();
                let name = p.name(attr);
                let v = p.value(value);
                set.push(format!(
                    "{name} = list_append(if_not_exists({name}, {empty}), {v})"
                ));
            }
            _ => {
                return Err(invalid(&format!(
                    "ADD action is not supported for the type {t}"
                )))
            }
        }
    }
    let clauses: Vec<String> = [
        ("SET", set),
        ("REMOVE", remove),
        ("ADD", add),
        ("DELETE", delete),
    ]
    .into_iter()
    .filter(|(_, actions)| !actions.is_empty())
    .map(|(keyword, actions)| format!("{keyword} {}", actions.join(", ")))
    .collect();
    Ok(Some(clauses.join(" ")))
}

/// `AttributesToGet` as a `ProjectionExpression`, or `None` without it.
pub(crate) fn attributes_to_get(
    input: &Input<'_>,
    p: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    p.avoid_clients(input);
    let Some(names) = input.opt_strings("AttributesToGet")? else {
        return Ok(None);
    };
    if names.is_empty() {
        return Err(constraint(
            "AttributesToGet",
            "[]",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut parts = Vec::with_capacity(names.len());
    for name in names {
        if !seen.insert(name) {
            return Err(invalid(&format!(
                "Duplicate value in attribute name: {name}"
            )));
        }
        parts.push(p.name(name));
    }
    Ok(Some(parts.join(", ")))
}

/// `One or more parameter values were invalid: <what>`.
fn invalid(what: &str) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {what}"))
}

/// `ConditionalOperator` as the text joining conditions.
fn conditional_operator(input: &Input<'_>) -> Result<Option<&'static str>, ApiError> {
    Ok(
        match input.opt_enum("ConditionalOperator", &["AND", "OR"])? {
            Some("OR") => Some(" OR "),
            Some(_) => Some(" AND "),
            None => None,
        },
    )
}

/// No conditions: fine unless a `ConditionalOperator` has nothing to join.
fn without_conditions(joiner: Option<&str>) -> Result<Option<String>, ApiError> {
    match joiner {
        Some(_) => Err(ApiError::validation(
            "ConditionalOperator cannot be used without Filter or Expected",
        )),
        None => Ok(None),
    }
}

/// A member that is absent when null.
fn raw<'a>(entry: &Input<'a>, name: &str) -> Option<&'a Value> {
    entry.map().get(name).filter(|v| !v.is_null())
}

/// The entries of a map-of-structures member (none when absent).
fn entries<'a>(input: &Input<'a>, member: &str) -> Result<Vec<(&'a str, Input<'a>)>, ApiError> {
    let Some(map) = input.opt_object(member)? else {
        return Ok(Vec::new());
    };
    map.map()
        .iter()
        .map(|(attr, v)| Ok((attr.as_str(), Input::new(v)?)))
        .collect()
}

/// One DynamoDB JSON value, checked as an item's attribute would be.
fn parse_value(json: &Value, attr: &str) -> Result<AttributeValue, ApiError> {
    let v = value_from_json(json, attr).map_err(|e| ApiError::validation(e.to_string()))?;
    v.validate(attr)
        .map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(v)
}

/// An entry's `AttributeValueList`.
fn value_list(entry: &Input<'_>, attr: &str) -> Result<Option<Vec<AttributeValue>>, ApiError> {
    match entry.opt_list("AttributeValueList")? {
        None => Ok(None),
        Some(list) => list
            .iter()
            .map(|v| parse_value(v, attr))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

/// The comparison operators, in the order DynamoDB's enum message lists them.
const OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

/// An entry's `ComparisonOperator`, checked against the enum; `path` names
/// it in the message (`expected.a.member.comparisonOperator`).
fn comparison_operator(entry: &Input<'_>, path: &str) -> Result<Option<&'static str>, ApiError> {
    match entry.opt_str("ComparisonOperator")? {
        None => Ok(None),
        Some(op) => match OPERATORS.iter().find(|o| **o == op) {
            Some(found) => Ok(Some(*found)),
            None => Err(constraint(
                path,
                op,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    OPERATORS.join(", ")
                ),
            )),
        },
    }
}

/// One legacy comparison: attribute, operator and checked values.
type Comparison<'a> = (&'a str, &'static str, Vec<AttributeValue>);

/// The conditions of `QueryFilter`, `ScanFilter` or `KeyConditions`, each
/// with its operator required and its values checked.
fn conditions<'a>(input: &Input<'a>, member: &str) -> Result<Vec<Comparison<'a>>, ApiError> {
    let mut out = Vec::new();
    for (attr, entry) in entries(input, member)? {
        let path = format!("{member}.{attr}.member.comparisonOperator");
        let op = comparison_operator(&entry, &path)?.ok_or_else(|| missing(&path))?;
        let values = value_list(&entry, attr)?.unwrap_or_default();
        check_values(op, &values)?;
        out.push((attr, op, values));
    }
    Ok(out)
}

/// Checks an operator's values as DynamoDB does: their number, one type
/// for all, a type the operator takes, and ordered `BETWEEN` bounds.
fn check_values(op: &str, values: &[AttributeValue]) -> Result<(), ApiError> {
    let n = values.len();
    let arity_ok = match op {
        "NULL" | "NOT_NULL" => n == 0,
        "BETWEEN" => n == 2,
        "IN" => n >= 1,
        _ => n == 1,
    };
    if !arity_ok {
        return Err(invalid(&format!(
            "Invalid number of argument(s) for the {op} ComparisonOperator"
        )));
    }
    let Some(first) = values.first() else {
        return Ok(());
    };
    let t = first.attribute_type();
    if values.iter().any(|v| v.attribute_type() != t) {
        return Err(invalid(
            "AttributeValues inside AttributeValueList must be of same type",
        ));
    }
    let scalar = matches!(t, AttributeType::S | AttributeType::N | AttributeType::B);
    let allowed = match op {
        "EQ" | "NE" => true,
        "BEGINS_WITH" => matches!(t, AttributeType::S | AttributeType::B),
        _ => scalar,
    };
    if !allowed {
        return Err(invalid(&format!(
            "ComparisonOperator {op} is not valid for {t} AttributeValue type"
        )));
    }
    if let [lo, hi] = values {
        if op == "BETWEEN" && order(lo, hi) == Some(Ordering::Greater) {
            return Err(ApiError::validation(
                "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
            ));
        }
    }
    Ok(())
}

/// DynamoDB's order of two strings, numbers or binaries.
fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// One checked comparison as condition text. `NE` and `NOT_CONTAINS` hold
/// for a missing attribute in both languages.
fn render(attr: &str, op: &str, values: Vec<AttributeValue>, p: &mut Placeholders) -> String {
    let name = p.name(attr);
    let mut values: Vec<String> = values.into_iter().map(|v| p.value(v)).collect();
    let first = if values.is_empty() {
        String::new()
    } else {
        values.remove(0)
    };
    match op {
        "NULL" => format!("attribute_not_exists({name})"),
        "NOT_NULL" => format!("attribute_exists({name})"),
        "NE" => format!("{name} <> {first}"),
        "LE" => format!("{name} <= {first}"),
        "LT" => format!("{name} < {first}"),
        "GE" => format!("{name} >= {first}"),
        "GT" => format!("{name} > {first}"),
        "CONTAINS" => format!("contains({name}, {first})"),
        "NOT_CONTAINS" => format!("NOT contains({name}, {first})"),
        "BEGINS_WITH" => format!("begins_with({name}, {first})"),
        "BETWEEN" => format!("{name} BETWEEN {first} AND {}", values.join("")),
        "IN" if values.is_empty() => format!("{name} IN ({first})"),
        "IN" => format!("{name} IN ({first}, {})", values.join(", ")),
        _ => format!("{name} = {first}"),
    }
}

#[cfg(test)]
mod tests;
