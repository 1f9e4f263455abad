//! Condition and filter expressions: grammar, errors, evaluation.

use std::collections::BTreeMap;

use super::{ctx, item};
use crate::expr::{Condition, ExpressionContext};
use crate::value::AttributeValue;

const VALUES: &str = r#"{
    ":n1":{"N":"1"}, ":n3":{"N":"3"}, ":n5":{"N":"5"}, ":s":{"S":"abc"}, ":sa":{"S":"a"},
    ":x":{"S":"x"}, ":b":{"B":"AQI="}, ":t":{"BOOL":true}, ":null":{"NULL":true},
    ":l":{"L":[{"N":"1"},{"S":"x"}]}, ":ss":{"SS":["a","b"]},
    ":t_s":{"S":"S"}, ":t_n":{"S":"N"}, ":t_bad":{"S":"X"}
}"#;

const ITEM: &str = r#"{
    "s":{"S":"abcdef"}, "n":{"N":"3"}, "b":{"B":"AQID"}, "flag":{"BOOL":true}, "nul":{"NULL":true},
    "l":{"L":[{"N":"1"},{"S":"x"}]}, "m":{"M":{"x":{"N":"1"},"nested":{"M":{"deep":{"S":"d"}}}}},
    "ss":{"SS":["a","b","c"]}, "ns":{"NS":["1","2","3"]}, "u":{"S":"é𝄞"}, "and":{"N":"1"}
}"#;

fn eval(text: &str) -> bool {
    let mut c = ctx(&[("#a", "m"), ("#b", "x"), ("#and", "and")], VALUES);
    let cond = Condition::parse(text, &mut c).unwrap_or_else(|e| panic!("{text}: {e}"));
    cond.evaluate(Some(&item(ITEM)))
}

fn error(text: &str) -> String {
    let mut c = ctx(&[("#a", "m")], VALUES);
    match Condition::parse(text, &mut c) {
        Ok(cond) => panic!("{text} parsed: {cond:?}"),
        Err(e) => e.message().to_string(),
    }
}

#[test]
fn evaluation_table() {
    let cases: &[(&str, bool)] = &[
        ("n = :n3", true),
        ("n = :n1", false),
        ("n <> :n1", true),
        ("n <> :n3", false),
        ("absent <> :n1", true),
        ("absent = :n1", false),
        ("n < :n5", true),
        ("n <= :n3", true),
        ("n > :n3", false),
        ("n >= :n5", false),
        ("n > :s", false),
        ("n < :s", false),
        ("n <> :s", true),
        ("s > :s", true),
        ("s < :sa", false),
        ("b > :b", true),
        ("flag = :t", true),
        ("flag > :t", false),
        ("nul = :null", true),
        ("l = :l", true),
        ("l[1] = :x", true),
        ("m.x = :n1", true),
        ("#a.#b = :n1", true),
        ("#and = :n1", true),
        ("n BETWEEN :n1 AND :n5", true),
        ("n BETWEEN :n3 AND :n3", true),
        ("n BETWEEN :n5 AND :n5", false),
        ("s BETWEEN :n1 AND :n5", false),
        ("n IN (:n1, :n3)", true),
        ("n IN (:n1, :n5)", false),
        ("l IN (:n1, :l)", true),
        ("absent IN (:n1)", false),
        ("attribute_exists(m.nested.deep)", true),
        ("attribute_exists(m.nested.nope)", false),
        ("attribute_exists(l[1])", true),
        ("attribute_exists(l[2])", false),
        ("attribute_exists(m[0])", false),
        ("attribute_not_exists(zz)", true),
        ("attribute_not_exists(n)", false),
        ("attribute_type(n, :t_n)", true),
        ("attribute_type(n, :t_s)", false),
        ("attribute_type(absent, :t_s)", false),
        ("begins_with(s, :s)", true),
        ("begins_with(s, :x)", false),
        ("begins_with(b, :b)", true),
        ("begins_with(n, :s)", false),
        ("begins_with(s, :b)", false),
        ("contains(s, :s)", true),
        ("contains(s, :x)", false),
        ("contains(ss, :sa)", true),
        ("contains(ss, :x)", false),
        ("contains(ns, :n3)", true),
        ("contains(ns, :n5)", false),
        ("contains(l, :x)", true),
        ("contains(l, :n5)", false),
        ("contains(n, :n3)", false),
        ("contains(absent, :n3)", false),
        ("size(s) > :n5", true),
        ("size(u) = :n3", true),
        ("size(b) = :n3", true),
        ("size(l) < :n3", true),
        ("size(m) > :n1", true),
        ("size(ss) = :n3", true),
        ("size(ns) = :n3", true),
        ("size(n) = :n1", false),
        ("size(flag) >= :n1", false),
        ("size(absent) = :n1", false),
        ("size(l) < size(s)", true),
        ("size(s) BETWEEN :n5 AND size(s)", true),
        ("n = :n3 OR n = :n1 AND s = :x", true),
        ("NOT n = :n1 AND n = :n5", false),
        ("NOT (n = :n3 OR n = :n1)", false),
        ("NOT NOT n = :n3", true),
        ("nOt n = :n1 aNd n BeTwEeN :n1 aNd :n5", true),
        ("(n) = :n3", true),
        ("(n = :n3)", true),
        ("(n) = (:n3)", true),
        ("(attribute_exists(n))", true),
        (
            "n = :n1 OR (n = :n3 AND (s = :s OR begins_with(s, :sa)))",
            true,
        ),
        ("n IN (:n1, (:n3))", true),
    ];
    for (text, expected) in cases {
        assert_eq!(eval(text), *expected, "{text}");
    }
}

#[test]
fn missing_item_has_no_attributes() {
    let mut c = ctx(&[], r#"{":v":{"N":"1"}}"#);
    for (text, expected) in [
        ("attribute_not_exists(pk)", true),
        ("attribute_exists(pk)", false),
        ("pk = :v", false),
        ("pk <> :v", true),
        ("NOT pk < :v", true),
    ] {
        let cond = Condition::parse(text, &mut c).unwrap();
        assert_eq!(cond.evaluate(None), expected, "{text}");
    }
}

#[test]
fn error_table() {
    let in_list = (0..101).map(|_| ":n1").collect::<Vec<_>>().join(",");
    let too_many_in = format!("n IN ({in_list})");
    let deep_path = format!("a{} = :n1", ".b".repeat(33));
    let deep_parens = format!("{}n = :n1{}", "(".repeat(70), ")".repeat(70));
    let deep_not = format!("{}n = :n1", "NOT ".repeat(70));
    let huge = format!("n = :n1{}", " ".repeat(4096));
    let cases: Vec<(&str, &str)> = vec![
        ("", "The expression can not be empty;"),
        ("   ", "The expression can not be empty;"),
        ("a =", "Syntax error; token: \"<EOF>\", near: \"=\""),
        ("a = :n1 :n3", "Syntax error; token: \":n3\", near: \":n1 :n3\""),
        ("a", "Syntax error; token: \"<EOF>\", near: \"a\""),
        ("a AND b = :n1", "Syntax error; token: \"AND\", near: \"a AND\""),
        ("a ! b", "Syntax error; token: \"!\", near: \"a !\""),
        ("= :n1", "Syntax error; token: \"=\", near: \"=\""),
        ("a = b = c", "Syntax error; token: \"=\", near: \"b =\""),
        ("a[x] = :n1", "Syntax error; token: \"x\", near: \"[x\""),
        ("a. = :n1", "Syntax error; token: \"=\", near: \". =\""),
        ("AND = :n1", "Syntax error; token: \"AND\", near: \"AND\""),
        ("a BETWEEN :n1 :n5", "Syntax error; token: \":n5\", near: \":n1 :n5\""),
        ("a IN :n1", "Syntax error; token: \":n1\", near: \"IN :n1\""),
        ("f()", "Syntax error; token: \")\", near: \"()\""),
        ("(a = :n1", "Syntax error; token: \"<EOF>\", near: \":n1\""),
        ("NOT a", "Syntax error; token: \"<EOF>\", near: \"a\""),
        ("status = :n1", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("a.Size = :n1", "Attribute name is a reserved keyword; reserved keyword: Size"),
        ("#zz = :n1", "An expression attribute name used in the document path is not defined; attribute name: #zz"),
        ("a = :zz", "An expression attribute value used in expression is not defined; attribute value: :zz"),
        ("foo(a)", "Invalid function name; function: foo"),
        ("foo(a) = :n1", "Invalid function name; function: foo"),
        ("if_not_exists(a, :n1) = :n1", "The function is not allowed in a condition expression; function: if_not_exists"),
        ("size(a)", "The function is not allowed to be used this way in an expression; function: size"),
        ("attribute_exists(a) = :n1", "The function is not allowed to be used this way in an expression; function: attribute_exists"),
        ("contains(begins_with(a, :s), :s)", "The function is not allowed to be used this way in an expression; function: begins_with"),
        ("attribute_exists(a, b)", "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"),
        ("size(a, b) = :n1", "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"),
        ("begins_with(a)", "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"),
        ("attribute_exists(:n1)", "Operator or function requires a document path; operator or function: attribute_exists"),
        ("a = a", "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"),
        ("contains(#a.b, m.b)", "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [m, b]"),
        ("begins_with(a, :n1)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("begins_with(a, size(b))", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("attribute_type(a, :t_bad)", "Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
        ("attribute_type(a, :n1)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
        ("attribute_type(a, b)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"),
        ("size(:n1) = :n1", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
        ("size(size(a)) = :n1", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
        ("size(:t) = :n1", "Incorrect operand type for operator or function; operator or function: size, operand type: BOOL"),
        ("a BETWEEN :n5 AND :n1", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
        ("a BETWEEN :n1 AND :s", "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:abc}"),
        ("((a = :n1))", "The expression has redundant parentheses;"),
        ("((a)) = :n1", "The expression has redundant parentheses;"),
        ("size(((a))) = :n1", "The expression has redundant parentheses;"),
        // Priorities: unknown function before reserved word before undefined.
        ("status = :zz AND foo(a)", "Invalid function name; function: foo"),
        ("#zz = :n1 AND status = :n1", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("a = a AND #zz = :n1", "An expression attribute name used in the document path is not defined; attribute name: #zz"),
        (&too_many_in, "The IN operator is provided with too many operands; number of operands: 101"),
        (&deep_path, "The document path has too many nesting levels; nesting levels: 34"),
        (&deep_parens, "The expression is nested too deeply; maximum nesting: 64"),
        (&deep_not, "The expression is nested too deeply; maximum nesting: 64"),
        (&huge, "Expression size has exceeded the maximum allowed size; expression size: 4103"),
    ];
    for (text, message) in cases {
        assert_eq!(
            error(text),
            format!("Invalid ConditionExpression: {message}"),
            "{text}"
        );
    }
}

#[test]
fn filter_errors_name_the_filter_expression() {
    let mut c = ctx(&[], "{}");
    let err = Condition::parse_filter("a =", &mut c).unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"=\""
    );
    assert!(Condition::parse_filter("attribute_exists(a)", &mut c).is_ok());
}

#[test]
fn in_accepts_exactly_one_hundred_values() {
    let list = (0..100).map(|_| ":n1").collect::<Vec<_>>().join(", ");
    let mut c = ctx(&[], VALUES);
    assert!(Condition::parse(&format!("n IN ({list})"), &mut c).is_ok());
}

#[test]
fn unused_and_undefined_placeholders_across_expressions() {
    let mut c = ctx(
        &[("#a", "a"), ("#b", "b")],
        r#"{":x":{"N":"1"},":y":{"N":"2"}}"#,
    );
    Condition::parse("#a = :x", &mut c).unwrap();
    assert_eq!(
        c.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    );
    Condition::parse_filter("#b > :x", &mut c).unwrap();
    assert_eq!(
        c.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
    );
    crate::expr::UpdateExpression::parse("SET #b = :y", &mut c).unwrap();
    assert!(c.check_all_used().is_ok());

    let c = ctx(
        &[("#a", "a"), ("#c", "c")],
        r#"{":x":{"N":"1"},":y":{"N":"2"}}"#,
    );
    assert_eq!(
        c.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #c}"
    );
}

#[test]
fn request_parameters_are_checked() {
    type Names = Option<BTreeMap<String, String>>;
    type Values = Option<BTreeMap<String, AttributeValue>>;
    let cases: Vec<(Names, Values, &str)> = vec![
        (Some(BTreeMap::new()), None, "ExpressionAttributeNames must not be empty"),
        (None, Some(BTreeMap::new()), "ExpressionAttributeValues must not be empty"),
        (
            Some(BTreeMap::from([("n".to_string(), "n".to_string())])),
            None,
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\"",
        ),
        (
            None,
            Some(BTreeMap::from([("v".to_string(), AttributeValue::Null)])),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\"",
        ),
        (
            None,
            Some(BTreeMap::from([(":v".to_string(), AttributeValue::Ss(Default::default()))])),
            "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set may not be empty (attribute :v) for key :v",
        ),
    ];
    for (names, values, message) in cases {
        let err = ExpressionContext::from_request(names, values).unwrap_err();
        assert_eq!(err.message(), message);
    }
    let ok = ExpressionContext::from_request(
        Some(BTreeMap::from([("#n_1".to_string(), "n".to_string())])),
        Some(BTreeMap::from([(":v".to_string(), AttributeValue::Null)])),
    );
    assert!(ok.is_ok());
}
