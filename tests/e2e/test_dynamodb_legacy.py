"""Legacy (pre-expression) parameters, as the Kinesis Client Library sends them on its
lease table: Expected, AttributeUpdates, ScanFilter, KeyConditions, AttributesToGet."""

import pytest
from botocore.exceptions import ClientError

from helpers import create_table, error_code, unique


@pytest.fixture(scope="module")
def leases(dynamodb):
    name = unique("leases")
    # KCL creates its lease table like this (hash key leaseKey, provisioned 10/10).
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
    )
    from helpers import wait_table_active

    wait_table_active(dynamodb, name)
    return name


def lease(key, owner="worker-1", counter=1, checkpoint="TRIM_HORIZON"):
    return {
        "leaseKey": {"S": key},
        "leaseOwner": {"S": owner},
        "leaseCounter": {"N": str(counter)},
        "checkpoint": {"S": checkpoint},
        "ownerSwitchesSinceCheckpoint": {"N": "0"},
    }


def get(dynamodb, table, key):
    return dynamodb.get_item(TableName=table, Key={"leaseKey": {"S": key}}, ConsistentRead=True).get("Item")


def test_create_lease_if_not_exists(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key), Expected={"leaseKey": {"Exists": False}})
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=leases, Item=lease(key, owner="worker-2"), Expected={"leaseKey": {"Exists": False}}
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert get(dynamodb, leases, key)["leaseOwner"] == {"S": "worker-1"}


def test_put_expected_value(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key, counter=1))
    # Exists defaults to true when Value is given: equality.
    dynamodb.put_item(
        TableName=leases, Item=lease(key, counter=2), Expected={"leaseCounter": {"Value": {"N": "1"}}}
    )
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=leases, Item=lease(key, counter=3), Expected={"leaseCounter": {"Value": {"N": "1"}}}
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    dynamodb.put_item(
        TableName=leases,
        Item=lease(key, counter=3),
        Expected={"leaseCounter": {"Exists": True, "Value": {"N": "2"}}},
    )
    assert get(dynamodb, leases, key)["leaseCounter"] == {"N": "3"}


def test_renew_lease_attribute_updates_with_expected(dynamodb, leases):
    """KCL renewLease: ADD leaseCounter 1, guarded by the expected counter and owner."""
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key, counter=5))
    resp = dynamodb.update_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributeUpdates={"leaseCounter": {"Value": {"N": "1"}, "Action": "ADD"}},
        Expected={
            "leaseCounter": {"Value": {"N": "5"}, "Exists": True},
            "leaseOwner": {"Value": {"S": "worker-1"}, "Exists": True},
        },
        ReturnValues="ALL_NEW",
    )
    assert resp["Attributes"]["leaseCounter"] == {"N": "6"}
    # A stale counter loses.
    with pytest.raises(ClientError) as e:
        dynamodb.update_item(
            TableName=leases,
            Key={"leaseKey": {"S": key}},
            AttributeUpdates={"leaseCounter": {"Value": {"N": "1"}, "Action": "ADD"}},
            Expected={"leaseCounter": {"Value": {"N": "5"}, "Exists": True}},
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    assert get(dynamodb, leases, key)["leaseCounter"] == {"N": "6"}


def test_take_lease_put_and_delete_actions(dynamodb, leases):
    """KCL takeLease/evictLease: PUT owner, DELETE an attribute, PUT counter."""
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item={**lease(key, counter=1), "pendingCheckpoint": {"S": "123"}})
    dynamodb.update_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributeUpdates={
            "leaseOwner": {"Value": {"S": "worker-2"}, "Action": "PUT"},
            "leaseCounter": {"Value": {"N": "2"}},  # Action defaults to PUT
            "pendingCheckpoint": {"Action": "DELETE"},
            "ownerSwitchesSinceCheckpoint": {"Value": {"N": "1"}, "Action": "ADD"},
        },
        Expected={"leaseCounter": {"Value": {"N": "1"}}},
    )
    item = get(dynamodb, leases, key)
    assert item["leaseOwner"] == {"S": "worker-2"}
    assert item["leaseCounter"] == {"N": "2"}
    assert item["ownerSwitchesSinceCheckpoint"] == {"N": "1"}
    assert "pendingCheckpoint" not in item


def test_attribute_updates_set_add_and_delete(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item={"leaseKey": {"S": key}, "parents": {"SS": ["a", "b"]}})
    dynamodb.update_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributeUpdates={"parents": {"Value": {"SS": ["c"]}, "Action": "ADD"}},
    )
    assert sorted(get(dynamodb, leases, key)["parents"]["SS"]) == ["a", "b", "c"]
    dynamodb.update_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributeUpdates={"parents": {"Value": {"SS": ["a"]}, "Action": "DELETE"}},
    )
    assert sorted(get(dynamodb, leases, key)["parents"]["SS"]) == ["b", "c"]


def test_attribute_updates_creates_item(dynamodb, leases):
    key = unique("shardId")
    dynamodb.update_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributeUpdates={"checkpoint": {"Value": {"S": "LATEST"}, "Action": "PUT"}},
    )
    assert get(dynamodb, leases, key) == {"leaseKey": {"S": key}, "checkpoint": {"S": "LATEST"}}


def test_expected_comparison_operators(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key, owner="w-7", counter=7))

    def upd(expected, conditional_operator=None):
        kw = {}
        if conditional_operator:
            kw["ConditionalOperator"] = conditional_operator
        try:
            dynamodb.update_item(
                TableName=leases,
                Key={"leaseKey": {"S": key}},
                AttributeUpdates={"touched": {"Value": {"BOOL": True}, "Action": "PUT"}},
                Expected=expected,
                **kw,
            )
            return True
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", e.response
            return False

    assert upd({"leaseOwner": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "w-7"}]}})
    assert not upd({"leaseOwner": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "w-7"}]}})
    assert upd({"leaseCounter": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "6"}]}})
    assert not upd({"leaseCounter": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "7"}]}})
    assert upd({"leaseCounter": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "7"}]}})
    assert upd({"leaseOwner": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "w-"}]}})
    assert upd({"nothing": {"ComparisonOperator": "NULL"}})
    assert not upd({"leaseOwner": {"ComparisonOperator": "NULL"}})
    assert upd({"leaseOwner": {"ComparisonOperator": "NOT_NULL"}})
    assert upd({"leaseCounter": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "7"}]}})
    # AND (the default) and OR.
    assert not upd(
        {
            "leaseOwner": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "w-7"}]},
            "leaseCounter": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "8"}]},
        }
    )
    assert upd(
        {
            "leaseOwner": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "w-7"}]},
            "leaseCounter": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "8"}]},
        },
        "OR",
    )


def test_delete_with_expected(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key, owner="w-1"))
    with pytest.raises(ClientError) as e:
        dynamodb.delete_item(
            TableName=leases,
            Key={"leaseKey": {"S": key}},
            Expected={"leaseOwner": {"Value": {"S": "someone-else"}}},
        )
    assert error_code(e) == "ConditionalCheckFailedException"
    dynamodb.delete_item(
        TableName=leases, Key={"leaseKey": {"S": key}}, Expected={"leaseOwner": {"Value": {"S": "w-1"}}}
    )
    assert get(dynamodb, leases, key) is None


def test_get_item_attributes_to_get(dynamodb, leases):
    key = unique("shardId")
    dynamodb.put_item(TableName=leases, Item=lease(key))
    item = dynamodb.get_item(
        TableName=leases,
        Key={"leaseKey": {"S": key}},
        AttributesToGet=["leaseOwner", "checkpoint", "absent"],
        ConsistentRead=True,
    )["Item"]
    assert item == {"leaseOwner": {"S": "worker-1"}, "checkpoint": {"S": "TRIM_HORIZON"}}


def test_scan_filter(dynamodb, leases):
    marker = unique("scan")
    for i in range(6):
        dynamodb.put_item(
            TableName=leases,
            Item={**lease(f"{marker}-{i}", owner=f"w{i % 2}", counter=i), "marker": {"S": marker}},
        )
    items, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        resp = dynamodb.scan(
            TableName=leases,
            ScanFilter={
                "marker": {"AttributeValueList": [{"S": marker}], "ComparisonOperator": "EQ"},
                "leaseOwner": {"AttributeValueList": [{"S": "w1"}], "ComparisonOperator": "EQ"},
            },
            AttributesToGet=["leaseKey", "leaseCounter"],
            **kw,
        )
        items.extend(resp["Items"])
        start = resp.get("LastEvaluatedKey")
        if not start:
            break
    assert sorted(i["leaseKey"]["S"] for i in items) == [f"{marker}-{i}" for i in (1, 3, 5)]
    assert all(set(i) == {"leaseKey", "leaseCounter"} for i in items)


def test_query_key_conditions_and_query_filter(dynamodb):
    name = unique("legacyq")
    create_table(dynamodb, name, ("pk", "S"), ("sk", "N"))
    for i in range(10):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}})
    resp = dynamodb.query(
        TableName=name,
        KeyConditions={
            "pk": {"AttributeValueList": [{"S": "p"}], "ComparisonOperator": "EQ"},
            "sk": {"AttributeValueList": [{"N": "2"}, {"N": "7"}], "ComparisonOperator": "BETWEEN"},
        },
        QueryFilter={"odd": {"AttributeValueList": [{"BOOL": True}], "ComparisonOperator": "EQ"}},
        ScanIndexForward=False,
    )
    assert [int(i["sk"]["N"]) for i in resp["Items"]] == [7, 5, 3]
    assert resp["ScannedCount"] == 6
    resp = dynamodb.query(
        TableName=name,
        KeyConditions={
            "pk": {"AttributeValueList": [{"S": "p"}], "ComparisonOperator": "EQ"},
            "sk": {"AttributeValueList": [{"N": "8"}], "ComparisonOperator": "GE"},
        },
        AttributesToGet=["sk"],
    )
    assert resp["Items"] == [{"sk": {"N": "8"}}, {"sk": {"N": "9"}}]


def test_mixing_legacy_and_expression_is_validation_error(dynamodb, leases):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=leases,
            Item=lease(unique("mix")),
            Expected={"leaseKey": {"Exists": False}},
            ConditionExpression="attribute_not_exists(leaseKey)",
        )
    assert error_code(e) == "ValidationException"
    msg = e.value.response["Error"]["Message"]
    assert "Can not use both expression and non-expression parameters" in msg


def test_exists_false_with_value_is_validation_error(dynamodb, leases):
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(
            TableName=leases,
            Item=lease(unique("bad")),
            Expected={"leaseKey": {"Exists": False, "Value": {"S": "x"}}},
        )
    assert error_code(e) == "ValidationException"
