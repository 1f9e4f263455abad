//! Update expressions: grammar, errors and the semantics of each clause.

use super::{ctx, item};
use crate::expr::UpdateExpression;
use crate::key::{KeySchema, KeyType};
use crate::value::Item;

const VALUES: &str = r#"{
    ":one":{"N":"1"}, ":two":{"N":"2"}, ":s":{"S":"x"}, ":l":{"L":[{"S":"y"}]},
    ":empty_l":{"L":[]}, ":ss":{"SS":["a","b"]}, ":ss2":{"SS":["b"]}, ":ns":{"NS":["1","2"]},
    ":big":{"N":"9.9999999999999999999999999999999999999E+125"}, ":m":{"M":{}}
}"#;

fn parse(text: &str) -> Result<UpdateExpression, String> {
    let mut c = ctx(&[("#a", "a")], VALUES);
    UpdateExpression::parse(text, &mut c).map_err(|e| e.message().to_string())
}

fn key() -> Item {
    Item::new().with("pk", "k")
}

/// `before` and `after` are the item's attributes besides the key.
fn apply(text: &str, before: Option<&str>) -> Result<Item, String> {
    let update = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let before = before.map(|b| {
        let mut i = item(b);
        i.insert("pk", "k");
        i
    });
    update
        .apply(before.as_ref(), &key())
        .map_err(|e| e.message().to_string())
}

#[test]
fn apply_table() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("SET a = :one", None, r#"{"a":{"N":"1"}}"#),
        (
            "SET a = a + :one",
            Some(r#"{"a":{"N":"5"}}"#),
            r#"{"a":{"N":"6"}}"#,
        ),
        (
            "SET a = a - :two",
            Some(r#"{"a":{"N":"5"}}"#),
            r#"{"a":{"N":"3"}}"#,
        ),
        ("SET a = :one + :two", None, r#"{"a":{"N":"3"}}"#),
        ("SET a = (:one + :two)", None, r#"{"a":{"N":"3"}}"#),
        ("SET a = (:one) - (:two)", None, r#"{"a":{"N":"-1"}}"#),
        (
            "SET #a = if_not_exists(#a, :one)",
            Some(r#"{"a":{"N":"5"}}"#),
            r#"{"a":{"N":"5"}}"#,
        ),
        ("SET a = if_not_exists(a, :one)", None, r#"{"a":{"N":"1"}}"#),
        (
            "SET a = if_not_exists(a, :one) + :two",
            None,
            r#"{"a":{"N":"3"}}"#,
        ),
        (
            "SET l = list_append(l, :l)",
            Some(r#"{"l":{"L":[{"S":"x"}]}}"#),
            r#"{"l":{"L":[{"S":"x"},{"S":"y"}]}}"#,
        ),
        (
            "SET l = list_append(:l, l)",
            Some(r#"{"l":{"L":[{"S":"x"}]}}"#),
            r#"{"l":{"L":[{"S":"y"},{"S":"x"}]}}"#,
        ),
        (
            "SET l = list_append(if_not_exists(l, :empty_l), :l)",
            None,
            r#"{"l":{"L":[{"S":"y"}]}}"#,
        ),
        (
            "SET m.b = :one",
            Some(r#"{"m":{"M":{}}}"#),
            r#"{"m":{"M":{"b":{"N":"1"}}}}"#,
        ),
        ("SET m = :m, n = :m", None, r#"{"m":{"M":{}},"n":{"M":{}}}"#),
        (
            "SET l[1] = :s",
            Some(r#"{"l":{"L":[{"S":"a"},{"S":"b"},{"S":"c"}]}}"#),
            r#"{"l":{"L":[{"S":"a"},{"S":"x"},{"S":"c"}]}}"#,
        ),
        (
            "SET l[10] = :s",
            Some(r#"{"l":{"L":[{"S":"a"}]}}"#),
            r#"{"l":{"L":[{"S":"a"},{"S":"x"}]}}"#,
        ),
        (
            "SET l[7] = :two, l[5] = :one",
            Some(r#"{"l":{"L":[{"S":"a"}]}}"#),
            r#"{"l":{"L":[{"S":"a"},{"N":"1"},{"N":"2"}]}}"#,
        ),
        (
            "SET b = a",
            Some(r#"{"a":{"N":"5"}}"#),
            r#"{"a":{"N":"5"},"b":{"N":"5"}}"#,
        ),
        (
            "SET a.b[0].c = :one",
            Some(r#"{"a":{"M":{"b":{"L":[{"M":{"c":{"N":"0"}}}]}}}}"#),
            r#"{"a":{"M":{"b":{"L":[{"M":{"c":{"N":"1"}}}]}}}}"#,
        ),
        (
            "SET a = b, b = a",
            Some(r#"{"a":{"N":"1"},"b":{"N":"2"}}"#),
            r#"{"a":{"N":"2"},"b":{"N":"1"}}"#,
        ),
        ("REMOVE a, zz", Some(r#"{"a":{"N":"1"}}"#), "{}"),
        (
            "REMOVE l[0], l[2]",
            Some(r#"{"l":{"L":[{"S":"a"},{"S":"b"},{"S":"c"},{"S":"d"}]}}"#),
            r#"{"l":{"L":[{"S":"b"},{"S":"d"}]}}"#,
        ),
        (
            "REMOVE l[2], l[0]",
            Some(r#"{"l":{"L":[{"S":"a"},{"S":"b"},{"S":"c"},{"S":"d"}]}}"#),
            r#"{"l":{"L":[{"S":"b"},{"S":"d"}]}}"#,
        ),
        (
            "REMOVE m.x",
            Some(r#"{"m":{"M":{"x":{"N":"1"},"y":{"N":"2"}}}}"#),
            r#"{"m":{"M":{"y":{"N":"2"}}}}"#,
        ),
        (
            "REMOVE l[9], m.zz",
            Some(r#"{"l":{"L":[{"S":"a"}]},"m":{"M":{}}}"#),
            r#"{"l":{"L":[{"S":"a"}]},"m":{"M":{}}}"#,
        ),
        (
            "ADD n :one",
            Some(r#"{"n":{"N":"1"}}"#),
            r#"{"n":{"N":"2"}}"#,
        ),
        ("ADD n :one", None, r#"{"n":{"N":"1"}}"#),
        (
            "ADD ss :ss",
            Some(r#"{"ss":{"SS":["c"]}}"#),
            r#"{"ss":{"SS":["a","b","c"]}}"#,
        ),
        ("ADD ns :ns", None, r#"{"ns":{"NS":["1","2"]}}"#),
        (
            "ADD m.n :one",
            Some(r#"{"m":{"M":{}}}"#),
            r#"{"m":{"M":{"n":{"N":"1"}}}}"#,
        ),
        (
            "DELETE ss :ss2",
            Some(r#"{"ss":{"SS":["a","b"]}}"#),
            r#"{"ss":{"SS":["a"]}}"#,
        ),
        ("DELETE ss :ss", Some(r#"{"ss":{"SS":["a","b"]}}"#), "{}"),
        (
            "DELETE absent :ss",
            Some(r#"{"x":{"N":"1"}}"#),
            r#"{"x":{"N":"1"}}"#,
        ),
        (
            "SET a = :one REMOVE b ADD c :one DELETE d :ss2",
            Some(r#"{"b":{"N":"1"},"c":{"N":"1"},"d":{"SS":["a","b"]}}"#),
            r#"{"a":{"N":"1"},"c":{"N":"2"},"d":{"SS":["a"]}}"#,
        ),
        (
            "delete d :ss2 remove b set a = :one",
            Some(r#"{"b":{"N":"1"},"d":{"SS":["b"]}}"#),
            r#"{"a":{"N":"1"}}"#,
        ),
    ];
    for (text, before, after) in cases {
        let mut expected = item(after);
        expected.insert("pk", "k");
        assert_eq!(
            apply(text, *before).unwrap_or_else(|e| panic!("{text}: {e}")),
            expected,
            "{text}"
        );
    }
}

#[test]
fn apply_errors() {
    let invalid_path = "The document path provided in the update expression is invalid for update";
    let wrong_type =
        "Invalid UpdateExpression: An operand in the update expression has an incorrect data type";
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("SET m.b = :one", Some(r#"{"m":{"S":"str"}}"#), invalid_path),
        ("SET absent.b = :one", None, invalid_path),
        ("SET l[0].x = :one", Some(r#"{"l":{"L":[{"N":"1"}]}}"#), invalid_path),
        ("SET m[0] = :one", Some(r#"{"m":{"M":{}}}"#), invalid_path),
        ("REMOVE a.b", None, invalid_path),
        ("REMOVE a[0]", Some(r#"{"a":{"N":"1"}}"#), invalid_path),
        ("ADD a.b :one", None, invalid_path),
        ("SET a = a + :one", Some(r#"{"a":{"S":"x"}}"#), wrong_type),
        ("SET a = :one - a", Some(r#"{"a":{"SS":["x"]}}"#), wrong_type),
        ("SET l = list_append(l, :l)", Some(r#"{"l":{"N":"1"}}"#), wrong_type),
        ("ADD n :one", Some(r#"{"n":{"S":"x"}}"#), wrong_type),
        ("ADD ss :ns", Some(r#"{"ss":{"SS":["x"]}}"#), wrong_type),
        ("DELETE ss :ns", Some(r#"{"ss":{"SS":["x"]}}"#), wrong_type),
        ("DELETE n :ss", Some(r#"{"n":{"N":"1"}}"#), wrong_type),
        ("SET a = b + :one", None, "The provided expression refers to an attribute that does not exist in the item"),
        ("SET a = list_append(b, :l)", None, "The provided expression refers to an attribute that does not exist in the item"),
        ("SET pk = :one", None, "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
    ];
    for (text, before, message) in cases {
        assert_eq!(apply(text, *before).unwrap_err(), *message, "{text}");
    }
    let overflow = apply(
        "SET a = a + :big",
        Some(r#"{"a":{"N":"9.9999999999999999999999999999999999999E+125"}}"#),
    );
    assert!(overflow.unwrap_err().starts_with("Number overflow"));
}

#[test]
fn parse_errors() {
    let cases: &[(&str, &str)] = &[
        ("SET a = :one SET b = :two", "The \"SET\" section can only be used once in an update expression;"),
        ("REMOVE a ADD b :one remove c", "The \"REMOVE\" section can only be used once in an update expression;"),
        ("SET a = :one, a.b = :two", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"),
        ("SET a = :one REMOVE #a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET a[0] = :one REMOVE a.b", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]"),
        ("ADD a :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"),
        ("ADD a :l", "Incorrect operand type for operator or function; operator: ADD, operand type: LIST, typeSet: ALLOWED_FOR_ADD_OPERAND"),
        ("DELETE a :one", "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"),
        ("ADD a b", "Syntax error; token: \"b\", near: \"a b\""),
        ("SET a = :one + :two + :one", "Syntax error; token: \"+\", near: \":two +\""),
        ("SET a", "Syntax error; token: \"<EOF>\", near: \"a\""),
        ("SET", "Syntax error; token: \"<EOF>\", near: \"SET\""),
        ("UPDATE a = :one", "Syntax error; token: \"UPDATE\", near: \"UPDATE\""),
        ("SET a = :one,", "Syntax error; token: \"<EOF>\", near: \",\""),
        ("SET a = :one b = :two", "Syntax error; token: \"b\", near: \":one b\""),
        ("SET a = :one * :two", "Syntax error; token: \"*\", near: \":one *\""),
        ("SET remove = :one", "Syntax error; token: \"remove\", near: \"SET remove\""),
        ("", "The expression can not be empty;"),
        ("SET status = :one", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("SET a = foo(b)", "Invalid function name; function: foo"),
        ("SET a = size(b)", "The function is not allowed in an update expression; function: size"),
        ("SET a = if_not_exists(:one, :two)", "Operator or function requires a document path; operator or function: if_not_exists"),
        ("SET a = if_not_exists(b)", "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"),
        ("SET a = list_append(:one, b)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: N"),
        ("SET a = :s + b", "Incorrect operand type for operator or function; operator or function: +, operand type: S"),
        ("SET a = b - list_append(c, d)", "Incorrect operand type for operator or function; operator or function: -, operand type: L"),
        // DynamoDB's update priorities: reserved word first, then unknown
        // function, duplicate section, undefined name, undefined value.
        ("SET status = foo(a)", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("SET a = foo(b) SET c = :one", "Invalid function name; function: foo"),
        ("SET #zz = :zz", "An expression attribute name used in the document path is not defined; attribute name: #zz"),
        ("SET a = :zz, a = :one", "An expression attribute value used in expression is not defined; attribute value: :zz"),
    ];
    for (text, message) in cases {
        assert_eq!(
            parse(text).unwrap_err(),
            format!("Invalid UpdateExpression: {message}"),
            "{text}"
        );
    }
}

#[test]
fn key_attributes_cannot_be_updated() {
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
    for text in [
        "SET sk = :one",
        "REMOVE pk",
        "ADD sk :one",
        "SET a = :one, pk.x = :one",
    ] {
        let err = parse(text).unwrap().validate(&schema).unwrap_err();
        assert!(
            err.message()
                .starts_with("One or more parameter values were invalid: Cannot update attribute "),
            "{text}"
        );
        assert!(
            err.message()
                .ends_with(". This attribute is part of the key"),
            "{text}"
        );
    }
    assert!(parse("SET a = pk").unwrap().validate(&schema).is_ok());
}

#[test]
fn updated_paths_project_old_and_new_images() {
    let update = parse("SET a.b = :one, c = :two REMOVE d").unwrap();
    let paths: Vec<String> = update
        .updated_paths()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(paths, ["a.b", "c", "d"]);
    let old = item(
        r#"{"pk":{"S":"k"},"a":{"M":{"b":{"N":"0"},"z":{"N":"1"}}},"c":{"N":"1"},"d":{"N":"1"},"e":{"N":"1"}}"#,
    );
    let new = update.apply(Some(&old), &key()).unwrap();
    assert_eq!(
        update.project_updated(&old),
        item(r#"{"a":{"M":{"b":{"N":"0"}}},"c":{"N":"1"},"d":{"N":"1"}}"#)
    );
    assert_eq!(
        update.project_updated(&new),
        item(r#"{"a":{"M":{"b":{"N":"1"}}},"c":{"N":"2"}}"#)
    );
}

#[test]
fn nesting_beyond_32_levels_is_refused_on_apply() {
    let mut value = String::from(r#"{"N":"1"}"#);
    for _ in 0..32 {
        value = format!(r#"{{"L":[{value}]}}"#);
    }
    let before = format!(r#"{{"a":{value}}}"#);
    let path = format!("a{}", "[0]".repeat(32));
    let text = format!("SET {path} = :l");
    let err = apply(&text, Some(&before)).unwrap_err();
    assert!(
        err.contains("Nesting Levels have exceeded supported limits"),
        "{err}"
    );
    assert!(apply(&format!("SET {path} = :one"), Some(&before)).is_ok());
}
