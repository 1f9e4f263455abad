"""BatchGetItem, BatchWriteItem, TransactWriteItems, TransactGetItems."""

import pytest
from botocore.exceptions import ClientError

from helpers import create_table, error_code, unique


@pytest.fixture(scope="module")
def tables(dynamodb):
    a, b = unique("batch-a"), unique("batch-b")
    create_table(dynamodb, a, ("pk", "S"))
    create_table(dynamodb, b, ("id", "N"), ("sk", "S"))
    return a, b


def get(dynamodb, table, key):
    return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def test_batch_write_and_get_across_tables(dynamodb, tables):
    a, b = tables
    prefix = unique("bw")
    resp = dynamodb.batch_write_item(
        RequestItems={
            a: [{"PutRequest": {"Item": {"pk": {"S": f"{prefix}-{i}"}, "v": {"N": str(i)}}}} for i in range(15)],
            b: [{"PutRequest": {"Item": {"id": {"N": str(i)}, "sk": {"S": prefix}, "w": {"S": "x"}}}} for i in range(10)],
        }
    )
    assert resp["UnprocessedItems"] == {}

    keys_a = [{"pk": {"S": f"{prefix}-{i}"}} for i in range(20)]  # 5 of them missing
    keys_b = [{"id": {"N": str(i)}, "sk": {"S": prefix}} for i in range(10)]
    resp = dynamodb.batch_get_item(
        RequestItems={
            a: {"Keys": keys_a, "ConsistentRead": True},
            b: {"Keys": keys_b, "ProjectionExpression": "id, #w", "ExpressionAttributeNames": {"#w": "w"}},
        }
    )
    assert resp["UnprocessedKeys"] == {}
    got_a = sorted(int(i["v"]["N"]) for i in resp["Responses"][a])
    assert got_a == list(range(15))
    got_b = resp["Responses"][b]
    assert sorted(int(i["id"]["N"]) for i in got_b) == list(range(10))
    assert all(set(i) == {"id", "w"} for i in got_b)


def test_batch_write_delete(dynamodb, tables):
    a, _ = tables
    keys = [{"pk": {"S": unique("bd")}} for _ in range(5)]
    dynamodb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": k}} for k in keys]})
    resp = dynamodb.batch_write_item(
        RequestItems={a: [{"DeleteRequest": {"Key": k}} for k in keys[:3]]}
    )
    assert resp["UnprocessedItems"] == {}
    assert [get(dynamodb, a, k) is not None for k in keys] == [False, False, False, True, True]


def test_batch_get_16mb_limit_returns_unprocessed_keys(dynamodb):
    name = unique("big")
    create_table(dynamodb, name, ("pk", "S"))
    blob = "y" * (390 * 1024)
    keys = [{"pk": {"S": f"big-{i:02d}"}} for i in range(45)]  # ~17.5 MB in all
    for k in keys:
        dynamodb.put_item(TableName=name, Item={**k, "v": {"S": blob}})
    resp = dynamodb.batch_get_item(RequestItems={name: {"Keys": keys}})
    got = [i["pk"]["S"] for i in resp["Responses"][name]]
    unprocessed = resp["UnprocessedKeys"][name]["Keys"]
    assert got and unprocessed, "a response over 16 MB returns the rest as UnprocessedKeys"
    assert len(got) * 390 * 1024 <= 16 * 1024 * 1024
    assert sorted(got + [k["pk"]["S"] for k in unprocessed]) == sorted(k["pk"]["S"] for k in keys)
    resp = dynamodb.batch_get_item(RequestItems={name: {"Keys": unprocessed}})
    assert sorted(i["pk"]["S"] for i in resp["Responses"][name]) == sorted(k["pk"]["S"] for k in unprocessed)


def test_batch_get_missing_only(dynamodb, tables):
    a, _ = tables
    resp = dynamodb.batch_get_item(RequestItems={a: {"Keys": [{"pk": {"S": unique("none")}}]}})
    assert resp["Responses"] == {a: []}


def test_batch_write_too_many_items(dynamodb, tables):
    a, _ = tables
    with pytest.raises(ClientError) as e:
        dynamodb.batch_write_item(
            RequestItems={a: [{"PutRequest": {"Item": {"pk": {"S": f"many-{i}"}}}} for i in range(26)]}
        )
    assert error_code(e) == "ValidationException"
    assert get(dynamodb, a, {"pk": {"S": "many-0"}}) is None


def test_batch_get_too_many_keys(dynamodb, tables):
    a, _ = tables
    with pytest.raises(ClientError) as e:
        dynamodb.batch_get_item(RequestItems={a: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(101)]}})
    assert error_code(e) == "ValidationException"


def test_batch_write_duplicate_keys(dynamodb, tables):
    a, _ = tables
    k = unique("dup")
    with pytest.raises(ClientError) as e:
        dynamodb.batch_write_item(
            RequestItems={a: [{"PutRequest": {"Item": {"pk": {"S": k}}}}, {"DeleteRequest": {"Key": {"pk": {"S": k}}}}]}
        )
    assert error_code(e) == "ValidationException"
    assert "duplicates" in e.value.response["Error"]["Message"]


def test_batch_get_duplicate_keys(dynamodb, tables):
    a, _ = tables
    with pytest.raises(ClientError) as e:
        dynamodb.batch_get_item(RequestItems={a: {"Keys": [{"pk": {"S": "d"}}, {"pk": {"S": "d"}}]}})
    assert error_code(e) == "ValidationException"


def test_batch_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.batch_write_item(RequestItems={unique("missing"): [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]})
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        dynamodb.batch_get_item(RequestItems={unique("missing"): {"Keys": [{"pk": {"S": "a"}}]}})
    assert error_code(e) == "ResourceNotFoundException"


def test_transact_write_all_kinds(dynamodb, tables):
    a, b = tables
    k1, k2, k3 = ({"pk": {"S": unique("tx")}} for _ in range(3))
    dynamodb.put_item(TableName=a, Item={**k2, "n": {"N": "10"}})
    dynamodb.put_item(TableName=a, Item={**k3, "gone": {"BOOL": True}})
    bkey = {"id": {"N": "999"}, "sk": {"S": unique("tx")}}
    dynamodb.put_item(TableName=b, Item={**bkey, "state": {"S": "ready"}})

    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": a, "Item": {**k1, "v": {"S": "new"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": a, "Key": k2, "UpdateExpression": "SET n = n + :d",
                        "ExpressionAttributeValues": {":d": {"N": "5"}}}},
            {"Delete": {"TableName": a, "Key": k3}},
            {"ConditionCheck": {"TableName": b, "Key": bkey, "ConditionExpression": "#s = :r",
                                "ExpressionAttributeNames": {"#s": "state"},
                                "ExpressionAttributeValues": {":r": {"S": "ready"}}}},
        ]
    )
    assert get(dynamodb, a, k1) == {**k1, "v": {"S": "new"}}
    assert get(dynamodb, a, k2) == {**k2, "n": {"N": "15"}}
    assert get(dynamodb, a, k3) is None


def test_transact_write_cancelled_changes_nothing(dynamodb, tables):
    a, b = tables
    k1, k2 = {"pk": {"S": unique("txc")}}, {"pk": {"S": unique("txc")}}
    dynamodb.put_item(TableName=a, Item={**k2, "n": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": {**k1, "v": {"S": "should not exist"}}}},
                {"Update": {"TableName": a, "Key": k2, "UpdateExpression": "SET n = :z",
                            "ConditionExpression": "n = :two",
                            "ExpressionAttributeValues": {":z": {"N": "0"}, ":two": {"N": "2"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            ]
        )
    assert error_code(e) == "TransactionCanceledException"
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {**k2, "n": {"N": "1"}}
    assert reasons[1]["Message"] == "The conditional request failed"
    msg = e.value.response["Error"]["Message"]
    assert "Transaction cancelled" in msg and "[None, ConditionalCheckFailed]" in msg
    assert get(dynamodb, a, k1) is None
    assert get(dynamodb, a, k2) == {**k2, "n": {"N": "1"}}


def test_transact_write_same_item_twice(dynamodb, tables):
    a, _ = tables
    k = {"pk": {"S": unique("txd")}}
    with pytest.raises(ClientError) as e:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": {**k, "v": {"N": "1"}}}},
                {"Delete": {"TableName": a, "Key": k}},
            ]
        )
    assert error_code(e) == "ValidationException"
    assert get(dynamodb, a, k) is None


def test_transact_write_idempotency_token(dynamodb, tables):
    a, _ = tables
    k = {"pk": {"S": unique("txi")}}
    token = unique("token")
    items = [{"Update": {"TableName": a, "Key": k, "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    assert get(dynamodb, a, k) == {**k, "n": {"N": "1"}}, "a repeated token applies once"
    other = [{"Update": {"TableName": a, "Key": k, "UpdateExpression": "ADD n :two",
                         "ExpressionAttributeValues": {":two": {"N": "2"}}}}]
    with pytest.raises(ClientError) as e:
        dynamodb.transact_write_items(TransactItems=other, ClientRequestToken=token)
    assert error_code(e) == "IdempotentParameterMismatchException"


def test_transact_write_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": unique("missing"), "Item": {"pk": {"S": "a"}}}}]
        )
    assert error_code(e) == "ResourceNotFoundException"


def test_transact_get(dynamodb, tables):
    a, b = tables
    k1, k2 = {"pk": {"S": unique("tg")}}, {"pk": {"S": unique("tg")}}
    bkey = {"id": {"N": "7"}, "sk": {"S": unique("tg")}}
    dynamodb.put_item(TableName=a, Item={**k1, "v": {"S": "one"}, "w": {"S": "hidden"}})
    dynamodb.put_item(TableName=b, Item={**bkey, "v": {"S": "bee"}})
    resp = dynamodb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": a, "Key": k1, "ProjectionExpression": "v"}},
            {"Get": {"TableName": a, "Key": k2}},
            {"Get": {"TableName": b, "Key": bkey}},
        ]
    )
    r = resp["Responses"]
    assert len(r) == 3
    assert r[0] == {"Item": {"v": {"S": "one"}}}
    assert "Item" not in r[1]
    assert r[2]["Item"] == {**bkey, "v": {"S": "bee"}}


def test_transact_too_many_items(dynamodb, tables):
    a, _ = tables
    with pytest.raises(ClientError) as e:
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": a, "Item": {"pk": {"S": f"tm-{i}"}}}} for i in range(101)]
        )
    assert error_code(e) == "ValidationException"
    # 100 is the limit and works.
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": a, "Item": {"pk": {"S": f"tm-{i}"}}}} for i in range(100)]
    )
    assert get(dynamodb, a, {"pk": {"S": "tm-99"}}) is not None
