//! Projection expressions.

use super::{ctx, item};
use crate::expr::Projection;

const ITEM: &str = r#"{
    "a":{"N":"1"}, "b":{"S":"x"},
    "m":{"M":{"x":{"N":"1"},"y":{"M":{"z":{"N":"2"},"w":{"N":"3"}}}}},
    "l":{"L":[{"S":"l0"},{"M":{"k":{"S":"v"},"j":{"S":"u"}}},{"S":"l2"},{"S":"l3"}]},
    "status":{"S":"on"}
}"#;

fn project(text: &str) -> String {
    let mut c = ctx(&[("#s", "status"), ("#y", "y")], "{}");
    let projection = Projection::parse(text, &mut c).unwrap_or_else(|e| panic!("{text}: {e}"));
    projection.apply(&item(ITEM)).to_json_string()
}

fn error(text: &str) -> String {
    let mut c = ctx(&[("#s", "status")], "{}");
    Projection::parse(text, &mut c)
        .unwrap_err()
        .message()
        .to_string()
}

#[test]
fn projections() {
    let cases = [
        ("a", r#"{"a":{"N":"1"}}"#),
        ("a, b, nope", r#"{"a":{"N":"1"},"b":{"S":"x"}}"#),
        ("#s", r#"{"status":{"S":"on"}}"#),
        ("m.x", r#"{"m":{"M":{"x":{"N":"1"}}}}"#),
        (
            "m.#y.z, m.x",
            r#"{"m":{"M":{"x":{"N":"1"},"y":{"M":{"z":{"N":"2"}}}}}}"#,
        ),
        ("l[2]", r#"{"l":{"L":[{"S":"l2"}]}}"#),
        ("l[3], l[0]", r#"{"l":{"L":[{"S":"l0"},{"S":"l3"}]}}"#),
        ("l[1].k", r#"{"l":{"L":[{"M":{"k":{"S":"v"}}}]}}"#),
        ("l[9]", "{}"),
        ("m.nope", "{}"),
        ("a.b", "{}"),
        ("a[0]", "{}"),
        ("m[0], l.x", "{}"),
    ];
    for (text, expected) in cases {
        assert_eq!(project(text), expected, "{text}");
    }
}

#[test]
fn projection_errors() {
    let cases = [
        ("", "The expression can not be empty;"),
        ("a,", "Syntax error; token: \"<EOF>\", near: \",\""),
        ("a b", "Syntax error; token: \"b\", near: \"a b\""),
        ("a = b", "Syntax error; token: \"=\", near: \"a =\""),
        ("status", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("#t", "An expression attribute name used in the document path is not defined; attribute name: #t"),
        ("a, a.b", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"),
        ("#s, status", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("l[0], l.x", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [l, [0]], path two: [l, x]"),
        ("a, b, a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
    ];
    for (text, message) in cases {
        assert_eq!(
            error(text),
            format!("Invalid ProjectionExpression: {message}"),
            "{text}"
        );
    }
}

#[test]
fn many_paths_are_checked_for_overlap() {
    let mut paths: Vec<String> = (0..600).map(|i| format!("p{i}")).collect();
    let mut c = ctx(&[], "{}");
    let text = paths.join(",");
    assert_eq!(Projection::parse(&text, &mut c).unwrap().paths().len(), 600);
    paths.push("p0.x".to_string());
    let err = Projection::parse(&paths.join(","), &mut c).unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [p0], path two: [p0, x]"
    );
}
