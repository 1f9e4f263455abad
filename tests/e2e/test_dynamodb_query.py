"""DynamoDB Query and Scan: key conditions, filters, projections, pagination,
ordering, Select COUNT, parallel scan, GSI and LSI queries."""

import pytest
from botocore.exceptions import ClientError

from helpers import create_table, error_code, unique

N_A = 25  # items under pk "a"
N_B = 5  # items under pk "b"


@pytest.fixture(scope="module")
def table(dynamodb):
    """pk S, sk N; GSI by_group (grp S, sk N, ALL, sparse: only even items), LSI by_name
    (pk, name S, INCLUDE color)."""
    name = unique("query")
    create_table(
        dynamodb,
        name,
        ("pk", "S"),
        ("sk", "N"),
        extra_attrs=[("grp", "S"), ("name", "S")],
        gsis=[
            {
                "IndexName": "by_group",
                "KeySchema": [
                    {"AttributeName": "grp", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        lsis=[
            {
                "IndexName": "by_name",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "name", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["color"]},
            }
        ],
    )
    requests = []
    for i in range(N_A):
        item = {
            "pk": {"S": "a"},
            "sk": {"N": str(i)},
            "name": {"S": f"item-{i:02d}"},
            "color": {"S": ["red", "green", "blue"][i % 3]},
            "sz": {"N": str(i * 10)},
            "other": {"S": "x"},
        }
        if i % 2 == 0:
            item["grp"] = {"S": "even"}
        requests.append({"PutRequest": {"Item": item}})
    for i in range(N_B):
        requests.append(
            {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i * 100)}, "grp": {"S": "even"},
                                     "name": {"S": f"b-{i}"}}}}
        )
    for chunk in range(0, len(requests), 25):
        resp = dynamodb.batch_write_item(RequestItems={name: requests[chunk:chunk + 25]})
        assert not resp.get("UnprocessedItems")
    return name


def sks(items):
    return [int(i["sk"]["N"]) for i in items]


def q(dynamodb, table, expr="pk = :pk", values=None, **kw):
    values = {":pk": {"S": "a"}, **(values or {})}
    return dynamodb.query(TableName=table, KeyConditionExpression=expr, ExpressionAttributeValues=values, **kw)


def test_query_hash_key_sorted_ascending(dynamodb, table):
    resp = q(dynamodb, table)
    # Number sort keys sort numerically (2 before 10), not as strings.
    assert sks(resp["Items"]) == list(range(N_A))
    assert resp["Count"] == N_A
    assert resp["ScannedCount"] == N_A
    assert "LastEvaluatedKey" not in resp


def test_query_descending(dynamodb, table):
    resp = q(dynamodb, table, ScanIndexForward=False)
    assert sks(resp["Items"]) == list(reversed(range(N_A)))


def test_query_range_conditions(dynamodb, table):
    def run(cond, vals):
        return sks(q(dynamodb, table, f"pk = :pk AND {cond}", vals)["Items"])

    assert run("sk BETWEEN :lo AND :hi", {":lo": {"N": "5"}, ":hi": {"N": "9"}}) == [5, 6, 7, 8, 9]
    assert run("sk < :v", {":v": {"N": "3"}}) == [0, 1, 2]
    assert run("sk <= :v", {":v": {"N": "3"}}) == [0, 1, 2, 3]
    assert run("sk > :v", {":v": {"N": "21"}}) == [22, 23, 24]
    assert run("sk >= :v", {":v": {"N": "21"}}) == [21, 22, 23, 24]
    assert run("sk = :v", {":v": {"N": "7"}}) == [7]
    assert run("sk > :v", {":v": {"N": "2.5"}})[:2] == [3, 4]
    # Key condition written the other way round, with names.
    resp = dynamodb.query(
        TableName=table,
        KeyConditionExpression="#s BETWEEN :lo AND :hi AND #p = :pk",
        ExpressionAttributeNames={"#p": "pk", "#s": "sk"},
        ExpressionAttributeValues={":pk": {"S": "a"}, ":lo": {"N": "1"}, ":hi": {"N": "2"}},
    )
    assert sks(resp["Items"]) == [1, 2]


def test_query_begins_with_on_string_sort_key(dynamodb, table):
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_name",
        KeyConditionExpression="pk = :pk AND begins_with(#n, :p)",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":pk": {"S": "a"}, ":p": {"S": "item-1"}},
    )
    assert [i["name"]["S"] for i in resp["Items"]] == [f"item-{i}" for i in range(10, 20)]


def test_query_pagination(dynamodb, table):
    got, start, pages = [], None, 0
    while True:
        kw = {"Limit": 7}
        if start:
            kw["ExclusiveStartKey"] = start
        resp = q(dynamodb, table, **kw)
        pages += 1
        assert resp["Count"] <= 7
        got.extend(resp["Items"])
        start = resp.get("LastEvaluatedKey")
        if not start:
            break
        assert start == {"pk": resp["Items"][-1]["pk"], "sk": resp["Items"][-1]["sk"]}
        assert pages < 50
    assert sks(got) == list(range(N_A))
    assert pages in (4, 5)  # 7+7+7+4 (a final empty page is allowed)


def test_query_paginator(dynamodb, table):
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "a"}},
        ScanIndexForward=False,
        PaginationConfig={"PageSize": 10},
    )
    assert [s for p in pages for s in sks(p["Items"])] == list(reversed(range(N_A)))


def test_query_filter_counts(dynamodb, table):
    resp = q(dynamodb, table, values={":c": {"S": "red"}}, FilterExpression="color = :c")
    assert sks(resp["Items"]) == [i for i in range(N_A) if i % 3 == 0]
    assert resp["Count"] == len(resp["Items"])
    assert resp["ScannedCount"] == N_A
    # Limit applies before the filter.
    resp = q(dynamodb, table, values={":c": {"S": "red"}}, FilterExpression="color = :c", Limit=5)
    assert resp["ScannedCount"] == 5
    assert sks(resp["Items"]) == [0, 3]
    assert resp["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"N": "4"}}


def test_query_filter_on_key_attribute_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        q(dynamodb, table, values={":s": {"N": "1"}}, FilterExpression="sk = :s")
    assert error_code(e) == "ValidationException"


def test_query_projection(dynamodb, table):
    resp = q(
        dynamodb,
        table,
        "pk = :pk AND sk = :s",
        {":s": {"N": "4"}},
        ProjectionExpression="#n, sz",
        ExpressionAttributeNames={"#n": "name"},
    )
    assert resp["Items"] == [{"name": {"S": "item-04"}, "sz": {"N": "40"}}]


def test_query_select_count(dynamodb, table):
    resp = q(dynamodb, table, Select="COUNT")
    assert resp["Count"] == N_A
    assert "Items" not in resp
    resp = q(dynamodb, table, values={":c": {"S": "blue"}}, FilterExpression="color = :c", Select="COUNT")
    assert resp["Count"] == len([i for i in range(N_A) if i % 3 == 2])
    assert resp["ScannedCount"] == N_A


def test_query_other_partition_and_missing_partition(dynamodb, table):
    assert sks(q(dynamodb, table, values={":pk": {"S": "b"}})["Items"]) == [0, 100, 200, 300, 400]
    resp = q(dynamodb, table, values={":pk": {"S": "nobody"}})
    assert resp["Items"] == [] and resp["Count"] == 0


def test_query_needs_key_condition(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.query(TableName=table)
    assert error_code(e) == "ValidationException"
    # A key condition without the hash key.
    with pytest.raises(ClientError) as e:
        dynamodb.query(
            TableName=table, KeyConditionExpression="sk = :s", ExpressionAttributeValues={":s": {"N": "1"}}
        )
    assert error_code(e) == "ValidationException"
    # A non-key attribute in the key condition.
    with pytest.raises(ClientError) as e:
        q(dynamodb, table, "pk = :pk AND color = :c", {":c": {"S": "red"}})
    assert error_code(e) == "ValidationException"


def test_query_gsi(dynamodb, table):
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_group",
        KeyConditionExpression="grp = :g AND sk < :lim",
        ExpressionAttributeValues={":g": {"S": "even"}, ":lim": {"N": "10"}},
    )
    # Items of both partitions that have grp, sorted by sk; ties in any order.
    got = sorted((int(i["sk"]["N"]), i["pk"]["S"]) for i in resp["Items"])
    assert got == sorted([(0, "a"), (0, "b"), (2, "a"), (4, "a"), (6, "a"), (8, "a")])
    assert sks(resp["Items"]) == sorted(sks(resp["Items"]))
    # ALL projection returns the whole item.
    a0 = [i for i in resp["Items"] if i["pk"]["S"] == "a" and i["sk"]["N"] == "0"][0]
    assert a0["color"] == {"S": "red"} and a0["other"] == {"S": "x"}


def test_query_gsi_pagination_key(dynamodb, table):
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_group",
        KeyConditionExpression="grp = :g",
        ExpressionAttributeValues={":g": {"S": "even"}},
        Limit=3,
    )
    lek = resp["LastEvaluatedKey"]
    # An index's LastEvaluatedKey has the table key and the index key.
    assert set(lek) == {"pk", "sk", "grp"}
    total = len(resp["Items"])
    while "LastEvaluatedKey" in resp:
        resp = dynamodb.query(
            TableName=table,
            IndexName="by_group",
            KeyConditionExpression="grp = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            Limit=3,
            ExclusiveStartKey=resp["LastEvaluatedKey"],
        )
        total += len(resp["Items"])
    assert total == (N_A + 1) // 2 + N_B


def test_query_gsi_consistent_read_is_validation_error(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.query(
            TableName=table,
            IndexName="by_group",
            KeyConditionExpression="grp = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            ConsistentRead=True,
        )
    assert error_code(e) == "ValidationException"


def test_query_lsi_projection(dynamodb, table):
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_name",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "a"}},
        ScanIndexForward=False,
        Limit=2,
    )
    assert [i["name"]["S"] for i in resp["Items"]] == ["item-24", "item-23"]
    # INCLUDE projection: keys + index key + color only.
    assert set(resp["Items"][0]) == {"pk", "sk", "name", "color"}
    assert set(resp["LastEvaluatedKey"]) == {"pk", "sk", "name"}


def test_query_missing_index(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.query(
            TableName=table,
            IndexName="nope",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
        )
    assert error_code(e) == "ValidationException"


def all_keys(items):
    return sorted((i["pk"]["S"], int(i["sk"]["N"])) for i in items)


EXPECTED_KEYS = sorted([("a", i) for i in range(N_A)] + [("b", i * 100) for i in range(N_B)])


def test_scan_all(dynamodb, table):
    resp = dynamodb.scan(TableName=table)
    assert all_keys(resp["Items"]) == EXPECTED_KEYS
    assert resp["Count"] == resp["ScannedCount"] == N_A + N_B


def test_scan_pagination(dynamodb, table):
    got, start, pages = [], None, 0
    while True:
        kw = {"Limit": 4}
        if start:
            kw["ExclusiveStartKey"] = start
        resp = dynamodb.scan(TableName=table, **kw)
        assert len(resp["Items"]) <= 4
        got.extend(resp["Items"])
        start = resp.get("LastEvaluatedKey")
        pages += 1
        if not start:
            break
        assert pages < 100
    assert all_keys(got) == EXPECTED_KEYS
    assert len(got) == len(EXPECTED_KEYS)


def test_scan_filter_and_projection(dynamodb, table):
    resp = dynamodb.scan(
        TableName=table,
        FilterExpression="sz >= :s AND attribute_exists(grp)",
        ProjectionExpression="pk, sk",
        ExpressionAttributeValues={":s": {"N": "200"}},
    )
    assert all_keys(resp["Items"]) == [("a", 20), ("a", 22), ("a", 24)]
    assert all(set(i) == {"pk", "sk"} for i in resp["Items"])
    assert resp["ScannedCount"] == N_A + N_B


def test_scan_select_count(dynamodb, table):
    resp = dynamodb.scan(TableName=table, Select="COUNT")
    assert resp["Count"] == N_A + N_B
    assert "Items" not in resp


def test_parallel_scan(dynamodb, table):
    segments = []
    for seg in range(3):
        items, start = [], None
        while True:
            kw = {"Segment": seg, "TotalSegments": 3, "Limit": 5}
            if start:
                kw["ExclusiveStartKey"] = start
            resp = dynamodb.scan(TableName=table, **kw)
            items.extend(resp["Items"])
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        segments.append(all_keys(items))
    union = sorted(k for s in segments for k in s)
    assert union == EXPECTED_KEYS, "segments together cover the table exactly once"


def test_parallel_scan_bad_segment(dynamodb, table):
    with pytest.raises(ClientError) as e:
        dynamodb.scan(TableName=table, Segment=3, TotalSegments=3)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        dynamodb.scan(TableName=table, Segment=0)
    assert error_code(e) == "ValidationException"


def test_scan_gsi_is_sparse(dynamodb, table):
    resp = dynamodb.scan(TableName=table, IndexName="by_group")
    assert all_keys(resp["Items"]) == sorted(
        [("a", i) for i in range(0, N_A, 2)] + [("b", i * 100) for i in range(N_B)]
    )


def test_query_on_missing_table(dynamodb):
    with pytest.raises(ClientError) as e:
        dynamodb.query(
            TableName=unique("missing"),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
        )
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        dynamodb.scan(TableName=unique("missing"))
    assert error_code(e) == "ResourceNotFoundException"


def test_query_string_sort_key_byte_order(dynamodb):
    name = unique("order")
    create_table(dynamodb, name, ("pk", "S"), ("sk", "S"))
    keys = ["b", "a", "B", "aa", "a b", "é", "Z", "0"]
    for k in keys:
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": k}})
    resp = dynamodb.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    # Strings sort by UTF-8 bytes.
    assert [i["sk"]["S"] for i in resp["Items"]] == sorted(keys, key=lambda s: s.encode())


def test_query_binary_sort_key(dynamodb):
    name = unique("bin")
    create_table(dynamodb, name, ("pk", "S"), ("sk", "B"))
    vals = [b"\x10", b"\x01\xff", b"\x01", b"\xff", b"\x01\x00"]
    for v in vals:
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"B": v}})
    resp = dynamodb.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": {"S": "p"}, ":b": {"B": b"\x01"}},
    )
    assert [i["sk"]["B"] for i in resp["Items"]] == [b"\x01", b"\x01\x00", b"\x01\xff"]


def test_query_and_scan_pages_stop_at_one_megabyte(dynamodb):
    """Without Limit, a Query or Scan page holds at most 1 MB of items."""
    name = unique("mb")
    create_table(dynamodb, name, ("pk", "S"), ("sk", "N"))
    blob = "x" * (100 * 1024)
    for i in range(25):  # ~2.5 MB in one partition
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"S": blob}})
    resp = q(dynamodb, name, values={":pk": {"S": "p"}})
    assert "LastEvaluatedKey" in resp
    assert 5 <= resp["Count"] <= 11, resp["Count"]
    total, pages = resp["Count"], 1
    while "LastEvaluatedKey" in resp:
        resp = q(dynamodb, name, values={":pk": {"S": "p"}}, ExclusiveStartKey=resp["LastEvaluatedKey"])
        total += resp["Count"]
        pages += 1
    assert total == 25 and pages >= 3
    resp = dynamodb.scan(TableName=name)
    assert "LastEvaluatedKey" in resp and resp["Count"] < 25
    # Select COUNT pages the same way (the limit is on the data read, not returned).
    resp = q(dynamodb, name, values={":pk": {"S": "p"}}, Select="COUNT")
    assert "LastEvaluatedKey" in resp and resp["Count"] < 25


def test_index_select_attributes(dynamodb, table):
    # An LSI fetches attributes it does not project from the table.
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_name",
        KeyConditionExpression="pk = :pk AND #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":pk": {"S": "a"}, ":n": {"S": "item-05"}},
        Select="ALL_ATTRIBUTES",
    )
    assert resp["Items"][0]["sz"] == {"N": "50"} and resp["Items"][0]["other"] == {"S": "x"}
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_name",
        KeyConditionExpression="pk = :pk AND #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":pk": {"S": "a"}, ":n": {"S": "item-05"}},
        ProjectionExpression="sz",
    )
    assert resp["Items"] == [{"sz": {"N": "50"}}]
    resp = dynamodb.query(
        TableName=table,
        IndexName="by_name",
        KeyConditionExpression="pk = :pk AND #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":pk": {"S": "a"}, ":n": {"S": "item-05"}},
        Select="ALL_PROJECTED_ATTRIBUTES",
    )
    assert set(resp["Items"][0]) == {"pk", "sk", "name", "color"}


def test_gsi_keys_only_select_all_attributes_is_validation_error(dynamodb):
    name = unique("ko")
    create_table(dynamodb, name, ("pk", "S"), extra_attrs=[("g", "S")], gsis=[{
        "IndexName": "g_keys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "1"}, "g": {"S": "x"}, "other": {"S": "hidden"}})
    resp = dynamodb.query(TableName=name, IndexName="g_keys", KeyConditionExpression="g = :g",
                          ExpressionAttributeValues={":g": {"S": "x"}})
    assert resp["Items"] == [{"pk": {"S": "1"}, "g": {"S": "x"}}]
    with pytest.raises(ClientError) as e:
        dynamodb.query(TableName=name, IndexName="g_keys", KeyConditionExpression="g = :g",
                       ExpressionAttributeValues={":g": {"S": "x"}}, Select="ALL_ATTRIBUTES")
    assert error_code(e) == "ValidationException"
    # A GSI is updated on write: changing the index key moves the item.
    dynamodb.update_item(TableName=name, Key={"pk": {"S": "1"}}, UpdateExpression="SET g = :y",
                         ExpressionAttributeValues={":y": {"S": "y"}})
    for g, n in (("x", 0), ("y", 1)):
        resp = dynamodb.query(TableName=name, IndexName="g_keys", KeyConditionExpression="g = :g",
                              ExpressionAttributeValues={":g": {"S": g}})
        assert resp["Count"] == n
    dynamodb.update_item(TableName=name, Key={"pk": {"S": "1"}}, UpdateExpression="REMOVE g")
    assert dynamodb.scan(TableName=name, IndexName="g_keys")["Count"] == 0
