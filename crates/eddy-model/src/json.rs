//! DynamoDB JSON: the wire form of items (`{"pk":{"S":"a"},"n":{"N":"1"}}`).
//!
//! Every value is an object with exactly one type tag. Numbers travel as
//! strings in canonical form, binary values as standard base64. Parsing is
//! strict in the ways DynamoDB is strict (one tag per value, `NULL` must be
//! `true`, sets non-empty and free of duplicates) and reports which attribute
//! is at fault.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map as JsonMap, Value as Json};

use crate::error::{Error, Result};
use crate::number::Number;
use crate::value::{AttributeValue, Item, Map};

/// Converts a value to its DynamoDB JSON form.
pub fn value_to_json(value: &AttributeValue) -> Json {
    let (tag, body) = match value {
        AttributeValue::S(s) => ("S", Json::String(s.clone())),
        AttributeValue::N(n) => ("N", Json::String(n.to_string())),
        AttributeValue::B(b) => ("B", Json::String(BASE64.encode(b))),
        AttributeValue::Bool(b) => ("BOOL", Json::Bool(*b)),
        AttributeValue::Null => ("NULL", Json::Bool(true)),
        AttributeValue::M(m) => ("M", map_to_json(m)),
        AttributeValue::L(l) => ("L", Json::Array(l.iter().map(value_to_json).collect())),
        AttributeValue::Ss(s) => ("SS", s.iter().map(|x| Json::String(x.clone())).collect()),
        AttributeValue::Ns(s) => (
            "NS",
            s.iter().map(|x| Json::String(x.to_string())).collect(),
        ),
        AttributeValue::Bs(s) => (
            "BS",
            s.iter().map(|x| Json::String(BASE64.encode(x))).collect(),
        ),
    };
    let mut obj = JsonMap::with_capacity(1);
    obj.insert(tag.to_string(), body);
    Json::Object(obj)
}

fn map_to_json(map: &Map) -> Json {
    Json::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

/// Parses one value from DynamoDB JSON; `path` names it in errors.
pub fn value_from_json(json: &Json, path: &str) -> Result<AttributeValue> {
    let obj = json.as_object().ok_or_else(|| {
        Error::Json(format!(
            "Supplied AttributeValue for {path} is not an object with a type tag"
        ))
    })?;
    let mut entries = obj.iter();
    let (tag, body) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        (None, _) => {
            return Err(Error::Json(format!(
                "Supplied AttributeValue for {path} is empty, must contain exactly one of the supported datatypes"
            )))
        }
        (Some(_), Some(_)) => {
            return Err(Error::Json(format!(
                "Supplied AttributeValue for {path} has more than one datatypes set, must contain exactly one of the supported datatypes"
            )))
        }
    };
    let wrong = |expected: &str| {
        Error::Json(format!(
            "Supplied AttributeValue for {path}: {tag} must be {expected}"
        ))
    };
    let value = match tag.as_str() {
        "S" => AttributeValue::S(body.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        "N" => AttributeValue::N(parse_number(body, path).map_err(|_| wrong("a number string"))??),
        "B" => AttributeValue::B(parse_binary(body, path)?),
        "BOOL" => AttributeValue::Bool(body.as_bool().ok_or_else(|| wrong("a boolean"))?),
        "NULL" => match body {
            Json::Bool(true) => AttributeValue::Null,
            _ => {
                return Err(Error::InvalidValue(format!(
                    "Null attribute value types must have the value of true (attribute {path})"
                )))
            }
        },
        "M" => {
            let obj = body.as_object().ok_or_else(|| wrong("an object"))?;
            let mut map = Map::new();
            for (k, v) in obj {
                map.insert(k.clone(), value_from_json(v, &format!("{path}.{k}"))?);
            }
            AttributeValue::M(map)
        }
        "L" => {
            let arr = body.as_array().ok_or_else(|| wrong("an array"))?;
            let mut list = Vec::with_capacity(arr.len());
            for (i, v) in arr.iter().enumerate() {
                list.push(value_from_json(v, &format!("{path}[{i}]"))?);
            }
            AttributeValue::L(list)
        }
        "SS" => {
            let elems = set_elements(body, path, "string")?;
            let mut items = Vec::with_capacity(elems.len());
            for e in elems {
                items.push(
                    e.as_str()
                        .ok_or_else(|| wrong("an array of strings"))?
                        .to_string(),
                );
            }
            AttributeValue::Ss(unique(items, path)?)
        }
        "NS" => {
            let elems = set_elements(body, path, "number")?;
            let mut items = Vec::with_capacity(elems.len());
            for e in elems {
                items.push(
                    parse_number(e, path).map_err(|_| wrong("an array of number strings"))??,
                );
            }
            AttributeValue::Ns(unique(items, path)?)
        }
        "BS" => {
            let elems = set_elements(body, path, "binary")?;
            let mut items = Vec::with_capacity(elems.len());
            for e in elems {
                items.push(parse_binary(e, path)?);
            }
            AttributeValue::Bs(unique(items, path)?)
        }
        other => {
            return Err(Error::Json(format!(
                "Supplied AttributeValue for {path} has unknown datatype {other}"
            )))
        }
    };
    Ok(value)
}

/// `Err(())` when the JSON is not a string; the inner result is the parse.
fn parse_number(json: &Json, path: &str) -> std::result::Result<Result<Number>, ()> {
    let text = json.as_str().ok_or(())?;
    Ok(text.parse::<Number>().map_err(|e| match e {
        Error::InvalidNumber { text, reason } => Error::InvalidNumber {
            text,
            reason: format!("{reason}, attribute {path}"),
        },
        other => other,
    }))
}

fn parse_binary(json: &Json, path: &str) -> Result<Vec<u8>> {
    let text = json.as_str().ok_or_else(|| {
        Error::Json(format!(
            "Supplied AttributeValue for {path}: B must be a base64 string"
        ))
    })?;
    BASE64
        .decode(text)
        .map_err(|e| Error::Json(format!("Invalid base64 in binary attribute {path}: {e}")))
}

fn set_elements<'a>(json: &'a Json, path: &str, kind: &str) -> Result<&'a Vec<Json>> {
    let arr = json.as_array().ok_or_else(|| {
        Error::Json(format!(
            "Supplied AttributeValue for {path}: a {kind} set must be an array"
        ))
    })?;
    if arr.is_empty() {
        return Err(Error::InvalidValue(format!(
            "An {kind} set may not be empty (attribute {path})"
        )));
    }
    Ok(arr)
}

fn unique<T: Ord>(items: Vec<T>, path: &str) -> Result<BTreeSet<T>> {
    let n = items.len();
    let set: BTreeSet<T> = items.into_iter().collect();
    if set.len() != n {
        return Err(Error::InvalidValue(format!(
            "Input collection for attribute {path} contains duplicates"
        )));
    }
    Ok(set)
}

impl Item {
    /// Parses an item from a DynamoDB JSON object.
    pub fn from_json(json: &Json) -> Result<Item> {
        let obj = json
            .as_object()
            .ok_or_else(|| Error::Json("An item must be a JSON object".into()))?;
        let mut map = Map::new();
        for (name, v) in obj {
            map.insert(name.clone(), value_from_json(v, name)?);
        }
        Ok(Item::from(map))
    }

    /// Parses an item from DynamoDB JSON text.
    ///
    /// ```
    /// use eddy_model::Item;
    /// let item = Item::from_json_str(r#"{"pk":{"S":"a"},"n":{"N":"1.50"}}"#).unwrap();
    /// assert_eq!(item.to_json_string(), r#"{"n":{"N":"1.5"},"pk":{"S":"a"}}"#);
    /// assert!(Item::from_json_str(r#"{"x":{"NULL":false}}"#).is_err());
    /// ```
    pub fn from_json_str(text: &str) -> Result<Item> {
        let json: Json = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
        Item::from_json(&json)
    }

    /// The item as a DynamoDB JSON object.
    pub fn to_json(&self) -> Json {
        map_to_json(self.as_map())
    }

    /// The item as compact DynamoDB JSON text.
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        value_to_json(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        value_from_json(&json, "value").map_err(D::Error::custom)
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        Item::from_json(&json).map_err(D::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::arbitrary::arb_item;
    use proptest::prelude::*;

    #[test]
    fn every_type_parses() {
        let text = r#"{"s":{"S":"é"},"n":{"N":"-12.50"},"b":{"B":"AAE="},"t":{"BOOL":true},"z":{"NULL":true},
            "m":{"M":{"x":{"L":[{"N":"0"},{"S":""}]}}},"ss":{"SS":["a","bc"]},"ns":{"NS":["1","100"]},"bs":{"BS":["AAE=","/w=="]}}"#;
        let item = Item::from_json_str(text).unwrap();
        assert_eq!(item.get("b"), Some(&AttributeValue::B(vec![0, 1])));
        assert_eq!(
            item.get("n").and_then(|v| v.as_n()).map(|n| n.to_string()),
            Some("-12.5".into())
        );
        let back = Item::from_json_str(&item.to_json_string()).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn strictness_with_attribute_names_in_errors() {
        for (text, needle) in [
            (r#"{"a":{}}"#, "empty"),
            (r#"{"a":{"S":"x","N":"1"}}"#, "more than one"),
            (r#"{"a":{"X":"1"}}"#, "unknown datatype"),
            (r#"{"a":{"NULL":false}}"#, "Null"),
            (r#"{"a":{"SS":[]}}"#, "may not be empty"),
            (r#"{"a":{"SS":["x","x"]}}"#, "duplicates"),
            (r#"{"a":{"NS":["1","1.0"]}}"#, "duplicates"),
            (r#"{"a":{"N":"one"}}"#, "numeric"),
            (r#"{"a":{"B":"!!"}}"#, "base64"),
            (r#"{"a":{"M":{"b":{"S":1}}}}"#, "a.b"),
            (r#"[1]"#, "object"),
        ] {
            let err = Item::from_json_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
            if text.starts_with("{\"a\"") {
                assert!(err.contains('a'), "{text}: {err}");
            }
        }
    }

    #[test]
    fn deep_json_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Item::from_json_str(&deep).is_err());
        let mut text = String::from(r#"{"S":"x"}"#);
        for _ in 0..200 {
            text = format!(r#"{{"L":[{text}]}}"#);
        }
        assert!(Item::from_json_str(&format!(r#"{{"a":{text}}}"#)).is_err());
    }

    proptest! {
        #[test]
        fn json_round_trips(item in arb_item()) {
            let text = item.to_json_string();
            prop_assert_eq!(Item::from_json_str(&text).unwrap(), item.clone());
            let via_serde: Item = serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
            prop_assert_eq!(via_serde, item);
        }
    }
}
