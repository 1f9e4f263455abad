//! Key condition expressions against key schemas.

use super::ctx;
use crate::expr::{KeyCondition, SortKeyCondition};
use crate::key::{KeySchema, KeyType};
use crate::value::AttributeValue;

const VALUES: &str = r#"{
    ":p":{"S":"user"}, ":n1":{"N":"1"}, ":n5":{"N":"5"}, ":s":{"S":"ab"}, ":b":{"B":"AQI="},
    ":empty":{"S":""}
}"#;

fn schema() -> KeySchema {
    KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
}

fn parse_with(text: &str, schema: &KeySchema) -> Result<KeyCondition, String> {
    let mut c = ctx(&[("#k", "pk"), ("#s", "sk")], VALUES);
    KeyCondition::parse(text, &mut c, schema).map_err(|e| e.message().to_string())
}

fn parse(text: &str) -> Result<KeyCondition, String> {
    parse_with(text, &schema())
}

#[test]
fn accepted_shapes() {
    let p = AttributeValue::from("user");
    let n1 = AttributeValue::from(1);
    let n5 = AttributeValue::from(5);
    let cases: Vec<(&str, Option<SortKeyCondition>)> = vec![
        ("pk = :p", None),
        ("#k = :p", None),
        (":p = pk", None),
        (
            "pk = :p AND sk = :n1",
            Some(SortKeyCondition::Eq(n1.clone())),
        ),
        (
            "pk = :p AND sk < :n1",
            Some(SortKeyCondition::Lt(n1.clone())),
        ),
        (
            "pk = :p AND sk <= :n1",
            Some(SortKeyCondition::Le(n1.clone())),
        ),
        (
            "pk = :p AND sk > :n1",
            Some(SortKeyCondition::Gt(n1.clone())),
        ),
        (
            "pk = :p AND #s >= :n1",
            Some(SortKeyCondition::Ge(n1.clone())),
        ),
        (
            "pk = :p AND :n1 < sk",
            Some(SortKeyCondition::Gt(n1.clone())),
        ),
        (
            "sk BETWEEN :n1 AND :n5 AND pk = :p",
            Some(SortKeyCondition::Between(n1, n5)),
        ),
        (
            "(pk = :p) AND (sk > :n5)",
            Some(SortKeyCondition::Gt(AttributeValue::from(5))),
        ),
    ];
    for (text, sort) in cases {
        let kc = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(kc.partition, p, "{text}");
        assert_eq!(kc.sort, sort, "{text}");
    }
    let string_sort = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::S);
    let kc = parse_with("pk = :p AND begins_with(sk, :s)", &string_sort).unwrap();
    assert_eq!(kc.sort, Some(SortKeyCondition::BeginsWith("ab".into())));
    let binary_sort = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::B);
    assert!(parse_with("pk = :p AND begins_with(sk, :b)", &binary_sort).is_ok());
}

#[test]
fn refused_shapes() {
    let hash_only = KeySchema::new("pk", KeyType::S);
    let full = schema();
    let cases: Vec<(&str, &KeySchema, &str)> = vec![
        ("pk = :p OR sk = :n1", &full, "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :p", &full, "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk IN (:p)", &full, "Invalid operator used in KeyConditionExpression: IN"),
        ("pk <> :p", &full, "Invalid operator used in KeyConditionExpression: <>"),
        ("pk = :p AND attribute_exists(sk)", &full, "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("pk = :p AND contains(sk, :n1)", &full, "Invalid operator used in KeyConditionExpression: contains"),
        ("pk = :p AND size(sk) = :n1", &full, "KeyConditionExpressions cannot contain nested operations"),
        ("pk = :p AND sk = pk", &full, "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("pk = :p AND :n1 = :n5", &full, "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("pk = :p AND :n1 BETWEEN sk AND :n5", &full, "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand"),
        ("pk = :p AND begins_with(:s, sk)", &full, "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand"),
        ("pk.x = :p", &full, "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("pk = :p AND pk = :p", &full, "KeyConditionExpressions must only contain one condition per key"),
        ("sk = :n1", &full, "Query condition missed key schema element: pk"),
        ("pk = :p AND extra = :n1", &full, "Query condition missed key schema element: sk"),
        ("pk > :p", &full, "Query key condition not supported"),
        ("pk = :p AND sk = :n1", &hash_only, "Query key condition not supported"),
        ("pk = :p AND sk > :n1 AND x = :n1", &full, "Conditions can be of length 1 or 2 only"),
        ("pk = :n1", &full, "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        ("pk = :p AND sk > :s", &full, "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        ("pk = :empty", &full, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
        ("pk = :p AND begins_with(sk, :n1)", &full, "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("pk = :p AND sk BETWEEN :n5 AND :n1", &full, "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
        ("pk =", &full, "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""),
        ("pk = :zz", &full, "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz"),
    ];
    for (text, schema, message) in cases {
        assert_eq!(parse_with(text, schema).unwrap_err(), message, "{text}");
    }
}

#[test]
fn sort_conditions_match() {
    let n = |i: i64| AttributeValue::from(i);
    let cases = [
        (SortKeyCondition::Eq(n(2)), [false, true, false]),
        (SortKeyCondition::Lt(n(2)), [true, false, false]),
        (SortKeyCondition::Le(n(2)), [true, true, false]),
        (SortKeyCondition::Gt(n(2)), [false, false, true]),
        (SortKeyCondition::Ge(n(2)), [false, true, true]),
        (SortKeyCondition::Between(n(2), n(3)), [false, true, true]),
    ];
    for (cond, expected) in cases {
        for (v, e) in [1, 2, 3].into_iter().zip(expected) {
            assert_eq!(cond.matches(&n(v)), e, "{cond:?} {v}");
        }
        assert!(!cond.matches(&AttributeValue::from("2")), "{cond:?}");
    }
    let prefix = SortKeyCondition::BeginsWith(AttributeValue::B(vec![1]));
    assert!(prefix.matches(&AttributeValue::B(vec![1, 2])));
    assert!(!prefix.matches(&AttributeValue::B(vec![2, 1])));
    assert!(!prefix.matches(&AttributeValue::from("\u{1}")));
}
