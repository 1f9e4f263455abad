//! Item sizes by DynamoDB's rules.
//!
//! DynamoDB charges and limits items by a size it computes from attribute
//! names and values, not by any encoding's length. The same rules give the
//! 400 KB item limit, the `SizeBytes` of change records and the change data
//! capture units, so they live in one place:
//!
//! | type | bytes (plus the UTF-8 length of the attribute's name) |
//! |---|---|
//! | `S` | UTF-8 length |
//! | `B` | raw length |
//! | `N` | see [`Number::size`](crate::Number::size) |
//! | `BOOL`, `NULL` | 1 |
//! | `SS`, `NS`, `BS` | sum of the elements' sizes |
//! | `L` | 3 + Σ (1 + element) |
//! | `M` | 3 + Σ (1 + key length + value) |

use crate::value::{AttributeValue, Item};

/// DynamoDB's maximum item size: 400 KB.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// The size of one value, excluding any attribute name.
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.size(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Bool(_) | AttributeValue::Null => 1,
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| n.size()).sum(),
        AttributeValue::Bs(s) => s.iter().map(Vec::len).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// The size of an item: the sum over its attributes of name length plus
/// value size.
///
/// ```
/// use eddy_model::Item;
/// // The record of shared/reference §1.8: 43 bytes of keys, 76 of image.
/// let item = Item::new()
///     .with("Artist", "No One You Know")
///     .with("SongTitle", "Call Me Today")
///     .with("AlbumTitle", "Somewhat Famous")
///     .with("Awards", 1);
/// assert_eq!(item.size(), 76);
/// ```
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Change data capture units for a change: one per started KB of the larger
/// of the two images (at least one).
pub fn cdc_units(old: Option<&Item>, new: Option<&Item>) -> u64 {
    let larger = old.map_or(0, item_size).max(new.map_or(0, item_size));
    (larger.div_ceil(1024)).max(1) as u64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn item(json: &str) -> Item {
        Item::from_json_str(json).unwrap()
    }

    /// The "Kitchen" record of shared/reference/aws-behaviour.md §1.8: keys 9,
    /// image 56, SizeBytes 65; per attribute pk 3, sk 6, ok 3, none 5, tags 7,
    /// nums 8, bins 7, m 17.
    #[test]
    fn every_type_matches_the_reference() {
        let image = item(
            r#"{"pk":{"S":"k"},"sk":{"N":"-12.5"},"ok":{"BOOL":true},"none":{"NULL":true},"tags":{"SS":["a","bc"]},"nums":{"NS":["1","100"]},"bins":{"BS":["AAE=","/w=="]},"m":{"M":{"x":{"S":"y"},"l":{"L":[{"N":"0"},{"S":"é"}]}}}}"#,
        );
        let per_attribute: Vec<(&str, usize)> = image
            .iter()
            .map(|(k, v)| (k.as_str(), k.len() + value_size(v)))
            .collect();
        for (name, expected) in [
            ("pk", 3),
            ("sk", 6),
            ("ok", 3),
            ("none", 5),
            ("tags", 7),
            ("nums", 8),
            ("bins", 7),
            ("m", 17),
        ] {
            let got = per_attribute
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s);
            assert_eq!(got, Some(expected), "attribute {name}");
        }
        let keys = item(r#"{"pk":{"S":"k"},"sk":{"N":"-12.5"}}"#);
        assert_eq!(item_size(&keys) + item_size(&image), 65);
    }

    /// The AWS-recorded INSERT `{id: S "test"}` has SizeBytes 12 (keys 6 +
    /// image 6); the binary MODIFY of §1.8 has 25.
    #[test]
    fn recorded_vectors() {
        let one = item(r#"{"id":{"S":"test"}}"#);
        assert_eq!(item_size(&one) * 2, 12);
        let keys = item(r#"{"id":{"S":"1"}}"#);
        let new = item(r#"{"id":{"S":"1"},"blob":{"B":"EwIIew=="}}"#);
        let old = item(r#"{"id":{"S":"1"},"blob":{"B":"EgIIew=="}}"#);
        assert_eq!(item_size(&keys) + item_size(&new) + item_size(&old), 25);
        // TTL REMOVE example: keys 12, old image 37 - 12 = 25.
        let keys = item(r#"{"pk":{"S":"session#42"}}"#);
        let old = item(r#"{"pk":{"S":"session#42"},"expiresAt":{"N":"1699990000"}}"#);
        assert_eq!(item_size(&keys) + item_size(&old), 37);
    }

    #[test]
    fn cdc_units_round_up_the_larger_image() {
        let small = Item::new().with("a", "x");
        let big = Item::new().with("a", "x".repeat(2000));
        assert_eq!(cdc_units(None, Some(&small)), 1);
        assert_eq!(cdc_units(Some(&small), Some(&big)), 2);
        assert_eq!(cdc_units(Some(&big), None), 2);
    }
}
