//! Tests of the expression language: table-driven grammar and semantics
//! tests per kind of expression, and property tests that nothing panics.

#![allow(clippy::unwrap_used)]

mod condition;
mod key_condition;
mod projection;
mod props;
mod update;

use std::collections::BTreeMap;

use crate::expr::ExpressionContext;
use crate::value::{AttributeValue, Item};

/// An item from DynamoDB JSON.
pub(super) fn item(json: &str) -> Item {
    Item::from_json_str(json).unwrap()
}

/// A context with `names` and the values of the DynamoDB JSON item
/// `values` (`{":v":{"N":"1"}}`).
pub(super) fn ctx(names: &[(&str, &str)], values: &str) -> ExpressionContext {
    let names: BTreeMap<String, String> = names
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let values: BTreeMap<String, AttributeValue> = item(values).into_map();
    ExpressionContext::new(names, values)
}
