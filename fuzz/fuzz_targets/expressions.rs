//! The DynamoDB expression parsers (condition, key condition, projection,
//! update) and their evaluation: never panic on arbitrary text.
//! `crates/eddy-model/tests/fuzz_corpus.rs` replays the corpus through the
//! same calls.
#![no_main]

use std::collections::BTreeMap;

use eddy_model::expr::{Condition, ExpressionContext, KeyCondition, Projection, UpdateExpression};
use eddy_model::{AttributeValue, Item, KeySchema, KeyType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let names = BTreeMap::from([("#n".to_string(), "name".to_string())]);
    let values: BTreeMap<String, AttributeValue> = [
            (":v", AttributeValue::from(1)),
            (":x", AttributeValue::from(1)),
            (":lo", AttributeValue::from(1)),
            (":hi", AttributeValue::from(9)),
            (":p", AttributeValue::from("a")),
            (":s", AttributeValue::from("x")),
            (":l", AttributeValue::L(vec![AttributeValue::from(1)])),
            (":set", AttributeValue::string_set(["a"]).unwrap_or(AttributeValue::Null)),
            (":set2", AttributeValue::string_set(["b"]).unwrap_or(AttributeValue::Null)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let item = Item::new().with("pk", "a").with("sk", "x").with("a", 2).with("name", "x");
    let key = Item::new().with("pk", "a").with("sk", "x");
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::S);
    let mut ctx = ExpressionContext::new(names, values);
    if let Ok(c) = Condition::parse(text, &mut ctx) {
        let _ = c.evaluate(Some(&item));
        let _ = c.evaluate(None);
    }
    let _ = KeyCondition::parse(text, &mut ctx, &schema);
    if let Ok(p) = Projection::parse(text, &mut ctx) {
        let _ = p.apply(&item);
    }
    if let Ok(u) = UpdateExpression::parse(text, &mut ctx) {
        if u.validate(&schema).is_ok() {
            let _ = u.apply(Some(&item), &key);
            let _ = u.apply(None, &key);
        }
    }
});
