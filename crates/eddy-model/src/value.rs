//! Attribute values and items.
//!
//! [`AttributeValue`] has DynamoDB's ten types. Sets are kept as ordered sets
//! so that duplicates are impossible once a value exists (number sets compare
//! numerically, so `1` and `1.0` are one element); emptiness, which an
//! ordered set cannot rule out by construction, is checked by
//! [`AttributeValue::validate`]. Items are ordered maps from attribute name to
//! value, which makes their encodings and their JSON deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::{Error, Result};
use crate::number::Number;

/// DynamoDB's maximum nesting depth of maps and lists.
pub const MAX_NESTING_DEPTH: usize = 32;

/// The largest attribute name, in UTF-8 bytes.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 65_535;

/// A map of attribute names to values, the content of an `M` value.
pub type Map = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// `S`: a UTF-8 string.
    S(String),
    /// `N`: an exact decimal number.
    N(Number),
    /// `B`: raw bytes (base64 only in JSON).
    B(Vec<u8>),
    /// `BOOL`.
    Bool(bool),
    /// `NULL` (always `true` in JSON).
    Null,
    /// `M`: a map of names to values.
    M(Map),
    /// `L`: a list of values.
    L(Vec<AttributeValue>),
    /// `SS`: a non-empty set of strings.
    Ss(BTreeSet<String>),
    /// `NS`: a non-empty set of numbers.
    Ns(BTreeSet<Number>),
    /// `BS`: a non-empty set of byte strings.
    Bs(BTreeSet<Vec<u8>>),
}

/// The ten DynamoDB attribute types, by their JSON tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// `S`
    S,
    /// `N`
    N,
    /// `B`
    B,
    /// `BOOL`
    Bool,
    /// `NULL`
    Null,
    /// `M`
    M,
    /// `L`
    L,
    /// `SS`
    Ss,
    /// `NS`
    Ns,
    /// `BS`
    Bs,
}

impl AttributeType {
    /// The type's DynamoDB JSON tag (`"S"`, `"BOOL"`, …).
    pub fn tag(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
            AttributeType::Bool => "BOOL",
            AttributeType::Null => "NULL",
            AttributeType::M => "M",
            AttributeType::L => "L",
            AttributeType::Ss => "SS",
            AttributeType::Ns => "NS",
            AttributeType::Bs => "BS",
        }
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl AttributeValue {
    /// This value's type.
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            AttributeValue::S(_) => AttributeType::S,
            AttributeValue::N(_) => AttributeType::N,
            AttributeValue::B(_) => AttributeType::B,
            AttributeValue::Bool(_) => AttributeType::Bool,
            AttributeValue::Null => AttributeType::Null,
            AttributeValue::M(_) => AttributeType::M,
            AttributeValue::L(_) => AttributeType::L,
            AttributeValue::Ss(_) => AttributeType::Ss,
            AttributeValue::Ns(_) => AttributeType::Ns,
            AttributeValue::Bs(_) => AttributeType::Bs,
        }
    }

    /// A number value parsed from DynamoDB number text.
    pub fn number(text: &str) -> Result<AttributeValue> {
        Ok(AttributeValue::N(text.parse()?))
    }

    /// A string set; fails if empty. Duplicates collapse.
    pub fn string_set<I, S>(items: I) -> Result<AttributeValue>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: BTreeSet<String> = items.into_iter().map(Into::into).collect();
        let v = AttributeValue::Ss(set);
        v.check_set_not_empty()?;
        Ok(v)
    }

    /// A number set; fails if empty. Numerically equal numbers collapse.
    pub fn number_set<I: IntoIterator<Item = Number>>(items: I) -> Result<AttributeValue> {
        let v = AttributeValue::Ns(items.into_iter().collect());
        v.check_set_not_empty()?;
        Ok(v)
    }

    /// A binary set; fails if empty. Duplicates collapse.
    pub fn binary_set<I: IntoIterator<Item = Vec<u8>>>(items: I) -> Result<AttributeValue> {
        let v = AttributeValue::Bs(items.into_iter().collect());
        v.check_set_not_empty()?;
        Ok(v)
    }

    /// The string, if this is an `S`.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an `N`.
    pub fn as_n(&self) -> Option<&Number> {
        match self {
            AttributeValue::N(n) => Some(n),
            _ => None,
        }
    }

    /// The bytes, if this is a `B`.
    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            AttributeValue::B(b) => Some(b),
            _ => None,
        }
    }

    /// Checks the rules a value must follow to be stored: non-empty sets,
    /// valid nested attribute names, nesting no deeper than 32 levels.
    /// `path` names the value in error messages.
    pub fn validate(&self, path: &str) -> Result<()> {
        self.validate_at(path, 1)
    }

    fn validate_at(&self, path: &str, depth: usize) -> Result<()> {
        match self {
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => {
                self.check_set_not_empty().map_err(|_| {
                    Error::InvalidValue(format!(
                        "An {} set may not be empty (attribute {path})",
                        set_kind(self.attribute_type())
                    ))
                })
            }
            AttributeValue::M(map) => {
                check_depth(path, depth)?;
                for (name, value) in map {
                    check_attribute_name(name)?;
                    value.validate_at(&format!("{path}.{name}"), depth + 1)?;
                }
                Ok(())
            }
            AttributeValue::L(list) => {
                check_depth(path, depth)?;
                for (i, value) in list.iter().enumerate() {
                    value.validate_at(&format!("{path}[{i}]"), depth + 1)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_set_not_empty(&self) -> Result<()> {
        let empty = match self {
            AttributeValue::Ss(s) => s.is_empty(),
            AttributeValue::Ns(s) => s.is_empty(),
            AttributeValue::Bs(s) => s.is_empty(),
            _ => false,
        };
        if empty {
            return Err(Error::InvalidValue(format!(
                "An {} set may not be empty",
                set_kind(self.attribute_type())
            )));
        }
        Ok(())
    }
}

fn set_kind(t: AttributeType) -> &'static str {
    match t {
        AttributeType::Ss => "string",
        AttributeType::Ns => "number",
        _ => "binary",
    }
}

fn check_depth(path: &str, depth: usize) -> Result<()> {
    if depth > MAX_NESTING_DEPTH {
        return Err(Error::InvalidValue(format!(
            "Nesting Levels have exceeded supported limits: attribute {path} is nested deeper than {MAX_NESTING_DEPTH} levels"
        )));
    }
    Ok(())
}

/// Checks an attribute name: 1 to 65 535 UTF-8 bytes.
pub fn check_attribute_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidValue(
            "An attribute name may not be empty".into(),
        ));
    }
    if name.len() > MAX_ATTRIBUTE_NAME_BYTES {
        return Err(Error::InvalidValue(format!(
            "Attribute name {}... is {} bytes, more than the maximum of {MAX_ATTRIBUTE_NAME_BYTES}",
            name.chars().take(32).collect::<String>(),
            name.len()
        )));
    }
    Ok(())
}

impl fmt::Debug for AttributeValue {
    /// Debug output is the DynamoDB JSON form, which is what a reader of a
    /// failing test wants to see.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::json::value_to_json(self))
    }
}

impl From<&str> for AttributeValue {
    fn from(s: &str) -> AttributeValue {
        AttributeValue::S(s.to_string())
    }
}

impl From<String> for AttributeValue {
    fn from(s: String) -> AttributeValue {
        AttributeValue::S(s)
    }
}

impl From<Number> for AttributeValue {
    fn from(n: Number) -> AttributeValue {
        AttributeValue::N(n)
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> AttributeValue {
        AttributeValue::Bool(b)
    }
}

impl From<Vec<u8>> for AttributeValue {
    fn from(b: Vec<u8>) -> AttributeValue {
        AttributeValue::B(b)
    }
}

macro_rules! value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for AttributeValue {
            fn from(v: $t) -> AttributeValue {
                AttributeValue::N(Number::from(v))
            }
        }
    )*};
}
value_from_int!(i32, i64, u32, u64, usize);

/// An item: attribute names mapped to values.
///
/// ```
/// use eddy_model::{AttributeValue, Item};
/// let item = Item::new().with("pk", "user#1").with("age", 42).with("admin", true);
/// assert_eq!(item.get("pk"), Some(&AttributeValue::S("user#1".into())));
/// assert_eq!(item.to_json_string(), r#"{"admin":{"BOOL":true},"age":{"N":"42"},"pk":{"S":"user#1"}}"#);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Item(Map);

impl Item {
    /// An empty item.
    pub fn new() -> Item {
        Item(Map::new())
    }

    /// This item with `name` set to `value` (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Item {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Sets an attribute, returning its previous value.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<AttributeValue>,
    ) -> Option<AttributeValue> {
        self.0.insert(name.into(), value.into())
    }

    /// Removes an attribute, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<AttributeValue> {
        self.0.remove(name)
    }

    /// The value of an attribute.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.0.get(name)
    }

    /// A mutable reference to an attribute's value.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut AttributeValue> {
        self.0.get_mut(name)
    }

    /// Whether the item has an attribute.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the item has no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &AttributeValue)> {
        self.0.iter()
    }

    /// The attribute names in order.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// The underlying map.
    pub fn as_map(&self) -> &Map {
        &self.0
    }

    /// Consumes the item, returning the underlying map.
    pub fn into_map(self) -> Map {
        self.0
    }

    /// The item's size by DynamoDB's rules (see [`crate::size`]).
    pub fn size(&self) -> usize {
        crate::size::item_size(self)
    }

    /// Checks every attribute name and value (not the key or the size limit,
    /// which depend on the table; see [`crate::KeySchema::validate_item`]).
    pub fn validate(&self) -> Result<()> {
        for (name, value) in &self.0 {
            check_attribute_name(name)?;
            value.validate(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl From<Map> for Item {
    fn from(map: Map) -> Item {
        Item(map)
    }
}

impl<K: Into<String>, V: Into<AttributeValue>> FromIterator<(K, V)> for Item {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Item {
        Item(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl IntoIterator for Item {
    type Item = (String, AttributeValue);
    type IntoIter = std::collections::btree_map::IntoIter<String, AttributeValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Item {
    type Item = (&'a String, &'a AttributeValue);
    type IntoIter = std::collections::btree_map::Iter<'a, String, AttributeValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_unique_and_non_empty() {
        let ns = AttributeValue::number_set(["1", "1.0", "2"].map(|s| s.parse().unwrap())).unwrap();
        match &ns {
            AttributeValue::Ns(s) => assert_eq!(s.len(), 2),
            other => panic!("not NS: {other:?}"),
        }
        assert!(AttributeValue::string_set(Vec::<String>::new()).is_err());
        let empty = Item::new().with("tags", AttributeValue::Ss(BTreeSet::new()));
        let err = empty.validate().unwrap_err().to_string();
        assert!(err.contains("tags"), "{err}");
    }

    #[test]
    fn nesting_is_limited_to_32_levels() {
        let mut v = AttributeValue::S("leaf".into());
        for _ in 0..32 {
            v = AttributeValue::L(vec![v]);
        }
        assert!(Item::new().with("a", v.clone()).validate().is_ok());
        let too_deep = AttributeValue::L(vec![v]);
        let err = Item::new().with("a", too_deep).validate().unwrap_err();
        assert!(err.to_string().contains("Nesting"), "{err}");
    }

    #[test]
    fn empty_names_are_refused() {
        assert!(Item::new().with("", 1).validate().is_err());
        let nested = Item::new().with("m", AttributeValue::M(Item::new().with("", 1).into_map()));
        assert!(nested.validate().is_err());
    }
}
