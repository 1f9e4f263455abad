//! Tests of the legacy-parameter translation, against the real expression engine.
use super::*;
use eddy::expr::{
    Condition, ExpressionContext, KeyCondition, Projection, SortKeyCondition, UpdateExpression,
};
use eddy::{Item, KeySchema, KeyType};
use serde_json::json;

type Translate = fn(&Input<'_>, &mut Placeholders) -> Result<Option<String>, ApiError>;
type Translated = Option<(String, ExpressionContext)>;

/// The text and a context over the generated placeholders.
fn translate(body: Value, f: Translate) -> Result<Translated, ApiError> {
    let input = Input::new(&body)?;
    let mut p = Placeholders::new();
    let Some(text) = f(&input, &mut p)? else {
        return Ok(None);
    };
    let a = p.into_attributes();
    let ctx = ExpressionContext::from_request(a.names, a.values).expect("valid");
    Ok(Some((text, ctx)))
}

fn some(body: Value, f: Translate) -> (String, ExpressionContext) {
    translate(body, f).expect("translates").expect("some")
}

/// The message of a refused request, which must be a validation error.
fn fails(body: Value, f: Translate) -> String {
    let e = translate(body, f).expect_err("refused");
    assert_eq!(e.code, "ValidationException", "{}", e.message);
    e.message
}

/// Runs `[[entry, expected message part], ...]` under `wrap(entry)`.
fn refusals(table: &str, wrap: impl Fn(Value) -> Value, f: Translate) {
    let cases: Vec<(Value, String)> = serde_json::from_str(table).expect("table");
    for (entry, message) in cases {
        let got = fails(wrap(entry.clone()), f);
        assert!(got.contains(&message), "{entry}: {got}");
    }
}

/// `Expected` parsed by the engine, every placeholder used.
fn condition(body: Value) -> Condition {
    let (text, mut ctx) = some(body, expected);
    let c = Condition::parse(&text, &mut ctx).expect("parses");
    ctx.check_all_used().expect("all used");
    c
}

fn item(json: Value) -> Item {
    Item::from_json(&json).expect("item")
}

#[test]
fn kcl_lease_counter_and_owner_guard() {
    let body = json!({"Expected": {"leaseCounter": {"Value": {"N": "3"}},
        "leaseOwner": {"Value": {"S": "w1"}, "Exists": true}}});
    let (text, _) = some(body.clone(), expected);
    assert_eq!(text, "#lg0 = :lg0 AND #lg1 = :lg1");
    let mut p = Placeholders::new();
    expected(&Input::new(&body).expect("input"), &mut p).expect("ok");
    let a = p.into_attributes();
    assert_eq!(a.names.expect("names")["#lg0"], "leaseCounter");
    assert_eq!(a.values.expect("values")[":lg0"], AttributeValue::from(3));
    let c = condition(body);
    let lease = |n: &str, o: &str| item(json!({"leaseCounter": {"N": n}, "leaseOwner": {"S": o}}));
    assert!(c.evaluate(Some(&lease("3", "w1"))));
    assert!(!c.evaluate(Some(&lease("4", "w1"))));
    assert!(!c.evaluate(Some(&lease("3", "w2"))));
    assert!(!c.evaluate(None));
}

#[test]
fn exists_false_requires_absence() {
    let body = json!({"Expected": {"leaseKey": {"Exists": false}}});
    assert_eq!(some(body.clone(), expected).0, "attribute_not_exists(#lg0)");
    let c = condition(body);
    assert!(c.evaluate(None));
    assert!(!c.evaluate(Some(&item(json!({"leaseKey": {"S": "shard-0"}})))));
}

/// `[entry on attribute a, a's value (null: absent), holds]`.
const OPERATOR_CASES: &str = r#"[
    [{"ComparisonOperator": "NE", "AttributeValueList": [{"S": "x"}]}, null, true],
    [{"ComparisonOperator": "NE", "AttributeValueList": [{"S": "x"}]}, {"S": "x"}, false],
    [{"ComparisonOperator": "NE", "AttributeValueList": [{"S": "x"}]}, {"N": "1"}, true],
    [{"ComparisonOperator": "NULL"}, null, true],
    [{"ComparisonOperator": "NULL"}, {"S": "x"}, false],
    [{"ComparisonOperator": "NOT_NULL"}, {"S": "x"}, true],
    [{"ComparisonOperator": "NOT_NULL"}, null, false],
    [{"ComparisonOperator": "LT", "AttributeValueList": [{"N": "5"}]}, {"N": "4"}, true],
    [{"ComparisonOperator": "LE", "AttributeValueList": [{"N": "5"}]}, {"N": "6"}, false],
    [{"ComparisonOperator": "GE", "AttributeValueList": [{"N": "5"}]}, {"N": "5"}, true],
    [{"ComparisonOperator": "GT", "AttributeValueList": [{"N": "5"}]}, {"S": "9"}, false],
    [{"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [{"S": "x"}]}]}, {"L": [{"S": "x"}]}, true],
    [{"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "b"}]}, {"S": "abc"}, true],
    [{"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "b"}]}, {"SS": ["a", "b"]}, true],
    [{"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "z"}]}, {"S": "abc"}, false],
    [{"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "b"}]}, null, true],
    [{"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "b"}]}, {"S": "abc"}, false],
    [{"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "ab"}]}, {"S": "abc"}, true],
    [{"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "b"}]}, {"S": "abc"}, false],
    [{"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}, {"N": "2"}, true],
    [{"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}, {"N": "3"}, false],
    [{"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}, {"N": "3"}, true],
    [{"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}, {"N": "4"}, false],
    [{"ComparisonOperator": "GT", "Value": {"N": "1"}}, {"N": "2"}, true]
]"#;

#[test]
fn comparison_operators_keep_legacy_semantics() {
    let cases: Vec<(Value, Value, bool)> = serde_json::from_str(OPERATOR_CASES).expect("table");
    for (entry, a, want) in cases {
        let c = condition(json!({"Expected": {"a": entry}}));
        let mut it = item(json!({"k": {"S": "1"}}));
        if !a.is_null() {
            it = item(json!({"k": {"S": "1"}, "a": a}));
        }
        assert_eq!(c.evaluate(Some(&it)), want, "{entry} on {a}");
    }
}

#[test]
fn conditional_operator_joins_entries() {
    let entries = json!({"b": {"Value": {"S": "w1"}}, "a": {"ComparisonOperator": "BETWEEN",
        "AttributeValueList": [{"N": "1"}, {"N": "3"}]}});
    let or = json!({"Expected": entries, "ConditionalOperator": "OR"});
    let (text, _) = some(or.clone(), expected);
    assert_eq!(text, "#lg0 BETWEEN :lg0 AND :lg1 OR #lg1 = :lg2");
    let it = item(json!({"a": {"N": "9"}, "b": {"S": "w1"}}));
    assert!(condition(or).evaluate(Some(&it)));
    let and = json!({"Expected": entries, "ConditionalOperator": "AND"});
    assert!(!condition(and).evaluate(Some(&it)));
    assert!(!condition(json!({"Expected": entries})).evaluate(Some(&it)));
    let ok = item(json!({"a": {"N": "2"}, "b": {"S": "w1"}}));
    assert!(condition(json!({"Expected": entries})).evaluate(Some(&ok)));
}

#[test]
fn bad_expected_entries_are_refused_in_dynamodbs_words() {
    refusals(
        r#"[
        [{"Exists": false, "Value": {"S": "x"}}, "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"],
        [{"Exists": true}, "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"],
        [{}, "Value must be provided when Exists is null for Attribute: a"],
        [{"ComparisonOperator": "NULL", "Exists": true}, "Exists and ComparisonOperator cannot be used together for Attribute: a"],
        [{"Value": {"S": "x"}, "AttributeValueList": []}, "Value and AttributeValueList cannot be used together"],
        [{"AttributeValueList": [{"S": "x"}]}, "AttributeValueList can only be used with a ComparisonOperator"],
        [{"ComparisonOperator": "GT"}, "Value or AttributeValueList must be used with ComparisonOperator: GT"],
        [{"ComparisonOperator": "NULL", "AttributeValueList": [{"S": "x"}]}, "Invalid number of argument(s) for the NULL ComparisonOperator"],
        [{"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]}, "Invalid number of argument(s) for the BETWEEN ComparisonOperator"],
        [{"ComparisonOperator": "IN", "AttributeValueList": []}, "Invalid number of argument(s) for the IN ComparisonOperator"],
        [{"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}, "Invalid number of argument(s) for the EQ ComparisonOperator"],
        [{"ComparisonOperator": "LIKE"}, "at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set"],
        [{"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "2"}]}, "AttributeValues inside AttributeValueList must be of same type"],
        [{"ComparisonOperator": "LT", "AttributeValueList": [{"SS": ["x"]}]}, "ComparisonOperator LT is not valid for SS AttributeValue type"],
        [{"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "3"}, {"N": "1"}]}, "lower bound is greater than the upper bound"],
        [{"Value": {"N": "x"}}, "a"],
        [{"Value": {"SS": []}}, "may not be empty"]
    ]"#,
        |e| json!({"Expected": {"a": e}}),
        expected,
    );
    assert_eq!(
        fails(json!({"ConditionalOperator": "OR"}), expected),
        "ConditionalOperator cannot be used without Filter or Expected"
    );
    assert!(translate(json!({}), expected).expect("ok").is_none());
    let e = translate(json!({"Expected": {"a": 5}}), expected).expect_err("refused");
    assert_eq!(e.code, "SerializationException");
}

/// KCL's renew/take/evict updates, plus the list and set actions.
#[test]
fn attribute_updates_become_one_update_expression() {
    let body = json!({"AttributeUpdates": {"checkpoint": {"Action": "DELETE"},
        "hist": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}},
        "leaseCounter": {"Action": "ADD", "Value": {"N": "1"}},
        "leaseOwner": {"Value": {"S": "w2"}},
        "tags": {"Action": "DELETE", "Value": {"SS": ["a"]}}}});
    let (text, mut ctx) = some(body, attribute_updates);
    assert_eq!(text, "SET #lg1 = list_append(if_not_exists(#lg1, :lg0), :lg1), #lg3 = :lg3 REMOVE #lg0 ADD #lg2 :lg2 DELETE #lg4 :lg4");
    let update = UpdateExpression::parse(&text, &mut ctx).expect("parses");
    ctx.check_all_used().expect("all used");
    let key = item(json!({"leaseKey": {"S": "shard-0"}}));
    let before = item(
        json!({"leaseKey": {"S": "shard-0"}, "checkpoint": {"S": "7"},
        "hist": {"L": [{"S": "w"}]}, "leaseCounter": {"N": "3"}, "leaseOwner": {"S": "w1"},
        "tags": {"SS": ["a", "b"]}}),
    );
    let after = update.apply(Some(&before), &key).expect("applies");
    let want = item(
        json!({"leaseKey": {"S": "shard-0"}, "leaseOwner": {"S": "w2"},
        "hist": {"L": [{"S": "w"}, {"S": "x"}]}, "leaseCounter": {"N": "4"}, "tags": {"SS": ["b"]}}),
    );
    assert_eq!(after, want);
    let created = update.apply(None, &key).expect("applies");
    let want = item(
        json!({"leaseKey": {"S": "shard-0"}, "hist": {"L": [{"S": "x"}]},
        "leaseCounter": {"N": "1"}, "leaseOwner": {"S": "w2"}}),
    );
    assert_eq!(created, want);
}

#[test]
fn bad_attribute_updates_are_refused() {
    refusals(
        r#"[
        [{"Action": "PUT"}, "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"],
        [{"Action": "ADD", "Value": {"S": "x"}}, "One or more parameter values were invalid: ADD action is not supported for the type S"],
        [{"Action": "DELETE", "Value": {"N": "1"}}, "One or more parameter values were invalid: DELETE action with value is not supported for the type N"],
        [{"Action": "SET", "Value": {"N": "1"}}, "at 'attributeUpdates.a.member.action' failed to satisfy constraint"],
        [{"Action": "PUT", "Value": {"NS": []}}, "may not be empty"]
    ]"#,
        |e| json!({"AttributeUpdates": {"a": e}}),
        attribute_updates,
    );
    let none = translate(json!({"AttributeUpdates": {}}), attribute_updates);
    assert!(none.expect("ok").is_none());
}

#[test]
fn key_conditions_become_a_key_condition_expression() {
    let parse = |conditions: Value, sort_type: KeyType| {
        let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", sort_type);
        let (text, mut ctx) = some(json!({"KeyConditions": conditions}), key_conditions);
        let kc = KeyCondition::parse(&text, &mut ctx, &schema).expect("parses");
        (text, kc)
    };
    let pk = json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]});
    let sk = |op: &str, list: Value| json!({"ComparisonOperator": op, "AttributeValueList": list});
    let between = sk("BETWEEN", json!([{"N": "1"}, {"N": "9"}]));
    let (text, kc) = parse(json!({"pk": pk, "sk": between}), KeyType::N);
    assert_eq!(text, "#lg0 = :lg0 AND #lg1 BETWEEN :lg1 AND :lg2");
    assert_eq!(kc.partition, AttributeValue::from("u"));
    assert_eq!(kc.sort, Some(SortKeyCondition::Between(1.into(), 9.into())));
    let (_, kc) = parse(
        json!({"pk": pk, "sk": sk("LT", json!([{"N": "5"}]))}),
        KeyType::N,
    );
    assert_eq!(kc.sort, Some(SortKeyCondition::Lt(5.into())));
    let prefix = sk("BEGINS_WITH", json!([{"S": "ab"}]));
    let (_, kc) = parse(json!({"pk": pk, "sk": prefix}), KeyType::S);
    assert_eq!(kc.sort, Some(SortKeyCondition::BeginsWith("ab".into())));
    assert!(translate(json!({}), key_conditions).expect("ok").is_none());
    refusals(
        r#"[
        [{"pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "u"}]}}, "Attempted conditional constraint is not an indexable operation"],
        [{}, "Conditions can be of length 1 or 2 only"],
        [{"a": {"ComparisonOperator": "NULL"}, "b": {"ComparisonOperator": "NULL"}, "c": {"ComparisonOperator": "NULL"}}, "Conditions can be of length 1 or 2 only"],
        [{"pk": {"AttributeValueList": [{"S": "u"}]}}, "Value null at 'keyConditions.pk.member.comparisonOperator' failed to satisfy constraint: Member must not be null"],
        [{"pk": {"ComparisonOperator": "EQ"}}, "Invalid number of argument(s) for the EQ ComparisonOperator"]
    ]"#,
        |c| json!({"KeyConditions": c}),
        key_conditions,
    );
}

#[test]
fn filters_become_filter_expressions() {
    let scan: Translate = |i, p| filter(i, "ScanFilter", p);
    let query: Translate = |i, p| filter(i, "QueryFilter", p);
    let body = json!({"ConditionalOperator": "OR", "ScanFilter": {
        "a": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "b"}]},
        "c": {"ComparisonOperator": "NOT_NULL"}}});
    let (text, mut ctx) = some(body, scan);
    assert_eq!(text, "contains(#lg0, :lg0) OR attribute_exists(#lg1)");
    let f = Condition::parse_filter(&text, &mut ctx).expect("parses");
    ctx.check_all_used().expect("all used");
    assert!(f.evaluate(Some(&item(json!({"c": {"BOOL": true}})))));
    assert!(f.evaluate(Some(&item(json!({"a": {"S": "abc"}})))));
    assert!(!f.evaluate(Some(&item(json!({"a": {"S": "xyz"}})))));
    refusals(
        r#"[
        [{"a": {"AttributeValueList": []}}, "'queryFilter.a.member.comparisonOperator'"],
        [{"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}}, "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"]
    ]"#,
        |f| json!({"QueryFilter": f}),
        query,
    );
    let message = fails(json!({"ConditionalOperator": "AND"}), query);
    assert_eq!(
        message,
        "ConditionalOperator cannot be used without Filter or Expected"
    );
    assert!(translate(json!({}), scan).expect("ok").is_none());
}

#[test]
fn attributes_to_get_become_a_projection() {
    let (text, mut ctx) = some(json!({"AttributesToGet": ["a", "b.c"]}), attributes_to_get);
    assert_eq!(text, "#lg0, #lg1");
    let projection = Projection::parse(&text, &mut ctx).expect("parses");
    ctx.check_all_used().expect("all used");
    let it = item(json!({"a": {"N": "1"}, "b.c": {"S": "x"},
        "b": {"M": {"c": {"S": "y"}}}, "d": {"S": "z"}}));
    let want = item(json!({"a": {"N": "1"}, "b.c": {"S": "x"}}));
    assert_eq!(projection.apply(&it), want);
    assert_eq!(
        fails(
            json!({"AttributesToGet": ["a", "b", "a"]}),
            attributes_to_get
        ),
        "One or more parameter values were invalid: Duplicate value in attribute name: a"
    );
    let empty = fails(json!({"AttributesToGet": []}), attributes_to_get);
    assert!(empty.contains("Member must have length greater than or equal to 1"));
    assert!(translate(json!({}), attributes_to_get)
        .expect("ok")
        .is_none());
}

#[test]
fn mixing_legacy_and_expression_parameters_is_refused() {
    let check = |body: Value, legacy: &[&str], expr: &[&str]| {
        let input = Input::new(&body).expect("input");
        check_not_mixed(&input, legacy, expr).map_err(|e| e.message)
    };
    let (legacy, expr) = (
        &["Expected", "ConditionalOperator"],
        &["ConditionExpression", NAMES, VALUES],
    );
    assert_eq!(
        check(json!({"Expected": {}, "ConditionExpression": "x"}), legacy, expr),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}".to_string())
    );
    assert_eq!(check(json!({"Expected": {}}), legacy, expr), Ok(()));
    assert_eq!(
        check(
            json!({"ConditionExpression": "x", VALUES: {}}),
            legacy,
            expr
        ),
        Ok(())
    );
    assert_eq!(
        check(json!({"Expected": {}, NAMES: {"#a": "a"}}), legacy, expr),
        Err("ExpressionAttributeNames can only be specified when using expressions".to_string())
    );
    let update = ["UpdateExpression", "ConditionExpression", NAMES, VALUES];
    assert_eq!(
        check(json!({VALUES: {":a": {"N": "1"}}}), &["AttributeUpdates"], &update),
        Err("ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null".to_string())
    );
    let (legacy, expr) = (
        &["KeyConditions", "QueryFilter"],
        &["KeyConditionExpression", "FilterExpression"],
    );
    assert_eq!(
        check(
            json!({"KeyConditions": {}, "FilterExpression": "x"}),
            legacy,
            expr
        ),
        Ok(())
    );
    let both = check(
        json!({"KeyConditions": {}, "KeyConditionExpression": "x"}),
        legacy,
        expr,
    );
    assert!(both.is_err_and(|m| m.contains("Non-expression parameters: {KeyConditions}")));
}

/// `KeyConditions` may come with a client's `FilterExpression` and its
/// placeholders: generated ones must not replace them.
#[test]
fn generated_placeholders_avoid_the_clients_and_repeat_per_name() {
    let body = json!({NAMES: {"#lg0": "x"}, VALUES: {":lg0": {"N": "1"}}, "KeyConditions": {
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u"}]}}});
    let mut p = Placeholders::new();
    let text = key_conditions(&Input::new(&body).expect("input"), &mut p).expect("ok");
    assert_eq!(text.as_deref(), Some("#lg1 = :lg1"));
    assert_eq!(
        (p.name("b"), p.name("pk"), p.value(AttributeValue::from(2))),
        ("#lg2".into(), "#lg1".into(), ":lg2".into())
    );
    let a = p.into_attributes();
    assert_eq!(
        a.names.expect("names").keys().collect::<Vec<_>>(),
        ["#lg1", "#lg2"]
    );
    assert_eq!(a.values.expect("values").len(), 2);
    assert_eq!(
        Placeholders::new().into_attributes(),
        ExpressionAttributes::default()
    );
}

/// Odd shapes anywhere give errors, never panics.
#[test]
fn malformed_input_never_panics() {
    let odd: Vec<Value> = serde_json::from_str(r#"[null, 1, "x", [], {}, [{}], {"a": null},
        {"a": 1}, {"a": []}, {"a": {"Value": 1}}, {"a": {"Value": {}, "AttributeValueList": 1}},
        {"a": {"ComparisonOperator": 1}}, {"a": {"ComparisonOperator": "IN", "AttributeValueList": [null]}},
        {"a": {"Action": 1, "Value": {"L": [{"M": {"x": {}}}]}}}, {"a": {"Exists": "no"}}]"#)
    .expect("table");
    let members = [
        "Expected",
        "AttributeUpdates",
        "KeyConditions",
        "QueryFilter",
        "AttributesToGet",
        "ConditionalOperator",
        NAMES,
    ];
    for member in members {
        for v in &odd {
            let body = json!({ member: v });
            let input = Input::new(&body).expect("input");
            let mut p = Placeholders::new();
            let _ = expected(&input, &mut p);
            let _ = attribute_updates(&input, &mut p);
            let _ = key_conditions(&input, &mut p);
            let _ = filter(&input, "QueryFilter", &mut p);
            let _ = attributes_to_get(&input, &mut p);
        }
    }
}
