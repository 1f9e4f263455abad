//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! same checks as the cargo-fuzz targets in `fuzz/fuzz_targets/`, so that
//! every input that once crashed a decoder or parser stays fixed, on stable
//! Rust, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;

use corpus::corpus;
use std::collections::BTreeMap;

use eddy_model::expr::{Condition, ExpressionContext, KeyCondition, Projection, UpdateExpression};
use eddy_model::{codec, AttributeValue, Item, KeySchema, KeyType};

#[test]
fn item_json_corpus() {
    let mut parsed = 0;
    for (_, data) in corpus("item_json") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(item) = Item::from_json_str(text) {
            parsed += 1;
            assert_eq!(Item::from_json_str(&item.to_json_string()).unwrap(), item);
        }
    }
    assert!(
        parsed > 0,
        "no corpus entry parses: the replay checks nothing"
    );
}

#[test]
fn codec_corpus() {
    let mut decoded = 0;
    for (_, data) in corpus("codec") {
        if let Ok(item) = codec::decode_item(&data) {
            decoded += 1;
            assert_eq!(
                codec::decode_item(&codec::encode_item(&item)).unwrap(),
                item
            );
        }
        if let Ok(change) = codec::decode_change(&data) {
            assert_eq!(
                codec::decode_change(&codec::encode_change(&change)).unwrap(),
                change
            );
        }
        if let Ok(table) = codec::decode_table(&data) {
            assert_eq!(
                codec::decode_table(&codec::encode_table(&table)).unwrap(),
                table
            );
        }
        let _ = codec::decode_destination(&data);
    }
    assert!(
        decoded > 0,
        "no corpus entry decodes: the replay checks nothing"
    );
}

#[test]
fn expressions_corpus() {
    let mut parsed = 0;
    for (_, data) in corpus("expressions") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let names = BTreeMap::from([("#n".to_string(), "name".to_string())]);
        let values: BTreeMap<String, AttributeValue> = [
            (":v", AttributeValue::from(1)),
            (":x", AttributeValue::from(1)),
            (":lo", AttributeValue::from(1)),
            (":hi", AttributeValue::from(9)),
            (":p", AttributeValue::from("a")),
            (":s", AttributeValue::from("x")),
            (":l", AttributeValue::L(vec![AttributeValue::from(1)])),
            (
                ":set",
                AttributeValue::string_set(["a"]).unwrap_or(AttributeValue::Null),
            ),
            (
                ":set2",
                AttributeValue::string_set(["b"]).unwrap_or(AttributeValue::Null),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let item = Item::new()
            .with("pk", "a")
            .with("sk", 1)
            .with("a", 2)
            .with("name", "x");
        let key = Item::new().with("pk", "a").with("sk", "x");
        let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::S);
        let mut ctx = ExpressionContext::new(names, values);
        if let Ok(c) = Condition::parse(text, &mut ctx) {
            parsed += 1;
            let _ = c.evaluate(Some(&item));
            let _ = c.evaluate(None);
        }
        if KeyCondition::parse(text, &mut ctx, &schema).is_ok() {
            parsed += 1;
        }
        if let Ok(p) = Projection::parse(text, &mut ctx) {
            let _ = p.apply(&item);
        }
        if let Ok(u) = UpdateExpression::parse(text, &mut ctx) {
            parsed += 1;
            if u.validate(&schema).is_ok() {
                let _ = u.apply(Some(&item), &key);
                let _ = u.apply(None, &key);
            }
        }
    }
    assert!(
        parsed >= 3,
        "the corpus's valid expressions no longer parse"
    );
}
