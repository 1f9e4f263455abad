//! Reading an operation's input members with AWS's errors.
//!
//! A member of the wrong JSON type is a `SerializationException` (the
//! service could not deserialize the body); a missing required member is a
//! `ValidationException` worded as AWS words it:
//! `1 validation error detected: Value null at 'tableName' failed to
//! satisfy constraint: Member must not be null`. AWS names members in
//! lower camel case in these messages.

use std::collections::BTreeMap;

use base64::Engine as _;
use eddy::{AttributeValue, Item};
use serde_json::{Map, Value};

use crate::protocol::ApiError;

/// The member name as AWS's validation messages spell it (`TableName` →
/// `tableName`).
pub fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `Value null at '<member>' failed to satisfy constraint: Member must not be null`.
pub fn missing(member: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        camel(member)
    ))
}

/// A constraint violation on one member, in AWS's words.
pub fn constraint(member: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: {constraint}",
        camel(member)
    ))
}

fn wrong_type(member: &str, expected: &str) -> ApiError {
    ApiError::serialization(format!(
        "Unexpected value type in payload: member '{member}' must be {expected}"
    ))
}

/// An operation's input: the body's top-level object (or a nested one).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    map: &'a Map<String, Value>,
}

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

impl<'a> Input<'a> {
    /// The input of a body: it must be a JSON object (an empty body reads
    /// as `{}`).
    pub fn new(body: &'a Value) -> Result<Input<'a>, ApiError> {
        match body {
            Value::Object(map) => Ok(Input { map }),
            Value::Null => Ok(Input {
                map: EMPTY.get_or_init(Map::new),
            }),
            _ => Err(ApiError::serialization(
                "Start of structure or map found where not expected",
            )),
        }
    }

    /// The raw members.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether the member is present (and not null).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    /// A required string member.
    pub fn str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| missing(name))
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "a boolean")),
        }
    }

    /// An optional integer member (JSON number without a fraction; AWS SDKs
    /// never send integers as strings).
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => Ok(Some(v)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(f as i64)),
                    _ => Err(wrong_type(name, "an integer")),
                },
            },
            Some(_) => Err(wrong_type(name, "an integer")),
        }
    }

    /// A required integer member.
    pub fn i64(&self, name: &str) -> Result<i64, ApiError> {
        self.opt_i64(name)?.ok_or_else(|| missing(name))
    }

    /// An optional timestamp member, as epoch seconds (integer or fraction)
    /// converted to milliseconds.
    pub fn opt_timestamp_millis(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(secs) if secs >= 0.0 && secs.is_finite() => {
                    Ok(Some((secs * 1000.0).round() as u64))
                }
                _ => Err(wrong_type(name, "a non-negative timestamp")),
            },
            Some(_) => Err(wrong_type(name, "a timestamp")),
        }
    }

    /// An optional blob member (base64 in JSON).
    pub fn opt_blob(&self, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(text) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Some)
                .map_err(|_| {
                    ApiError::serialization(format!("Base64 encoded value of '{name}' is invalid"))
                }),
        }
    }

    /// An optional nested structure.
    pub fn opt_object(&self, name: &str) -> Result<Option<Input<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Input { map })),
            Some(_) => Err(wrong_type(name, "a structure")),
        }
    }

    /// A required nested structure.
    pub fn object(&self, name: &str) -> Result<Input<'a>, ApiError> {
        self.opt_object(name)?.ok_or_else(|| missing(name))
    }

    /// An optional list member.
    pub fn opt_list(&self, name: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(_) => Err(wrong_type(name, "a list")),
        }
    }

    /// A required list member.
    pub fn list(&self, name: &str) -> Result<&'a Vec<Value>, ApiError> {
        self.opt_list(name)?.ok_or_else(|| missing(name))
    }

    /// An optional list of structures.
    pub fn opt_objects(&self, name: &str) -> Result<Option<Vec<Input<'a>>>, ApiError> {
        match self.opt_list(name)? {
            None => Ok(None),
            Some(list) => list
                .iter()
                .map(|v| match v {
                    Value::Object(map) => Ok(Input { map }),
                    _ => Err(wrong_type(name, "a list of structures")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    /// An optional list of strings.
    pub fn opt_strings(&self, name: &str) -> Result<Option<Vec<&'a str>>, ApiError> {
        match self.opt_list(name)? {
            None => Ok(None),
            Some(list) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| wrong_type(name, "a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    /// An optional string-to-string map.
    pub fn opt_string_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(name, "a map of strings")),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, "a map")),
        }
    }

    /// An optional item (an attribute map in DynamoDB JSON).
    pub fn opt_item(&self, name: &str) -> Result<Option<Item>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Item::from_json(v)
                .map(Some)
                .map_err(|e| ApiError::validation(e.to_string())),
            Some(_) => Err(wrong_type(name, "a map")),
        }
    }

    /// A required item.
    pub fn item(&self, name: &str) -> Result<Item, ApiError> {
        self.opt_item(name)?.ok_or_else(|| missing(name))
    }

    /// An optional map of attribute values (`ExpressionAttributeValues`).
    pub fn opt_values(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, AttributeValue>>, ApiError> {
        match self.opt_item(name)? {
            None => Ok(None),
            Some(item) => Ok(Some(
                item.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            )),
        }
    }

    /// An optional enum member, checked against its allowed values with
    /// AWS's message.
    pub fn opt_enum(&self, name: &str, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v)),
            Some(v) => Err(constraint(
                name,
                v,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_members_are_validation_errors_in_aws_words() {
        let body = json!({});
        let input = Input::new(&body).unwrap();
        let e = input.str("TableName").unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let body = json!({"TableName": 5, "Limit": "x", "Item": []});
        let input = Input::new(&body).unwrap();
        assert_eq!(
            input.str("TableName").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            input.opt_i64("Limit").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            input.opt_item("Item").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            Input::new(&json!([1])).unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn items_enums_and_blobs_decode() {
        let body = json!({
            "Item": {"id": {"S": "a"}, "n": {"N": "1.50"}},
            "Mode": "ALL_OLD",
            "Data": "aGVsbG8=",
            "Bad": "???",
        });
        let input = Input::new(&body).unwrap();
        assert_eq!(input.item("Item").unwrap().len(), 2);
        assert_eq!(
            input.opt_enum("Mode", &["NONE", "ALL_OLD"]).unwrap(),
            Some("ALL_OLD")
        );
        let e = input.opt_enum("Mode", &["NONE"]).unwrap_err();
        assert!(
            e.message
                .contains("Member must satisfy enum value set: [NONE]"),
            "{e}"
        );
        assert_eq!(input.opt_blob("Data").unwrap().unwrap(), b"hello");
        assert_eq!(
            input.opt_blob("Bad").unwrap_err().code,
            "SerializationException"
        );
    }
}
