//! Items on the command line: DynamoDB JSON by default, plain JSON with
//! `--plain`.
//!
//! Plain JSON maps onto DynamoDB's types the obvious way: strings → `S`,
//! numbers → `N`, booleans → `BOOL`, `null` → `NULL`, arrays → `L`,
//! objects → `M`. Going back, `N` becomes a JSON number when it survives
//! the trip exactly (a string otherwise), binary values become base64
//! strings and sets become arrays. Numbers are read as 64-bit integers or
//! doubles; for more precision, use DynamoDB JSON (`{"N":"…"}`).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use eddy::{AttributeValue, Item, Number};
use serde_json::{Map as JsonMap, Value as Json};

use crate::common::CliResult;

/// Parses an item (or a key) given on the command line.
pub fn parse_item(text: &str, plain: bool, what: &str) -> CliResult<Item> {
    if plain {
        let json: Json =
            serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))?;
        plain_to_item(&json, what)
    } else {
        Item::from_json_str(text).map_err(|e| {
            format!("{what} is not valid DynamoDB JSON ({e}); pass --plain for plain JSON").into()
        })
    }
}

/// Parses `--values`: placeholders to values, DynamoDB JSON or plain.
pub fn parse_values(text: &str, plain: bool) -> CliResult<BTreeMap<String, AttributeValue>> {
    Ok(parse_item(text, plain, "--values")?.into_map())
}

/// Parses `--names`: placeholders to attribute names.
pub fn parse_names(text: &str) -> CliResult<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        format!("--names must be a JSON object of strings, like {{\"#s\":\"status\"}}: {e}").into()
    })
}

/// An item as one line of output.
pub fn format_item(item: &Item, plain: bool) -> String {
    if plain {
        item_to_plain(item).to_string()
    } else {
        item.to_json_string()
    }
}

fn plain_to_item(json: &Json, what: &str) -> CliResult<Item> {
    let obj = json
        .as_object()
        .ok_or_else(|| format!("{what} must be a JSON object"))?;
    let mut item = Item::new();
    for (name, value) in obj {
        item.insert(name.clone(), plain_to_value(value, name)?);
    }
    Ok(item)
}

/// Converts a plain JSON value; `path` names it in errors.
pub fn plain_to_value(json: &Json, path: &str) -> CliResult<AttributeValue> {
    Ok(match json {
        Json::Null => AttributeValue::Null,
        Json::Bool(b) => AttributeValue::Bool(*b),
        Json::Number(n) => {
            AttributeValue::number(&n.to_string()).map_err(|e| format!("attribute {path}: {e}"))?
        }
        Json::String(s) => AttributeValue::S(s.clone()),
        Json::Array(values) => AttributeValue::L(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| plain_to_value(v, &format!("{path}[{i}]")))
                .collect::<CliResult<_>>()?,
        ),
        Json::Object(obj) => AttributeValue::M(
            obj.iter()
                .map(|(k, v)| Ok((k.clone(), plain_to_value(v, &format!("{path}.{k}"))?)))
                .collect::<CliResult<_>>()?,
        ),
    })
}

/// An item as plain JSON.
pub fn item_to_plain(item: &Item) -> Json {
    Json::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_to_plain(v)))
            .collect::<JsonMap<_, _>>(),
    )
}

/// A value as plain JSON.
pub fn value_to_plain(value: &AttributeValue) -> Json {
    match value {
        AttributeValue::S(s) => Json::String(s.clone()),
        AttributeValue::N(n) => number_to_plain(n),
        AttributeValue::B(b) => Json::String(BASE64.encode(b)),
        AttributeValue::Bool(b) => Json::Bool(*b),
        AttributeValue::Null => Json::Null,
        AttributeValue::M(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_to_plain(v)))
                .collect(),
        ),
        AttributeValue::L(l) => Json::Array(l.iter().map(value_to_plain).collect()),
        AttributeValue::Ss(s) => Json::Array(s.iter().cloned().map(Json::String).collect()),
        AttributeValue::Ns(s) => Json::Array(s.iter().map(number_to_plain).collect()),
        AttributeValue::Bs(s) => {
            Json::Array(s.iter().map(|b| Json::String(BASE64.encode(b))).collect())
        }
    }
}

/// A JSON number when it reads back as the same number, else a string.
fn number_to_plain(n: &Number) -> Json {
    let text = n.to_string();
    match serde_json::from_str::<Json>(&text) {
        Ok(Json::Number(j)) if j.to_string().parse::<Number>().ok().as_ref() == Some(n) => {
            Json::Number(j)
        }
        _ => Json::String(text),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_maps_onto_dynamodb_types() {
        let item = parse_item(
            r#"{"id":"a","n":1.5,"ok":true,"none":null,"l":[1,"x"],"m":{"k":-2}}"#,
            true,
            "item",
        )
        .unwrap();
        assert_eq!(
            item.to_json_string(),
            r#"{"id":{"S":"a"},"l":{"L":[{"N":"1"},{"S":"x"}]},"m":{"M":{"k":{"N":"-2"}}},"n":{"N":"1.5"},"none":{"NULL":true},"ok":{"BOOL":true}}"#
        );
        assert_eq!(
            format_item(&item, true),
            r#"{"id":"a","l":[1,"x"],"m":{"k":-2},"n":1.5,"none":null,"ok":true}"#
        );
    }

    #[test]
    fn numbers_too_precise_for_json_stay_strings() {
        let item = parse_item(r#"{"n":{"N":"12345678901234567890123"}}"#, false, "item").unwrap();
        assert_eq!(
            format_item(&item, true),
            r#"{"n":"12345678901234567890123"}"#
        );
    }

    #[test]
    fn bad_input_names_the_problem() {
        let e = parse_item("[1]", true, "item").unwrap_err().to_string();
        assert!(e.contains("must be a JSON object"), "{e}");
        let e = parse_item(r#"{"a":"x"}"#, false, "item")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--plain"), "{e}");
    }
}
