//! Property tests: no input makes any parser or evaluator panic, and
//! update arithmetic is `Number`'s exact arithmetic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::arbitrary::{arb_item, arb_number};
use crate::expr::{Condition, ExpressionContext, KeyCondition, Projection, UpdateExpression};
use crate::key::{KeySchema, KeyType};
use crate::value::{AttributeValue, Item};

const VOCABULARY: &[&str] = &[
    "a",
    "b",
    "pk",
    "sk",
    "#n",
    "#m",
    "#undefined",
    ":v",
    ":w",
    ":s",
    ":l",
    ":t",
    ":undefined",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1",
    "99999999999999999999999",
    ",",
    ".",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "and",
    "size",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "if_not_exists",
    "list_append",
    "status",
    "foo",
    "!",
    "é",
    "#",
    ":",
    "\t",
];

fn context() -> ExpressionContext {
    let names = BTreeMap::from([
        ("#n".to_string(), "a".to_string()),
        ("#m".to_string(), "b".to_string()),
    ]);
    let values = BTreeMap::from([
        (":v".to_string(), AttributeValue::from(1)),
        (":w".to_string(), AttributeValue::from("x")),
        (
            ":s".to_string(),
            AttributeValue::Ss(["x".to_string()].into()),
        ),
        (
            ":l".to_string(),
            AttributeValue::L(vec![AttributeValue::Null]),
        ),
        (":t".to_string(), AttributeValue::from("N")),
    ]);
    ExpressionContext::new(names, values)
}

/// Runs every parser on `text` and, for what parses, every evaluator.
fn exercise(text: &str, item: &Item) {
    let mut ctx = context();
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
    if let Ok(c) = Condition::parse(text, &mut ctx) {
        let _ = c.evaluate(Some(item));
        let _ = c.evaluate(None);
    }
    let _ = Condition::parse_filter(text, &mut ctx);
    let _ = KeyCondition::parse(text, &mut ctx, &schema);
    if let Ok(p) = Projection::parse(text, &mut ctx) {
        let _ = p.apply(item);
    }
    if let Ok(u) = UpdateExpression::parse(text, &mut ctx) {
        let _ = u.validate(&schema);
        let _ = u.apply(Some(item), &Item::new());
        let _ = u.apply(None, &Item::new().with("pk", "k"));
        let _ = u.project_updated(item);
    }
    let _ = ctx.check_all_used();
}

fn soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(VOCABULARY), 0..60),
        any::<bool>(),
    )
        .prop_map(|(tokens, spaced)| tokens.join(if spaced { " " } else { "" }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}", item in arb_item()) {
        exercise(&text, &item);
    }

    #[test]
    fn token_soup_never_panics(text in soup(), item in arb_item()) {
        exercise(&text, &item);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(open in 0usize..3000, which in 0usize..4) {
        let unit = ["(", "NOT ", "size(", "if_not_exists(a, "][which];
        let text = format!("{}a = :v{}", unit.repeat(open), ")".repeat(open));
        exercise(&text, &Item::new());
        let update = format!("SET x = {}:v{}", unit.repeat(open), ")".repeat(open));
        exercise(&update, &Item::new());
    }

    #[test]
    fn set_plus_matches_checked_add(a in arb_number(), x in arb_number(), minus in any::<bool>()) {
        let values = BTreeMap::from([(":x".to_string(), AttributeValue::N(x.clone()))]);
        let mut ctx = ExpressionContext::new(BTreeMap::new(), values);
        let text = if minus { "SET a = a - :x" } else { "SET a = a + :x" };
        let update = UpdateExpression::parse(text, &mut ctx).unwrap();
        let key = Item::new().with("pk", "k");
        let before = key.clone().with("a", AttributeValue::N(a.clone()));
        let expected = if minus { a.checked_sub(&x) } else { a.checked_add(&x) };
        match (update.apply(Some(&before), &key), expected) {
            (Ok(after), Ok(sum)) => prop_assert_eq!(after, key.with("a", AttributeValue::N(sum))),
            (Err(e), Err(n)) => prop_assert_eq!(e.message(), n.to_string()),
            (got, want) => prop_assert!(false, "update gave {:?}, Number gave {:?}", got, want),
        }
    }
}
