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

use eddy::crates::model::json::value_from_json;
use eddy::{AttributeType, AttributeValue, ExpressionAttributes};
use serde_json::Value;

use crate::input::{constraint, missing, Input};
use crate::protocol::ApiError;

/// The generated placeholders of one request, merged into its
/// `ExpressionAttributeNames`/`ExpressionAttributeValues`.
///
/// Names are `#lgN` and values `:lgN`. Clients cannot mix legacy and
/// expression parameters ([`check_not_mixed`]) except `KeyConditions` with
/// a `FilterExpression` or `ProjectionExpression`; for that case
/// [`Placeholders::from_attributes`] starts from the client's own
/// placeholders and never generates one of them.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    names: BTreeMap<String, String>,
    by_attribute: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    next_name: usize,
    next_value: usize,
}

impl Placeholders {
    /// No placeholders yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Starts from a request's own placeholders, which generated ones will
    /// not collide with; [`Placeholders::into_attributes`] returns both.
    pub(crate) fn from_attributes(attributes: ExpressionAttributes) -> Self {
        Placeholders {
            names: attributes.names.unwrap_or_default(),
            values: attributes.values.unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The placeholder of a top-level attribute name (one per name).
    pub(crate) fn name(&mut self, attr: &str) -> String {
        if let Some(placeholder) = self.by_attribute.get(attr) {
            return placeholder.clone();
        }
        let placeholder = loop {
            let candidate = format!("#lg{}", self.next_name);
            self.next_name += 1;
            if !self.names.contains_key(&candidate) {
                break candidate;
            }
        };
        self.names.insert(placeholder.clone(), attr.to_string());
        self.by_attribute
            .insert(attr.to_string(), placeholder.clone());
        placeholder
    }

    /// A new placeholder for a value.
    pub(crate) fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = loop {
            let candidate = format!(":lg{}", self.next_value);
            self.next_value += 1;
            if !self.values.contains_key(&candidate) {
                break candidate;
            }
        };
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

/// The conditions of `QueryFilter`, `ScanFilter` or `KeyConditions`, each
/// with its operator required and its values checked.
fn conditions<'a>(
    input: &Input<'a>,
    member: &str,
) -> Result<Vec<(&'a str, &'static str, Vec<AttributeValue>)>, ApiError> {
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
mod tests {
    use super::*;
    use eddy::crates::model::expr::{
        Condition, ExpressionContext, KeyCondition, Projection, SortKeyCondition, UpdateExpression,
    };
    use eddy::{Item, KeySchema, KeyType};
    use serde_json::json;

    type Translate = fn(&Input<'_>, &mut Placeholders) -> Result<Option<String>, ApiError>;

    /// The text and a context over the generated placeholders.
    fn translate(
        body: Value,
        f: Translate,
    ) -> Result<Option<(String, ExpressionContext)>, ApiError> {
        let input = Input::new(&body)?;
        let mut p = Placeholders::new();
        let Some(text) = f(&input, &mut p)? else {
            return Ok(None);
        };
        let a = p.into_attributes();
        let ctx = ExpressionContext::from_request(a.names, a.values).expect("valid placeholders");
        Ok(Some((text, ctx)))
    }

    fn text(body: Value, f: Translate) -> String {
        translate(body, f).expect("translates").expect("some").0
    }

    fn fails(body: Value, f: Translate) -> String {
        let e = translate(body, f).expect_err("refused");
        assert_eq!(e.code, "ValidationException", "{}", e.message);
        e.message
    }

    /// `Expected` parsed by the engine, every placeholder used.
    fn condition(body: Value) -> Condition {
        let (text, mut ctx) = translate(body, expected).expect("ok").expect("some");
        let c = Condition::parse(&text, &mut ctx).expect("parses");
        ctx.check_all_used().expect("all used");
        c
    }

    fn item(json: Value) -> Item {
        Item::from_json(&json).expect("item")
    }

    /// Whether one `Expected` entry on `a` holds for an item with `a` (or none).
    fn holds(entry: Value, a: Option<Value>) -> bool {
        let c = condition(json!({"Expected": {"a": entry}}));
        let it = a.map(|v| item(json!({"k": {"S": "1"}, "a": v})));
        c.evaluate(Some(&it.unwrap_or_else(|| item(json!({"k": {"S": "1"}})))))
    }

    #[test]
    fn kcl_lease_counter_and_owner_guard() {
        let body = json!({"Expected": {
            "leaseCounter": {"Value": {"N": "3"}},
            "leaseOwner": {"Value": {"S": "w1"}, "Exists": true}}});
        assert_eq!(text(body.clone(), expected), "#lg0 = :lg0 AND #lg1 = :lg1");
        let mut p = Placeholders::new();
        expected(&Input::new(&body).expect("input"), &mut p).expect("ok");
        let a = p.into_attributes();
        assert_eq!(a.names.expect("names")["#lg0"], "leaseCounter");
        assert_eq!(a.values.expect("values")[":lg0"], AttributeValue::from(3));
        let c = condition(body);
        let lease =
            |n: &str, o: &str| item(json!({"leaseCounter": {"N": n}, "leaseOwner": {"S": o}}));
        assert!(c.evaluate(Some(&lease("3", "w1"))));
        assert!(!c.evaluate(Some(&lease("4", "w1"))));
        assert!(!c.evaluate(Some(&lease("3", "w2"))));
        assert!(!c.evaluate(None));
    }

    #[test]
    fn exists_false_requires_absence() {
        let body = json!({"Expected": {"leaseKey": {"Exists": false}}});
        assert_eq!(text(body.clone(), expected), "attribute_not_exists(#lg0)");
        let c = condition(body);
        assert!(c.evaluate(None));
        assert!(!c.evaluate(Some(&item(json!({"leaseKey": {"S": "shard-0"}})))));
    }

    #[test]
    fn comparison_operators_keep_legacy_semantics() {
        let s = |v: &str| json!({"S": v});
        let n = |v: &str| json!({"N": v});
        let op = |op: &str, list: Vec<Value>| json!({"ComparisonOperator": op, "AttributeValueList": list});
        let cases = [
            (op("NE", vec![s("x")]), None, true),
            (op("NE", vec![s("x")]), Some(s("x")), false),
            (op("NE", vec![s("x")]), Some(n("1")), true),
            (op("NULL", vec![]), None, true),
            (op("NULL", vec![]), Some(s("x")), false),
            (op("NOT_NULL", vec![]), Some(s("x")), true),
            (op("NOT_NULL", vec![]), None, false),
            (op("LT", vec![n("5")]), Some(n("4")), true),
            (op("LE", vec![n("5")]), Some(n("6")), false),
            (op("GE", vec![n("5")]), Some(n("5")), true),
            (op("GT", vec![n("5")]), Some(s("9")), false),
            (
                op("EQ", vec![json!({"L": [s("x")]})]),
                Some(json!({"L": [s("x")]})),
                true,
            ),
            (op("CONTAINS", vec![s("b")]), Some(s("abc")), true),
            (
                op("CONTAINS", vec![s("b")]),
                Some(json!({"SS": ["a", "b"]})),
                true,
            ),
            (op("CONTAINS", vec![s("z")]), Some(s("abc")), false),
            (op("NOT_CONTAINS", vec![s("b")]), None, true),
            (op("NOT_CONTAINS", vec![s("b")]), Some(s("abc")), false),
            (op("BEGINS_WITH", vec![s("ab")]), Some(s("abc")), true),
            (op("BEGINS_WITH", vec![s("b")]), Some(s("abc")), false),
            (op("IN", vec![n("1"), n("2")]), Some(n("2")), true),
            (op("IN", vec![n("1"), n("2")]), Some(n("3")), false),
            (op("BETWEEN", vec![n("1"), n("3")]), Some(n("3")), true),
            (op("BETWEEN", vec![n("1"), n("3")]), Some(n("4")), false),
            (
                json!({"ComparisonOperator": "GT", "Value": n("1")}),
                Some(n("2")),
                true,
            ),
        ];
        for (entry, a, want) in cases {
            assert_eq!(holds(entry.clone(), a.clone()), want, "{entry} on {a:?}");
        }
    }

    #[test]
    fn conditional_operator_joins_entries() {
        let entries = json!({
            "a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]},
            "b": {"Value": {"S": "w1"}}});
        let or = json!({"Expected": entries, "ConditionalOperator": "OR"});
        assert_eq!(
            text(or.clone(), expected),
            "#lg0 BETWEEN :lg0 AND :lg1 OR #lg1 = :lg2"
        );
        let it = item(json!({"a": {"N": "9"}, "b": {"S": "w1"}}));
        assert!(condition(or).evaluate(Some(&it)));
        assert!(
            !condition(json!({"Expected": entries, "ConditionalOperator": "AND"}))
                .evaluate(Some(&it))
        );
        assert!(!condition(json!({"Expected": entries})).evaluate(Some(&it)));
        let ok = item(json!({"a": {"N": "2"}, "b": {"S": "w1"}}));
        assert!(condition(json!({"Expected": entries})).evaluate(Some(&ok)));
    }

    #[test]
    fn bad_expected_entries_are_refused_in_dynamodbs_words() {
        let cases = [
            (json!({"Exists": false, "Value": {"S": "x"}}), "Value cannot be used when Exists is false for Attribute: a"),
            (json!({"Exists": true}), "Value must be provided when Exists is true for Attribute: a"),
            (json!({}), "Value must be provided when Exists is null for Attribute: a"),
            (json!({"ComparisonOperator": "NULL", "Exists": true}), "Exists and ComparisonOperator cannot be used together"),
            (json!({"Value": {"S": "x"}, "AttributeValueList": []}), "Value and AttributeValueList cannot be used together"),
            (json!({"AttributeValueList": [{"S": "x"}]}), "AttributeValueList can only be used with a ComparisonOperator"),
            (json!({"ComparisonOperator": "GT"}), "Value or AttributeValueList must be used with ComparisonOperator: GT"),
            (json!({"ComparisonOperator": "NULL", "AttributeValueList": [{"S": "x"}]}), "Invalid number of argument(s) for the NULL ComparisonOperator"),
            (json!({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]}), "Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
            (json!({"ComparisonOperator": "IN", "AttributeValueList": []}), "Invalid number of argument(s) for the IN ComparisonOperator"),
            (json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}), "Invalid number of argument(s) for the EQ ComparisonOperator"),
            (json!({"ComparisonOperator": "LIKE", "AttributeValueList": []}), "at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set"),
            (json!({"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "2"}]}), "must be of same type"),
            (json!({"ComparisonOperator": "LT", "AttributeValueList": [{"SS": ["x"]}]}), "ComparisonOperator LT is not valid for SS AttributeValue type"),
            (json!({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "3"}, {"N": "1"}]}), "lower bound is greater than the upper bound"),
            (json!({"Value": {"N": "x"}}), "a"),
            (json!({"Value": {"SS": []}}), "may not be empty"),
        ];
        for (entry, message) in cases {
            let got = fails(json!({"Expected": {"a": entry}}), expected);
            assert!(got.contains(message), "{entry}: {got}");
        }
        assert_eq!(
            fails(json!({"ConditionalOperator": "OR"}), expected),
            "ConditionalOperator cannot be used without Filter or Expected"
        );
        assert!(translate(json!({}), expected).expect("ok").is_none());
        let e = translate(json!({"Expected": {"a": 5}}), expected).expect_err("refused");
        assert_eq!(e.code, "SerializationException");
    }

    /// KCL's renew/take/evict updates, plus the list and set actions.
    #[test]
    fn attribute_updates_become_one_update_expression() {
        let body = json!({"AttributeUpdates": {
            "checkpoint": {"Action": "DELETE"},
            "hist": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}},
            "leaseCounter": {"Action": "ADD", "Value": {"N": "1"}},
            "leaseOwner": {"Value": {"S": "w2"}},
            "tags": {"Action": "DELETE", "Value": {"SS": ["a"]}}}});
        let (text, mut ctx) = translate(body, attribute_updates)
            .expect("ok")
            .expect("some");
        assert_eq!(
            text,
            "SET #lg1 = list_append(if_not_exists(#lg1, :lg0), :lg1), #lg3 = :lg3 REMOVE #lg0 ADD #lg2 :lg2 DELETE #lg4 :lg4"
        );
        let update = UpdateExpression::parse(&text, &mut ctx).expect("parses");
        ctx.check_all_used().expect("all used");
        let key = item(json!({"leaseKey": {"S": "shard-0"}}));
        let before = item(
            json!({"leaseKey": {"S": "shard-0"}, "checkpoint": {"S": "7"},
            "hist": {"L": [{"S": "w"}]}, "leaseCounter": {"N": "3"}, "leaseOwner": {"S": "w1"},
            "tags": {"SS": ["a", "b"]}}),
        );
        let after = update.apply(Some(&before), &key).expect("applies");
        let want = item(
            json!({"leaseKey": {"S": "shard-0"}, "hist": {"L": [{"S": "w"}, {"S": "x"}]},
            "leaseCounter": {"N": "4"}, "leaseOwner": {"S": "w2"}, "tags": {"SS": ["b"]}}),
        );
        assert_eq!(after, want);
        let created = update.apply(None, &key).expect("applies");
        let want = item(
            json!({"leaseKey": {"S": "shard-0"}, "hist": {"L": [{"S": "x"}]},
            "leaseCounter": {"N": "1"}, "leaseOwner": {"S": "w2"}}),
        );
        assert_eq!(created, want);
    }

    #[test]
    fn bad_attribute_updates_are_refused() {
        let cases = [
            (
                json!({"Action": "PUT"}),
                "Only DELETE action is allowed when no attribute value is specified",
            ),
            (
                json!({"Action": "ADD", "Value": {"S": "x"}}),
                "ADD action is not supported for the type S",
            ),
            (
                json!({"Action": "DELETE", "Value": {"N": "1"}}),
                "DELETE action with value is not supported for the type N",
            ),
            (
                json!({"Action": "SET", "Value": {"N": "1"}}),
                "at 'attributeUpdates.a.member.action' failed to satisfy constraint",
            ),
            (
                json!({"Action": "PUT", "Value": {"NS": []}}),
                "may not be empty",
            ),
        ];
        for (entry, message) in cases {
            let got = fails(json!({"AttributeUpdates": {"a": entry}}), attribute_updates);
            assert!(got.contains(message), "{entry}: {got}");
        }
        assert!(
            translate(json!({"AttributeUpdates": {}}), attribute_updates)
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn key_conditions_become_a_key_condition_expression() {
        let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
        let parse = |body: Value| {
            let (text, mut ctx) = translate(body, key_conditions).expect("ok").expect("some");
            (
                text.clone(),
                KeyCondition::parse(&text, &mut ctx, &schema).expect("parses"),
            )
        };
        let (text, kc) = parse(json!({"KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]},
            "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "9"}]}}}));
        assert_eq!(text, "#lg0 = :lg0 AND #lg1 BETWEEN :lg1 AND :lg2");
        assert_eq!(kc.partition, AttributeValue::from("u"));
        assert_eq!(kc.sort, Some(SortKeyCondition::Between(1.into(), 9.into())));
        let (_, kc) = parse(json!({"KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]},
            "sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "5"}]}}}));
        assert_eq!(kc.sort, Some(SortKeyCondition::Lt(5.into())));
        let schema_s = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::S);
        let (text, mut ctx) = translate(
            json!({"KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]},
            "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "ab"}]}}}),
            key_conditions,
        )
        .expect("ok")
        .expect("some");
        let kc = KeyCondition::parse(&text, &mut ctx, &schema_s).expect("parses");
        assert_eq!(kc.sort, Some(SortKeyCondition::BeginsWith("ab".into())));
        assert!(translate(json!({}), key_conditions).expect("ok").is_none());
        let eq = json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]});
        let cases = [
            (json!({"pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "u"}]}}), "Attempted conditional constraint is not an indexable operation"),
            (json!({}), "Conditions can be of length 1 or 2 only"),
            (json!({"a": eq, "b": eq, "c": eq}), "Conditions can be of length 1 or 2 only"),
            (json!({"pk": {"AttributeValueList": [{"S": "u"}]}}), "Value null at 'keyConditions.pk.member.comparisonOperator' failed to satisfy constraint: Member must not be null"),
            (json!({"pk": {"ComparisonOperator": "EQ"}}), "Invalid number of argument(s) for the EQ ComparisonOperator"),
        ];
        for (conditions, message) in cases {
            let got = fails(json!({"KeyConditions": conditions}), key_conditions);
            assert!(got.contains(message), "{conditions}: {got}");
        }
    }

    #[test]
    fn filters_become_filter_expressions() {
        let scan: Translate = |i, p| filter(i, "ScanFilter", p);
        let body = json!({"ConditionalOperator": "OR", "ScanFilter": {
            "a": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "b"}]},
            "c": {"ComparisonOperator": "NOT_NULL"}}});
        let (text, mut ctx) = translate(body, scan).expect("ok").expect("some");
        assert_eq!(text, "contains(#lg0, :lg0) OR attribute_exists(#lg1)");
        let f = Condition::parse_filter(&text, &mut ctx).expect("parses");
        ctx.check_all_used().expect("all used");
        assert!(f.evaluate(Some(&item(json!({"c": {"BOOL": true}})))));
        assert!(f.evaluate(Some(&item(json!({"a": {"S": "abc"}})))));
        assert!(!f.evaluate(Some(&item(json!({"a": {"S": "xyz"}})))));
        let query: Translate = |i, p| filter(i, "QueryFilter", p);
        let got = fails(
            json!({"QueryFilter": {"a": {"AttributeValueList": []}}}),
            query,
        );
        assert!(
            got.contains("'queryFilter.a.member.comparisonOperator'"),
            "{got}"
        );
        let got = fails(
            json!({"ScanFilter": {"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}}}),
            scan,
        );
        assert!(
            got.contains("ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"),
            "{got}"
        );
        assert_eq!(
            fails(json!({"ConditionalOperator": "AND"}), query),
            "ConditionalOperator cannot be used without Filter or Expected"
        );
        assert!(translate(json!({}), scan).expect("ok").is_none());
    }

    #[test]
    fn attributes_to_get_become_a_projection() {
        let (text, mut ctx) =
            translate(json!({"AttributesToGet": ["a", "b.c"]}), attributes_to_get)
                .expect("ok")
                .expect("some");
        assert_eq!(text, "#lg0, #lg1");
        let projection = Projection::parse(&text, &mut ctx).expect("parses");
        ctx.check_all_used().expect("all used");
        let it = item(
            json!({"a": {"N": "1"}, "b.c": {"S": "x"}, "b": {"M": {"c": {"S": "y"}}}, "d": {"S": "z"}}),
        );
        assert_eq!(
            projection.apply(&it),
            item(json!({"a": {"N": "1"}, "b.c": {"S": "x"}}))
        );
        assert_eq!(
            fails(
                json!({"AttributesToGet": ["a", "b", "a"]}),
                attributes_to_get
            ),
            "One or more parameter values were invalid: Duplicate value in attribute name: a"
        );
        assert!(fails(json!({"AttributesToGet": []}), attributes_to_get)
            .contains("length greater than or equal to 1"));
        assert!(translate(json!({}), attributes_to_get)
            .expect("ok")
            .is_none());
    }

    #[test]
    fn mixing_legacy_and_expression_parameters_is_refused() {
        let check = |body: Value, legacy: &[&str], expr: &[&str]| {
            check_not_mixed(&Input::new(&body).expect("input"), legacy, expr).map_err(|e| e.message)
        };
        let put = (
            &["Expected", "ConditionalOperator"][..],
            &["ConditionExpression", NAMES, VALUES][..],
        );
        assert_eq!(
            check(json!({"Expected": {}, "ConditionExpression": "x"}), put.0, put.1),
            Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}".to_string())
        );
        assert_eq!(check(json!({"Expected": {}}), put.0, put.1), Ok(()));
        assert_eq!(
            check(
                json!({"ConditionExpression": "x", VALUES: {}}),
                put.0,
                put.1
            ),
            Ok(())
        );
        assert_eq!(
            check(json!({"Expected": {}, NAMES: {"#a": "a"}}), put.0, put.1),
            Err(
                "ExpressionAttributeNames can only be specified when using expressions".to_string()
            )
        );
        let update = ["UpdateExpression", "ConditionExpression", NAMES, VALUES];
        assert_eq!(
            check(json!({VALUES: {":a": {"N": "1"}}}), &["AttributeUpdates"], &update),
            Err("ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null".to_string())
        );
        let query = (
            &["KeyConditions", "QueryFilter"][..],
            &["KeyConditionExpression", "FilterExpression"][..],
        );
        assert_eq!(
            check(
                json!({"KeyConditions": {}, "FilterExpression": "x"}),
                query.0,
                query.1
            ),
            Ok(())
        );
        let both = check(
            json!({"KeyConditions": {}, "KeyConditionExpression": "x"}),
            query.0,
            query.1,
        );
        assert!(both.is_err_and(|m| m.contains("Non-expression parameters: {KeyConditions}")));
    }

    #[test]
    fn generated_placeholders_avoid_the_clients_and_repeat_per_name() {
        let mut p = Placeholders::from_attributes(
            ExpressionAttributes::default()
                .name("#lg0", "x")
                .value(":lg0", 1),
        );
        assert_eq!(p.name("a"), "#lg1");
        assert_eq!(p.name("b"), "#lg2");
        assert_eq!(p.name("a"), "#lg1");
        assert_eq!(p.value(AttributeValue::from(2)), ":lg1");
        let a = p.into_attributes();
        assert_eq!(a.names.expect("names").len(), 3);
        assert_eq!(a.values.expect("values").len(), 2);
        assert_eq!(
            Placeholders::new().into_attributes(),
            ExpressionAttributes::default()
        );
    }

    /// Odd shapes anywhere give errors, never panics.
    #[test]
    fn malformed_input_never_panics() {
        let odd = [
            json!(null),
            json!(1),
            json!("x"),
            json!([]),
            json!({}),
            json!([{}]),
            json!({"a": null}),
            json!({"a": 1}),
            json!({"a": []}),
            json!({"a": {"Value": 1}}),
            json!({"a": {"Value": {}, "AttributeValueList": 1}}),
            json!({"a": {"ComparisonOperator": 1}}),
            json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": [null]}}),
            json!({"a": {"Action": 1, "Value": {"L": [{"M": {"x": {}}}]}}}),
            json!({"a": {"Exists": "no"}}),
        ];
        let members = [
            "Expected",
            "AttributeUpdates",
            "KeyConditions",
            "QueryFilter",
            "AttributesToGet",
            "ConditionalOperator",
        ];
        for member in members {
            for v in &odd {
                let body = json!({ member: v });
                let input = Input::new(&body).expect("input");
                let mut p = Placeholders::new();
                let _ = expected(&input, &mut p);
                let _ = attribute_updates(&input, &mut p);
                let _ = key_conditions(&input, &mut p);
                let _ = filter(&input, "QueryFilter", &mut p);
                let _ = attributes_to_get(&input, &mut p);
            }
        }
    }
}
