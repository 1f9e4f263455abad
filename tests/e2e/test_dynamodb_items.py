"""DynamoDB single-item operations: PutItem/GetItem/UpdateItem/DeleteItem with
expressions, ReturnValues and conditional failures."""

import pytest
from botocore.exceptions import ClientError

from helpers import create_table, error_code, unique

ALL_TYPES = {
    "pk": {"S": "all"},
    "s": {"S": "héllo wörld ✓"},
    "empty": {"S": ""},
    "n": {"N": "42"},
    "neg": {"N": "-3.25"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "b": {"B": b"\x00\x01\xfe\xff"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "null": {"NULL": True},
    "m": {"M": {"inner": {"S": "x"}, "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "two"}]}}}}},
    "l": {"L": [{"S": "a"}, {"N": "2"}, {"BOOL": False}, {"NULL": True}, {"L": []}, {"M": {}}]},
    "ss": {"SS": ["x", "y", "z"]},
    "ns": {"NS": ["1", "2.5", "-7"]},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
}


def normalise(item):
    """Sets are unordered: compare them as sorted lists."""
    out = {}
    for k, v in item.items():
        (t, val), = v.items()
        if t in ("SS", "BS"):
            out[k] = {t: sorted(val)}
        elif t == "NS":
            out[k] = {t: sorted(val, key=float)}
        elif t == "M":
            out[k] = {"M": normalise(val)}
        elif t == "L":
            out[k] = {"L": [normalise({"_": x})["_"] for x in val]}
        else:
            out[k] = v
    return out


@pytest.fixture(scope="module")
def table(dynamodb):
    name = unique("items")
    create_table(dynamodb, name, ("pk", "S"))
    return name


@pytest.fixture(scope="module")
def table2(dynamodb):
    """hash + range (number) table"""
    name = unique("items2")
    create_table(dynamodb, name, ("pk", "S"), ("sk", "N"))
    return name


def get(dynamodb, table, key, **kw):
    return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True, **kw).get("Item")


def test_put_get_all_types(dynamodb, table):
    resp = dynamodb.put_item(TableName=table, Item=ALL_TYPES)
    assert "Attributes" not in resp
    item = get(dynamodb, table, {"pk": {"S": "all"}})
    assert normalise(item) == normalise(ALL_TYPES)


def test_get_missing_item_has_no_item_key(dynamodb, table):
    resp = dynamodb.get_item(TableName=table, Key={"pk": {"S": unique("nope")}})
    assert "Item" not in resp


def test_numbers_are_canonicalised(dynamodb, table):
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "nums"}, "a": {"N": "1.50"}, "b": {"N": "007"}, "c": {"N": "-0.0"}, "d": {"N": "1E+2"}},
    )
    item = get(dynamodb, table, {"pk": {"S": "nums"}})
    assert item["a"] == {"N": "1.5"}
    assert item["b"] == {"N": "7"}
    assert item["c"] == {"N": "0"}
    assert item["d"] == {"N": "100"}


def test_composite_key_and_number_sort_key(dynamodb, table2):
    dynamodb.put_item(TableName=table2, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}})
    dynamodb.put_item(TableName=table2, Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "v": {"S": "two"}})
    # 1.0 and 1 are the same number, so the same key.
    dynamodb.put_item(TableName=table2, Item={"pk": {"S": "a"}, "sk": {"N": "1.0"}, "v": {"S": "uno"}})
    assert get(dynamodb, table2, {"pk": {"S": "a"}, "sk": {"N": "1"}})["v"] == {"S": "uno"}
    assert get(dynamodb, table2, {"pk": {"S": "a"}, "sk": {"N": "2"}})["v"] == {"S": "two"}


def test_put_return_values_all_old(dynamodb, table):
    key = {"pk": {"S": unique("rv")}}
    resp = dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in resp
    resp = dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert resp["Attributes"] == {**key, "v": {"N": "1"}}
    assert get(dynamodb, table, key) == {**key, "v": {"N": "2"}}


def test_put_condition_attribute_not_exists(dynamodb, table):
    key = {"pk": {"S": unique("cond")}}
    dynamodb.put_item(
        TableName=table, Item={**key, "v": {"S": "first"}}, ConditionExpression="attribute_not_exists(pk)"
    )
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=table, Item={**key, "v": {"S": "second"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Error"]["Message"] == "The conditional request failed"
    assert "Item" not in e.value.response
    assert get(dynamodb, table, key)["v"] == {"S": "first"}


def test_conditional_failure_returns_old_item(dynamodb, table):
    key = {"pk": {"S": unique("cond")}}
    dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "5"}})
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=table,
            Item={**key, "v": {"N": "6"}},
            ConditionExpression="v = :x",
            ExpressionAttributeValues={":x": {"N": "4"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Item"] == {**key, "v": {"N": "5"}}

    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET v = :n",
            ConditionExpression="v > :x",
            ExpressionAttributeValues={":x": {"N": "10"}, ":n": {"N": "0"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Item"] == {**key, "v": {"N": "5"}}

    with pytest.raises(ClientError) as e:
        dynamodb.delete_item(
            TableName=table,
            Key=key,
            ConditionExpression="attribute_not_exists(v)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Item"] == {**key, "v": {"N": "5"}}
    assert get(dynamodb, table, key) == {**key, "v": {"N": "5"}}


def test_condition_functions(dynamodb, table):
    key = {"pk": {"S": unique("fn")}}
    dynamodb.put_item(
        TableName=table,
        Item={**key, "name": {"S": "widget-blue"}, "tags": {"SS": ["a", "b"]}, "price": {"N": "10"}},
    )

    def ok(expr, names=None, values=None):
        kw = dict(
            TableName=table,
            Key=key,
            UpdateExpression="SET touched = :t",
            ConditionExpression=expr,
            ExpressionAttributeValues={":t": {"BOOL": True}, **(values or {})},
        )
        if names:
            kw["ExpressionAttributeNames"] = names
        try:
            dynamodb.update_item(**kw)
            return True
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", (expr, e.response)
            return False

    n = {"#n": "name"}
    assert ok("begins_with(#n, :p)", n, {":p": {"S": "widget"}})
    assert not ok("begins_with(#n, :p)", n, {":p": {"S": "gadget"}})
    assert ok("contains(#n, :p)", n, {":p": {"S": "blue"}})
    assert ok("contains(tags, :p)", None, {":p": {"S": "a"}})
    assert not ok("contains(tags, :p)", None, {":p": {"S": "c"}})
    assert ok("size(tags) = :two", None, {":two": {"N": "2"}})
    assert ok("attribute_type(price, :t)", None, {":t": {"S": "N"}})
    assert not ok("attribute_type(price, :t)", None, {":t": {"S": "S"}})
    assert ok("price BETWEEN :lo AND :hi", None, {":lo": {"N": "5"}, ":hi": {"N": "10"}})
    assert ok("price IN (:a, :b)", None, {":a": {"N": "1"}, ":b": {"N": "10"}})
    assert ok("price <> :a AND (attribute_exists(tags) OR attribute_exists(nothing))", None, {":a": {"N": "1"}})
    assert not ok("NOT attribute_exists(price)")
    # Comparing values of different types is false, not an error.
    assert not ok("price > :s", None, {":s": {"S": "1"}})


def test_update_item_expressions(dynamodb, table):
    key = {"pk": {"S": unique("upd")}}
    dynamodb.put_item(
        TableName=table,
        Item={
            **key,
            "count": {"N": "1"},
            "tags": {"SS": ["a", "b"]},
            "lst": {"L": [{"N": "1"}]},
            "gone": {"S": "bye"},
            "m": {"M": {"x": {"N": "1"}}},
        },
    )
    resp = dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression=(
            "SET #c = #c + :one, lst = list_append(lst, :more), newattr = if_not_exists(newattr, :init), "
            "m.y = :y, m.x = m.x - :one REMOVE gone ADD tags :add, counter2 :five"
        ),
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":more": {"L": [{"N": "2"}, {"N": "3"}]},
            ":init": {"S": "init"},
            ":y": {"S": "why"},
            ":add": {"SS": ["c"]},
            ":five": {"N": "5"},
        },
        ReturnValues="ALL_NEW",
    )
    assert sorted(resp["Attributes"]["tags"]["SS"]) == ["a", "b", "c"]
    resp = dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="DELETE tags :del",
        ExpressionAttributeValues={":del": {"SS": ["a"]}},
        ReturnValues="ALL_NEW",
    )
    new = resp["Attributes"]
    assert new["count"] == {"N": "2"}
    assert new["lst"] == {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}
    assert new["newattr"] == {"S": "init"}
    assert new["m"] == {"M": {"x": {"N": "0"}, "y": {"S": "why"}}}
    assert "gone" not in new
    assert sorted(new["tags"]["SS"]) == ["b", "c"]
    assert new["counter2"] == {"N": "5"}
    assert normalise(get(dynamodb, table, key)) == normalise(new)

    # if_not_exists keeps an existing value.
    resp = dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET newattr = if_not_exists(newattr, :other)",
        ExpressionAttributeValues={":other": {"S": "other"}},
        ReturnValues="UPDATED_NEW",
    )
    assert resp["Attributes"] == {"newattr": {"S": "init"}}


def test_update_item_return_values(dynamodb, table):
    key = {"pk": {"S": unique("ret")}}
    dynamodb.put_item(TableName=table, Item={**key, "a": {"N": "1"}, "b": {"S": "keep"}})

    def upd(rv, v):
        return dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"N": str(v)}},
            ReturnValues=rv,
        )

    assert "Attributes" not in upd("NONE", 2)
    assert upd("UPDATED_OLD", 3)["Attributes"] == {"a": {"N": "2"}}
    assert upd("UPDATED_NEW", 4)["Attributes"] == {"a": {"N": "4"}}
    assert upd("ALL_OLD", 5)["Attributes"] == {**key, "a": {"N": "4"}, "b": {"S": "keep"}}
    assert upd("ALL_NEW", 6)["Attributes"] == {**key, "a": {"N": "6"}, "b": {"S": "keep"}}


def test_update_item_creates_item(dynamodb, table):
    key = {"pk": {"S": unique("new")}}
    resp = dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :v ADD n :one",
        ExpressionAttributeValues={":v": {"S": "created"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    assert resp["Attributes"] == {**key, "v": {"S": "created"}, "n": {"N": "1"}}
    assert get(dynamodb, table, key) == {**key, "v": {"S": "created"}, "n": {"N": "1"}}


def test_update_item_condition_on_missing_item(dynamodb, table):
    key = {"pk": {"S": unique("upc")}}
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET v = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert get(dynamodb, table, key) is None


def test_overlapping_update_paths_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": unique("ovl")}},
            UpdateExpression="SET a = :v REMOVE a",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert error_code(e) == "ValidationException"
    assert "overlap" in e.value.response["Error"]["Message"]


def test_update_key_attribute_is_validation_error(dynamodb, table):
    key = {"pk": {"S": unique("key")}}
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "other"}},
        )
    assert error_code(e) == "ValidationException"
    assert "part of the key" in e.value.response["Error"]["Message"]


def test_delete_item(dynamodb, table):
    key = {"pk": {"S": unique("del")}}
    dynamodb.put_item(TableName=table, Item={**key, "v": {"S": "x"}})
    resp = dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert resp["Attributes"] == {**key, "v": {"S": "x"}}
    assert get(dynamodb, table, key) is None
    # Deleting a missing item succeeds and returns nothing.
    resp = dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert "Attributes" not in resp


def test_delete_item_condition(dynamodb, table):
    key = {"pk": {"S": unique("delc")}}
    dynamodb.put_item(TableName=table, Item={**key, "ver": {"N": "3"}})
    with pytest.raises(ClientError) as e:
        dynamodb.delete_item(
            TableName=table, Key=key, ConditionExpression="ver = :v", ExpressionAttributeValues={":v": {"N": "2"}}
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert get(dynamodb, table, key) is not None
    dynamodb.delete_item(
        TableName=table, Key=key, ConditionExpression="ver = :v", ExpressionAttributeValues={":v": {"N": "3"}}
    )
    assert get(dynamodb, table, key) is None


def test_get_item_projection(dynamodb, table):
    key = {"pk": {"S": unique("proj")}}
    dynamodb.put_item(
        TableName=table,
        Item={**key, "a": {"S": "1"}, "b": {"S": "2"}, "m": {"M": {"x": {"S": "in"}, "y": {"S": "out"}}},
              "l": {"L": [{"S": "l0"}, {"S": "l1"}]}},
    )
    item = get(dynamodb, table, key, ProjectionExpression="a, #m.x, l[1]", ExpressionAttributeNames={"#m": "m"})
    assert item == {"a": {"S": "1"}, "m": {"M": {"x": {"S": "in"}}}, "l": {"L": [{"S": "l1"}]}}


def test_missing_key_attribute_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"other": {"S": "x"}})
    assert error_code(e) == "ValidationException"
    assert "Missing the key pk" in e.value.response["Error"]["Message"]


def test_wrong_key_type_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        dynamodb.get_item(TableName=table, Key={"pk": {"N": "1"}})
    assert error_code(e) == "ValidationException"


def test_extra_key_attribute_in_key_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}, "x": {"S": "b"}})
    assert error_code(e) == "ValidationException"


def test_empty_string_key_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": ""}})
    assert error_code(e) == "ValidationException"


def test_empty_set_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "es"}, "s": {"SS": []}})
    assert error_code(e) == "ValidationException"


def test_duplicate_set_elements_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "ds"}, "s": {"SS": ["a", "a"]}})
    assert error_code(e) == "ValidationException"


def test_item_too_large_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "big"}, "v": {"S": "x" * (400 * 1024 + 1)}})
    assert error_code(e) == "ValidationException"
    assert "Item size" in e.value.response["Error"]["Message"]
    # Just under the limit is fine.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "big"}, "v": {"S": "x" * (399 * 1024)}})


def test_reserved_word_needs_placeholder(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "rw"}},
            UpdateExpression="SET status = :s",
            ExpressionAttributeValues={":s": {"S": "x"}},
        )
    assert error_code(e) == "ValidationException"
    assert "reserved keyword" in e.value.response["Error"]["Message"]


def test_unused_expression_value_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "uv"}},
            UpdateExpression="SET v = :a",
            ExpressionAttributeValues={":a": {"S": "x"}, ":unused": {"S": "y"}},
        )
    assert error_code(e) == "ValidationException"
    assert ":unused" in e.value.response["Error"]["Message"]


def test_undefined_expression_value_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(TableName=table, Key={"pk": {"S": "uv"}}, UpdateExpression="SET v = :nope")
    assert error_code(e) == "ValidationException"


def test_syntax_error_in_expression(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "se"}},
            UpdateExpression="SET v = = :a",
            ExpressionAttributeValues={":a": {"S": "x"}},
        )
    assert error_code(e) == "ValidationException"
    assert "Invalid UpdateExpression" in e.value.response["Error"]["Message"]


def test_missing_table_item_ops(dynamodb):
    name = unique("missing")
    for call in (
        lambda: dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}}),
        lambda: dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}}),
        lambda: dynamodb.delete_item(TableName=name, Key={"pk": {"S": "a"}}),
        lambda: dynamodb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE x"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "ResourceNotFoundException"


def test_boto3_resource_layer(server, table2):
    """The high-level boto3 resource API (Python types, Decimal, batch_writer, conditions)."""
    from decimal import Decimal

    import boto3
    from boto3.dynamodb.conditions import Attr, Key
    from botocore.config import Config

    resource = boto3.resource(
        "dynamodb",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )
    t = resource.Table(table2)
    assert t.key_schema == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    pk = unique("res")
    with t.batch_writer() as bw:
        for i in range(30):
            bw.put_item(Item={"pk": pk, "sk": i, "price": Decimal(f"{i}.25"), "tags": {"a", "b"},
                              "meta": {"even": i % 2 == 0, "list": [1, "two", None]}})
    got = t.get_item(Key={"pk": pk, "sk": 3}, ConsistentRead=True)["Item"]
    assert got == {"pk": pk, "sk": Decimal(3), "price": Decimal("3.25"), "tags": {"a", "b"},
                   "meta": {"even": False, "list": [Decimal(1), "two", None]}}
    resp = t.query(KeyConditionExpression=Key("pk").eq(pk) & Key("sk").between(10, 19),
                   FilterExpression=Attr("meta.even").eq(True))
    assert [int(i["sk"]) for i in resp["Items"]] == [10, 12, 14, 16, 18]
    t.update_item(Key={"pk": pk, "sk": 3}, UpdateExpression="SET price = price + :d",
                  ExpressionAttributeValues={":d": Decimal("0.75")})
    assert t.get_item(Key={"pk": pk, "sk": 3})["Item"]["price"] == Decimal("4")
    t.delete_item(Key={"pk": pk, "sk": 3})
    assert "Item" not in t.get_item(Key={"pk": pk, "sk": 3})


def test_list_and_map_paths(dynamodb, table):
    key = {"pk": {"S": unique("paths")}}
    dynamodb.put_item(TableName=table, Item={
        **key, "l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]},
        "m": {"M": {"dotted.name": {"N": "1"}, "n": {"M": {"deep": {"S": "d"}}}}}})
    resp = dynamodb.update_item(
        TableName=table, Key=key,
        UpdateExpression="SET l[1] = :x, l[10] = :end, #m.#d = #m.#d + :one, #m.n.deep = :dd REMOVE l[0]",
        ExpressionAttributeNames={"#m": "m", "#d": "dotted.name"},
        ExpressionAttributeValues={":x": {"S": "B"}, ":end": {"S": "end"}, ":one": {"N": "1"}, ":dd": {"S": "D"}},
        ReturnValues="ALL_NEW",
    )
    a = resp["Attributes"]
    # REMOVE l[0] and SET l[1] apply to the original positions; l[10] appends.
    assert a["l"] == {"L": [{"S": "B"}, {"S": "c"}, {"S": "end"}]}
    assert a["m"]["M"]["dotted.name"] == {"N": "2"}
    assert a["m"]["M"]["n"] == {"M": {"deep": {"S": "D"}}}
    # A path through a missing map is an error.
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET nomap.x = :v",
                             ExpressionAttributeValues={":v": {"S": "v"}})
    assert error_code(e) == "ValidationException"


def test_concurrent_writers(server, table):
    import threading

    base = unique("conc")
    errors = []

    def worker(w):
        c = server.client("dynamodb")
        try:
            for i in range(40):
                c.put_item(TableName=table, Item={"pk": {"S": f"{base}-{w}-{i}"}})
                c.update_item(TableName=table, Key={"pk": {"S": f"{base}-counter"}},
                              UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert get(dynamodb_client(server), table, {"pk": {"S": f"{base}-counter"}})["n"] == {"N": "160"}


def dynamodb_client(server):
    return server.client("dynamodb")


def test_unused_expression_name_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "x"}}, ProjectionExpression="#a",
                          ExpressionAttributeNames={"#a": "a", "#unused": "b"})
    assert error_code(e) == "ValidationException"
    assert "#unused" in e.value.response["Error"]["Message"]


def test_put_item_invalid_return_values(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": unique("rv")}}, ReturnValues="UPDATED_NEW")
    assert error_code(e) == "ValidationException"
