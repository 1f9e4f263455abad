"""DynamoDB control plane: CreateTable/DescribeTable/ListTables/UpdateTable/DeleteTable,
TTL, tags, DescribeEndpoints, DescribeLimits."""

import datetime

import pytest
from botocore.exceptions import ClientError

from helpers import (
    ACCOUNT,
    REGION,
    create_table,
    error_code,
    table_arn,
    unique,
    wait_table_active,
    wait_until,
)

GSI = {
    "IndexName": "by_owner",
    "KeySchema": [
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "created", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}
LSI = {
    "IndexName": "by_status",
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "status", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


def make_indexed_table(dynamodb, name):
    return create_table(
        dynamodb,
        name,
        ("pk", "S"),
        ("sk", "N"),
        extra_attrs=[("owner", "S"), ("created", "N"), ("status", "S")],
        gsis=[GSI],
        lsis=[LSI],
    )


def test_create_table_response(dynamodb, table_name):
    before = datetime.datetime.now(datetime.timezone.utc)
    resp = make_indexed_table(dynamodb, table_name)
    desc = resp["TableDescription"]
    assert desc["TableName"] == table_name
    assert desc["TableStatus"] in ("CREATING", "ACTIVE")
    assert desc["TableArn"] == table_arn(table_name)
    assert desc["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    created = desc["CreationDateTime"]
    assert isinstance(created, datetime.datetime)
    assert abs((created - before).total_seconds()) < 60


def test_describe_table(dynamodb, table_name):
    make_indexed_table(dynamodb, table_name)
    t = dynamodb.describe_table(TableName=table_name)["Table"]
    assert t["TableName"] == table_name
    assert t["TableStatus"] == "ACTIVE"
    assert t["TableArn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table_name}"
    assert t["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    defs = {d["AttributeName"]: d["AttributeType"] for d in t["AttributeDefinitions"]}
    assert defs == {"pk": "S", "sk": "N", "owner": "S", "created": "N", "status": "S"}
    assert t["ItemCount"] == 0
    assert t["TableSizeBytes"] == 0
    assert isinstance(t["CreationDateTime"], datetime.datetime)
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
    assert set(gsis) == {"by_owner"}
    g = gsis["by_owner"]
    assert g["KeySchema"] == GSI["KeySchema"]
    assert g["Projection"]["ProjectionType"] == "ALL"
    assert g["IndexStatus"] == "ACTIVE"
    assert g["IndexArn"] == f"{table_arn(table_name)}/index/by_owner"

    lsis = {i["IndexName"]: i for i in t["LocalSecondaryIndexes"]}
    assert set(lsis) == {"by_status"}
    assert lsis["by_status"]["KeySchema"] == LSI["KeySchema"]
    assert lsis["by_status"]["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert lsis["by_status"]["IndexArn"] == f"{table_arn(table_name)}/index/by_status"


def test_describe_table_counts_items(dynamodb, table_name):
    create_table(dynamodb, table_name)
    for i in range(3):
        dynamodb.put_item(TableName=table_name, Item={"pk": {"S": f"k{i}"}, "v": {"S": "x" * 100}})
    t = dynamodb.describe_table(TableName=table_name)["Table"]
    assert t["ItemCount"] == 3
    assert t["TableSizeBytes"] >= 3 * 100


def test_provisioned_table(dynamodb, table_name):
    dynamodb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
    )
    t = wait_table_active(dynamodb, table_name)
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert t["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_table_exists_waiter(dynamodb, table_name):
    create_table(dynamodb, table_name, wait=False)
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )


def test_duplicate_table_is_resource_in_use(dynamodb, table_name):
    create_table(dynamodb, table_name)
    with pytest.raises(ClientError) as e:
        create_table(dynamodb, table_name, wait=False)
    assert error_code(e) == "ResourceInUseException"


def test_describe_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.describe_table(TableName=unique("missing"))
    assert error_code(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_table_key_not_defined_is_validation_error(dynamodb, table_name):
    with pytest.raises(ClientError) as e:
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_code(e) == "ValidationException"


def test_create_table_lsi_with_other_hash_key_is_validation_error(dynamodb, table_name):
    with pytest.raises(ClientError) as e:
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "other", "AttributeType": "S"},
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "bad",
                    "KeySchema": [
                        {"AttributeName": "other", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_code(e) == "ValidationException"


def test_list_tables_pagination(dynamodb):
    prefix = unique("lst")
    names = [f"{prefix}-{c}" for c in "edcba"]
    for n in names:
        create_table(dynamodb, n, wait=False)

    # Page through everything two at a time.
    seen, start, pages = [], None, 0
    while True:
        kwargs = {"Limit": 2}
        if start:
            kwargs["ExclusiveStartTableName"] = start
        resp = dynamodb.list_tables(**kwargs)
        pages += 1
        assert len(resp["TableNames"]) <= 2
        seen.extend(resp["TableNames"])
        start = resp.get("LastEvaluatedTableName")
        if not start:
            break
        assert start == resp["TableNames"][-1]
        assert pages < 1000
    assert seen == sorted(seen), "ListTables returns names in ascending order"
    assert len(seen) == len(set(seen))
    mine = [n for n in seen if n.startswith(prefix)]
    assert mine == sorted(names)

    # Starting after the second of ours gives the remaining three first.
    resp = dynamodb.list_tables(ExclusiveStartTableName=sorted(names)[1], Limit=3)
    assert resp["TableNames"] == sorted(names)[2:]

    # The paginator agrees with the whole list.
    everything = dynamodb.list_tables()["TableNames"]
    paginated = [
        n
        for page in dynamodb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 3})
        for n in page["TableNames"]
    ]
    assert paginated == everything


def test_update_table_add_and_remove_gsi(dynamodb, table_name):
    create_table(dynamodb, table_name, ("pk", "S"))
    for i in range(5):
        dynamodb.put_item(
            TableName=table_name,
            Item={"pk": {"S": f"p{i}"}, "color": {"S": "red" if i % 2 else "blue"}, "n": {"N": str(i)}},
        )
    resp = dynamodb.update_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "color", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_color",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    assert resp["TableDescription"]["TableName"] == table_name
    t = wait_table_active(dynamodb, table_name)
    assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["by_color"]

    # Existing items were backfilled into the new index.
    items = dynamodb.query(
        TableName=table_name,
        IndexName="by_color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )["Items"]
    assert sorted(i["pk"]["S"] for i in items) == ["p1", "p3"]

    dynamodb.update_table(
        TableName=table_name,
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_color"}}],
    )

    def gone():
        t = dynamodb.describe_table(TableName=table_name)["Table"]
        return not t.get("GlobalSecondaryIndexes")

    wait_until(gone, 15, 0.1, "GSI removed")
    with pytest.raises(ClientError) as e:
        dynamodb.query(
            TableName=table_name,
            IndexName="by_color",
            KeyConditionExpression="color = :c",
            ExpressionAttributeValues={":c": {"S": "red"}},
        )
    assert error_code(e) == "ValidationException"


def test_update_table_billing_mode(dynamodb, table_name):
    create_table(dynamodb, table_name)
    dynamodb.update_table(
        TableName=table_name,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 2},
    )
    t = wait_table_active(dynamodb, table_name)
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 2


def test_update_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.update_table(
            TableName=unique("missing"),
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_code(e) == "ResourceNotFoundException"


def test_delete_table(dynamodb, table_name):
    create_table(dynamodb, table_name)
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "a"}})
    resp = dynamodb.delete_table(TableName=table_name)
    desc = resp["TableDescription"]
    assert desc["TableName"] == table_name
    assert desc["TableStatus"] == "DELETING"

    def gone():
        try:
            dynamodb.describe_table(TableName=table_name)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    wait_until(gone, 15, 0.1, "table deleted")
    assert table_name not in dynamodb.list_tables()["TableNames"]
    with pytest.raises(ClientError) as e:
        dynamodb.get_item(TableName=table_name, Key={"pk": {"S": "a"}})
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        dynamodb.delete_table(TableName=table_name)
    assert error_code(e) == "ResourceNotFoundException"

    # The name can be reused, and the new table is empty.
    create_table(dynamodb, table_name)
    assert "Item" not in dynamodb.get_item(TableName=table_name, Key={"pk": {"S": "a"}})


def test_time_to_live(dynamodb, table_name):
    create_table(dynamodb, table_name)
    desc = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert desc["TimeToLiveStatus"] == "DISABLED"
    assert "AttributeName" not in desc

    resp = dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    assert resp["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}

    def enabled():
        d = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        return d if d["TimeToLiveStatus"] == "ENABLED" else None

    desc = wait_until(enabled, 10, 0.1, "TTL ENABLED")
    assert desc["AttributeName"] == "expires"

    with pytest.raises(ClientError) as e:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
        )
    assert error_code(e) == "ValidationException"

    resp = dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"},
    )
    assert resp["TimeToLiveSpecification"]["Enabled"] is False
    d = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("DISABLING", "DISABLED")


def test_time_to_live_expires_items(dynamodb, table_name):
    import time

    create_table(dynamodb, table_name)
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    now = int(time.time())
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "old"}, "expires": {"N": str(now - 3600)}})
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "new"}, "expires": {"N": str(now + 3600)}})
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "text"}, "expires": {"S": "not a number"}})
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "none"}})

    def expired():
        return "Item" not in dynamodb.get_item(TableName=table_name, Key={"pk": {"S": "old"}})

    wait_until(expired, 15, 0.2, "expired item deleted by TTL")
    for k in ("new", "text", "none"):
        assert "Item" in dynamodb.get_item(TableName=table_name, Key={"pk": {"S": k}}), k


def test_ttl_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.describe_time_to_live(TableName=unique("missing"))
    assert error_code(e) == "ResourceNotFoundException"


def test_tags(dynamodb, table_name):
    create_table(dynamodb, table_name)
    arn = table_arn(table_name)
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    dynamodb.tag_resource(
        ResourceArn=arn,
        Tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}],
    )
    tags = dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "test"), ("team", "data")]
    # Re-tagging a key overwrites its value.
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    dynamodb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    tags = dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("env", "prod")]


def test_tags_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.list_tags_of_resource(ResourceArn=table_arn(unique("missing")))
    assert error_code(e) == "ResourceNotFoundException"


def test_create_table_with_tags(dynamodb, table_name):
    dynamodb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "owner", "Value": "e2e"}],
    )
    wait_table_active(dynamodb, table_name)
    tags = dynamodb.list_tags_of_resource(ResourceArn=table_arn(table_name))["Tags"]
    assert tags == [{"Key": "owner", "Value": "e2e"}]


def test_describe_endpoints(dynamodb, server):
    resp = dynamodb.describe_endpoints()
    eps = resp["Endpoints"]
    assert len(eps) >= 1
    assert isinstance(eps[0]["Address"], str) and eps[0]["Address"]
    assert isinstance(eps[0]["CachePeriodInMinutes"], int) and eps[0]["CachePeriodInMinutes"] > 0


def test_describe_limits(dynamodb):
    resp = dynamodb.describe_limits()
    for k in (
        "AccountMaxReadCapacityUnits",
        "AccountMaxWriteCapacityUnits",
        "TableMaxReadCapacityUnits",
        "TableMaxWriteCapacityUnits",
    ):
        assert isinstance(resp[k], int) and resp[k] > 0, k
