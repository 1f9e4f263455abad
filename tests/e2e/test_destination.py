"""Kinesis Data Streams for DynamoDB: the streaming-destination control plane and the
change records it writes (aws-behaviour.md §1 and §2)."""

import base64
import decimal
import json
import math
import re
import time

import pytest
from botocore.exceptions import ClientError

from helpers import (
    REGION,
    create_stream,
    create_table,
    error_code,
    poll_stream_records,
    read_stream,
    stream_arn,
    table_arn,
    unique,
    wait_until,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PARTITION_KEY_RE = re.compile(r"^[0-9A-F]{32}$")
TOP_KEYS = ["awsRegion", "eventID", "eventName", "userIdentity", "recordFormat", "tableName", "dynamodb",
            "eventSource"]
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


# -- item size (§1.5) ------------------------------------------------------------------


def number_size(text: str) -> int:
    d = decimal.Decimal(text)
    if d == 0:
        return 1
    sign, digits, exp = d.normalize().as_tuple()
    digits = "".join(map(str, digits)).strip("0") or "0"
    n = len(digits)
    # Exponent of the first digit (value = d1.d2d3... x 10^e).
    e = len(d.normalize().as_tuple().digits) + exp - 1
    size = 1 + math.ceil(n / 2)
    if n % 2 == 0 and e % 2 == 0:
        size += 1
    if sign:
        size += 1
    return size


def value_size(v: dict) -> int:
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "N":
        return number_size(x)
    if t == "B":
        return len(x)
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in x)
    if t == "NS":
        return sum(number_size(s) for s in x)
    if t == "BS":
        return sum(len(b) for b in x)
    if t == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if t == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())
    raise ValueError(t)


def item_size(item: dict) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


# -- conversion between the API form (boto3) and the record's JSON form ----------------


def api_to_record_json(v: dict) -> dict:
    """The DynamoDB JSON a change record carries for an attribute value given to boto3
    (binary values are base64 of the API's base64)."""
    (t, x), = v.items()
    if t == "B":
        return {"B": base64.b64encode(base64.b64encode(x)).decode()}
    if t == "BS":
        return {"BS": [base64.b64encode(base64.b64encode(b)).decode() for b in x]}
    if t == "M":
        return {"M": {k: api_to_record_json(e) for k, e in x.items()}}
    if t == "L":
        return {"L": [api_to_record_json(e) for e in x]}
    return {t: x}


def record_image(item: dict) -> dict:
    return {k: api_to_record_json(v) for k, v in item.items()}


def norm(image):
    """Order-insensitive form of an image (sets unordered)."""
    out = {}
    for k, v in image.items():
        (t, x), = v.items()
        if t in ("SS", "NS", "BS"):
            out[k] = {t: sorted(x)}
        elif t == "M":
            out[k] = {"M": norm(x)}
        elif t == "L":
            out[k] = {"L": [norm({"_": e})["_"] for e in x]}
        else:
            out[k] = v
    return out


# -- helpers ---------------------------------------------------------------------------


def describe_dest(dynamodb, table):
    return dynamodb.describe_kinesis_streaming_destination(TableName=table)


def wait_destination(dynamodb, table, status, timeout=15.0):
    def check():
        d = describe_dest(dynamodb, table)["KinesisDataStreamDestinations"]
        return d if d and d[0]["DestinationStatus"] == status else None

    return wait_until(check, timeout, 0.1, f"destination of {table} {status}")


def setup_pair(dynamodb, kinesis, shards=2, range_key=("sk", "N"), precision=None):
    table, stream = unique("dt"), unique("ds")
    create_table(dynamodb, table, ("pk", "S"), range_key)
    create_stream(kinesis, stream, shards)
    kw = {}
    if precision:
        kw["EnableKinesisStreamingConfiguration"] = {"ApproximateCreationDateTimePrecision": precision}
    resp = dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(stream), **kw)
    assert resp["DestinationStatus"] == "ENABLING"
    wait_destination(dynamodb, table, "ACTIVE")
    return table, stream


class Rec:
    def __init__(self, shard, raw):
        self.shard = shard
        self.seq = int(raw["SequenceNumber"])
        self.partition_key = raw["PartitionKey"]
        self.data = raw["Data"]
        self.obj = json.loads(self.data.decode("utf-8"))
        self.ddb = self.obj["dynamodb"]

    @property
    def name(self):
        return self.obj["eventName"]

    def key(self):
        return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in self.ddb["Keys"].items()))


def collect(kinesis, stream, count, timeout=10.0):
    by_shard = poll_stream_records(kinesis, stream, count, timeout)
    return [Rec(shard, r) for shard, recs in by_shard.items() for r in recs]


def settle_and_collect(kinesis, stream, count, timeout=10.0, settle=1.0):
    """Waits for `count` records, then a little longer, and returns all of them (so that
    records which should not exist have had time to appear)."""
    collect(kinesis, stream, count, timeout)
    time.sleep(settle)
    return [Rec(shard, r) for shard, recs in read_stream(kinesis, stream).items() for r in recs]


def by_item(records):
    """{item key: [records in commit order]}; asserts each item's records are on one
    shard with one partition key."""
    groups = {}
    for r in records:
        groups.setdefault(r.key(), []).append(r)
    for k, rs in groups.items():
        assert len({r.shard for r in rs}) == 1, f"records of item {k} on several shards"
        assert len({r.partition_key for r in rs}) == 1, f"records of item {k} with several partition keys"
        rs.sort(key=lambda r: r.seq)
    return groups


def check_envelope(rec: Rec, table: str, t0_ms: int, t1_ms: int, micro=False):
    o = rec.obj
    assert list(o.keys()) == TOP_KEYS, f"top-level keys/order: {list(o.keys())}"
    assert o["awsRegion"] == REGION
    assert UUID_RE.match(o["eventID"]), o["eventID"]
    assert o["eventName"] in ("INSERT", "MODIFY", "REMOVE")
    assert o["recordFormat"] == "application/json"
    assert o["tableName"] == table
    assert o["eventSource"] == "aws:dynamodb"
    d = o["dynamodb"]
    expected = ["ApproximateCreationDateTime", "Keys"]
    if o["eventName"] in ("INSERT", "MODIFY"):
        expected.append("NewImage")
    if o["eventName"] in ("MODIFY", "REMOVE"):
        expected.append("OldImage")
    expected.append("SizeBytes")
    if micro:
        expected.append("ApproximateCreationDateTimePrecision")
    assert list(d.keys()) == expected, f"dynamodb keys/order: {list(d.keys())}"
    ts = d["ApproximateCreationDateTime"]
    assert isinstance(ts, int)
    if micro:
        assert d["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
        assert len(str(ts)) == 16
        assert t0_ms * 1000 - 2_000_000 <= ts <= t1_ms * 1000 + 2_000_000
    else:
        assert len(str(ts)) == 13, f"milliseconds expected: {ts}"
        assert t0_ms - 2000 <= ts <= t1_ms + 2000
    size = item_size(d["Keys"]) + sum(item_size(decode_image(d[i])) for i in ("NewImage", "OldImage") if i in d)
    assert d["SizeBytes"] == size, f"SizeBytes {d['SizeBytes']} != {size} for {rec.data!r}"
    # Compact JSON, non-ASCII raw.
    assert rec.data == json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert PARTITION_KEY_RE.match(rec.partition_key), rec.partition_key


def decode_image(image: dict) -> dict:
    """Record-JSON image -> API-form image (binary values decoded twice) for sizing."""

    def dec(v):
        (t, x), = v.items()
        if t == "B":
            return {"B": base64.b64decode(base64.b64decode(x))}
        if t == "BS":
            return {"BS": [base64.b64decode(base64.b64decode(b)) for b in x]}
        if t == "M":
            return {"M": {k: dec(e) for k, e in x.items()}}
        if t == "L":
            return {"L": [dec(e) for e in x]}
        return {t: x}

    return {k: dec(v) for k, v in image.items()}


def now_ms():
    return int(time.time() * 1000)


# -- tests -----------------------------------------------------------------------------


def test_size_rules_match_reference_vectors():
    """The test's own SizeBytes arithmetic reproduces the reference's worked examples."""
    music_keys = {"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}}
    music = {**music_keys, "AlbumTitle": {"S": "Somewhat Famous"}, "Awards": {"N": "1"}}
    assert item_size(music_keys) + item_size(music) == 119
    assert item_size({"id": {"S": "test"}}) * 2 == 12
    kitchen_keys = {"pk": {"S": "k"}, "sk": {"N": "-12.5"}}
    assert item_size(kitchen_keys) + item_size(KITCHEN) == 65


KITCHEN = {
    "pk": {"S": "k"},
    "sk": {"N": "-12.5"},
    "ok": {"BOOL": True},
    "none": {"NULL": True},
    "tags": {"SS": ["a", "bc"]},
    "nums": {"NS": ["1", "100"]},
    "bins": {"BS": [b"\x00\x01", b"\xff"]},
    "m": {"M": {"x": {"S": "y"}, "l": {"L": [{"N": "0"}, {"S": "é"}]}}},
}


def test_describe_without_destination(dynamodb):
    table = unique("dt")
    create_table(dynamodb, table)
    resp = describe_dest(dynamodb, table)
    assert resp["TableName"] == table
    assert resp["KinesisDataStreamDestinations"] == []


def test_enable_and_describe_shapes(dynamodb, kinesis):
    table, stream = unique("dt"), unique("ds")
    create_table(dynamodb, table)
    create_stream(kinesis, stream, 1)
    arn = stream_arn(stream)
    resp = dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert resp["TableName"] == table
    assert resp["StreamArn"] == arn
    assert resp["DestinationStatus"] == "ENABLING"
    assert resp.get("EnableKinesisStreamingConfiguration", {}) == {}
    dests = wait_destination(dynamodb, table, "ACTIVE")
    assert dests == [{"StreamArn": arn, "DestinationStatus": "ACTIVE"}]


def test_change_records(dynamodb, kinesis):
    table, stream = unique("dt"), unique("ds")
    create_table(dynamodb, table, ("pk", "S"), ("sk", "N"))
    create_stream(kinesis, stream, 2)
    # Written before enabling: not streamed.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "before"}, "sk": {"N": "0"}})
    dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(stream))
    wait_destination(dynamodb, table, "ACTIVE")

    t0 = now_ms()
    ka = {"pk": {"S": "A"}, "sk": {"N": "1"}}
    kb = {"pk": {"S": "B"}, "sk": {"N": "2"}}
    kc = [{"pk": {"S": f"C{i}"}, "sk": {"N": "3"}} for i in range(3)]
    kd = {"pk": {"S": "D"}, "sk": {"N": "4"}}
    a1 = {**ka, "v": {"N": "1"}, "s": {"S": "één ✓"}}
    a2 = {**ka, "v": {"N": "2"}, "blob": {"B": b"\x12\x02\x08\x7b"}}
    a3 = {**a2, "v": {"N": "3"}}
    dynamodb.put_item(TableName=table, Item=a1)  # INSERT
    dynamodb.put_item(TableName=table, Item=a2)  # MODIFY
    dynamodb.update_item(TableName=table, Key=ka, UpdateExpression="SET v = :v",
                         ExpressionAttributeValues={":v": {"N": "3"}})  # MODIFY
    dynamodb.update_item(TableName=table, Key=kb, UpdateExpression="SET w = :w",
                         ExpressionAttributeValues={":w": {"S": "new"}})  # INSERT
    dynamodb.delete_item(TableName=table, Key=ka)  # REMOVE
    dynamodb.delete_item(TableName=table, Key=ka)  # nothing: item missing
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName=table, Item={**kb, "w": {"S": "no"}},
                          ConditionExpression="attribute_not_exists(pk)")  # nothing: failed
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {**k, "c": {"BOOL": True}}}}
                                                    for k in kc]})  # 3 x INSERT
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {**kd, "t": {"L": [{"S": "x"}]}}}},  # INSERT
        {"Delete": {"TableName": table, "Key": kc[0]}},  # REMOVE
    ])
    t1 = now_ms()

    records = settle_and_collect(kinesis, stream, 10)
    names = sorted(r.name for r in records)
    assert len(records) == 10, f"expected 10 change records, got {len(records)}: {names}"
    for r in records:
        check_envelope(r, table, t0, t1)
        assert r.obj["userIdentity"] is None
    assert len({r.obj["eventID"] for r in records}) == 10

    groups = by_item(records)
    key = lambda k: tuple(sorted((n, json.dumps(v, sort_keys=True)) for n, v in k.items()))  # noqa: E731
    assert key({"pk": {"S": "before"}, "sk": {"N": "0"}}) not in groups
    assert [r.name for r in groups[key(ka)]] == ["INSERT", "MODIFY", "MODIFY", "REMOVE"]
    assert [r.name for r in groups[key(kb)]] == ["INSERT"]
    assert [r.name for r in groups[key(kc[0])]] == ["INSERT", "REMOVE"]
    assert [r.name for r in groups[key(kc[1])]] == ["INSERT"]
    assert [r.name for r in groups[key(kd)]] == ["INSERT"]
    # Distinct items get distinct partition keys.
    assert len({rs[0].partition_key for rs in groups.values()}) == len(groups)

    ins, mod1, mod2, rem = groups[key(ka)]
    assert ins.ddb["Keys"] == ka
    assert norm(ins.ddb["NewImage"]) == norm(record_image(a1))
    assert norm(mod1.ddb["OldImage"]) == norm(record_image(a1))
    assert norm(mod1.ddb["NewImage"]) == norm(record_image(a2))
    # Binary values are base64 of the base64 (aws-behaviour.md §1.4).
    assert mod1.ddb["NewImage"]["blob"] == {"B": "RWdJSWV3PT0="}
    assert norm(mod2.ddb["OldImage"]) == norm(record_image(a2))
    assert norm(mod2.ddb["NewImage"]) == norm(record_image(a3))
    assert norm(rem.ddb["OldImage"]) == norm(record_image(a3))
    assert norm(groups[key(kb)][0].ddb["NewImage"]) == norm(record_image({**kb, "w": {"S": "new"}}))
    # Timestamps don't go backwards along one item's records.
    ts = [r.ddb["ApproximateCreationDateTime"] for r in groups[key(ka)]]
    assert ts == sorted(ts)


def test_record_bytes_for_reference_items(dynamodb, kinesis):
    """The reference's worked examples: SizeBytes 65 (every type) and 119 (Music)."""
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    t0 = now_ms()
    dynamodb.put_item(TableName=table, Item=KITCHEN)
    t1 = now_ms()
    (rec,) = collect(kinesis, stream, 1)
    check_envelope(rec, table, t0, t1)
    assert rec.ddb["SizeBytes"] == 65
    assert rec.ddb["Keys"] == {"pk": {"S": "k"}, "sk": {"N": "-12.5"}}
    img = rec.ddb["NewImage"]
    assert sorted(img["bins"]["BS"]) == sorted(["QUFFPQ==", "L3c9PQ=="])
    assert img["m"] == {"M": {"x": {"S": "y"}, "l": {"L": [{"N": "0"}, {"S": "é"}]}}}
    assert "é".encode() in rec.data, "non-ASCII characters are raw UTF-8, not \\u escapes"

    music_table, music_stream = unique("Music"), unique("ds")
    create_table(dynamodb, music_table, ("Artist", "S"), ("SongTitle", "S"))
    create_stream(kinesis, music_stream, 1)
    dynamodb.enable_kinesis_streaming_destination(TableName=music_table, StreamArn=stream_arn(music_stream))
    wait_destination(dynamodb, music_table, "ACTIVE")
    dynamodb.put_item(TableName=music_table, Item={
        "Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"},
        "AlbumTitle": {"S": "Somewhat Famous"}, "Awards": {"N": "1"}})
    (rec,) = collect(kinesis, music_stream, 1)
    assert rec.ddb["SizeBytes"] == 119


def test_records_spread_over_shards(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=2)
    dynamodb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {"pk": {"S": f"item-{i}"}, "sk": {"N": str(i)}}}} for i in range(20)]})
    records = collect(kinesis, stream, 20)
    assert len(records) == 20
    shards = {r.shard for r in records}
    assert len(shards) == 2, "partition keys derived from item keys spread items over both shards"


def test_update_precision_to_microseconds(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    arn = stream_arn(stream)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "ms"}, "sk": {"N": "1"}})
    resp = dynamodb.update_kinesis_streaming_destination(
        TableName=table, StreamArn=arn,
        UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
    )
    assert resp["DestinationStatus"] == "UPDATING"
    assert resp["TableName"] == table and resp["StreamArn"] == arn
    assert resp["UpdateKinesisStreamingConfiguration"] == {"ApproximateCreationDateTimePrecision": "MICROSECOND"}
    dests = wait_destination(dynamodb, table, "ACTIVE")
    assert dests[0]["ApproximateCreationDateTimePrecision"] == "MICROSECOND"

    t0 = now_ms()
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "us"}, "sk": {"N": "2"}})
    t1 = now_ms()
    records = sorted(collect(kinesis, stream, 2), key=lambda r: r.seq)
    assert len(records) == 2
    check_envelope(records[0], table, t0 - 60_000, t1, micro=False)
    check_envelope(records[1], table, t0, t1, micro=True)

    with pytest.raises(ClientError) as e:
        dynamodb.update_kinesis_streaming_destination(
            TableName=table, StreamArn=arn,
            UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
        )
    assert error_code(e) == "ValidationException"
    assert "already set" in e.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as e:
        dynamodb.update_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert error_code(e) == "ValidationException"
    assert "UpdateKinesisStreamingConfiguration cannot be null" in e.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as e:
        dynamodb.update_kinesis_streaming_destination(
            TableName=table, StreamArn=arn,
            UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "SECOND"},
        )
    assert error_code(e) == "ValidationException"

    other = unique("ds")
    create_stream(kinesis, other, 1)
    with pytest.raises(ClientError) as e:
        dynamodb.update_kinesis_streaming_destination(
            TableName=table, StreamArn=stream_arn(other),
            UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MILLISECOND"},
        )
    assert error_code(e) == "ValidationException"


def test_enable_with_microsecond_precision(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=1, precision="MICROSECOND")
    t0 = now_ms()
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "x"}, "sk": {"N": "1"}})
    t1 = now_ms()
    (rec,) = collect(kinesis, stream, 1)
    check_envelope(rec, table, t0, t1, micro=True)


def test_disable_and_reenable(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    arn = stream_arn(stream)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "on"}, "sk": {"N": "1"}})
    collect(kinesis, stream, 1)
    resp = dynamodb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert resp["DestinationStatus"] == "DISABLING"
    assert resp["TableName"] == table and resp["StreamArn"] == arn
    wait_destination(dynamodb, table, "DISABLED")

    dynamodb.put_item(TableName=table, Item={"pk": {"S": "off"}, "sk": {"N": "2"}})
    time.sleep(1.5)
    recs = [Rec(s, r) for s, rs in read_stream(kinesis, stream).items() for r in rs]
    assert [r.ddb["Keys"]["pk"]["S"] for r in recs] == ["on"], "no records while disabled"

    with pytest.raises(ClientError) as e:
        dynamodb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert error_code(e) == "ValidationException"

    # Re-enable from DISABLED; only later changes are streamed.
    resp = dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert resp["DestinationStatus"] == "ENABLING"
    wait_destination(dynamodb, table, "ACTIVE")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "again"}, "sk": {"N": "3"}})
    recs = collect(kinesis, stream, 2)
    assert sorted(r.ddb["Keys"]["pk"]["S"] for r in recs) == ["again", "on"]
    # Disabling leaves the table and the stream in place.
    dynamodb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    wait_destination(dynamodb, table, "DISABLED")
    dynamodb.describe_table(TableName=table)
    kinesis.describe_stream_summary(StreamName=stream)


def test_enable_errors(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    arn = stream_arn(stream)
    # Enable again while ACTIVE.
    with pytest.raises(ClientError) as e:
        dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert error_code(e) == "ValidationException"
    # A second stream while one is ACTIVE.
    other = unique("ds")
    create_stream(kinesis, other, 1)
    with pytest.raises(ClientError) as e:
        dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(other))
    assert error_code(e) == "ValidationException"
    # Missing table.
    missing = unique("missing")
    for call in (
        lambda: dynamodb.enable_kinesis_streaming_destination(TableName=missing, StreamArn=arn),
        lambda: dynamodb.disable_kinesis_streaming_destination(TableName=missing, StreamArn=arn),
        lambda: dynamodb.describe_kinesis_streaming_destination(TableName=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        dynamodb.enable_kinesis_streaming_destination(TableName=missing, StreamArn=arn)
    assert e.value.response["Error"]["Message"] == f"Requested resource not found: Table: {missing} not found"


def test_enable_with_missing_stream_fails(dynamodb):
    table = unique("dt")
    create_table(dynamodb, table)
    arn = stream_arn(unique("no-such-stream"))
    try:
        resp = dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException")
        return
    # Accepted: then it must end in ENABLE_FAILED, never ACTIVE.
    assert resp["DestinationStatus"] == "ENABLING"
    wait_destination(dynamodb, table, "ENABLE_FAILED")


def test_table_arn_as_table_name(dynamodb, kinesis):
    table, stream = unique("dt"), unique("ds")
    create_table(dynamodb, table, ("pk", "S"), ("sk", "N"))
    create_stream(kinesis, stream, 1)
    resp = dynamodb.enable_kinesis_streaming_destination(TableName=table_arn(table), StreamArn=stream_arn(stream))
    assert resp["TableName"] == table
    wait_destination(dynamodb, table, "ACTIVE")
    resp = dynamodb.describe_kinesis_streaming_destination(TableName=table_arn(table))
    assert resp["TableName"] == table


def test_ttl_delete_record(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    dynamodb.update_time_to_live(TableName=table,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    item = {"pk": {"S": "ttl"}, "sk": {"N": "1"}, "exp": {"N": str(int(time.time()) - 10)}}
    t0 = now_ms()
    dynamodb.put_item(TableName=table, Item=item)
    records = sorted(collect(kinesis, stream, 2, timeout=20), key=lambda r: r.seq)
    t1 = now_ms()
    assert [r.name for r in records] == ["INSERT", "REMOVE"]
    ins, rem = records
    assert ins.obj["userIdentity"] is None
    assert rem.obj["userIdentity"] == TTL_IDENTITY
    check_envelope(rem, table, t0, t1)
    assert norm(rem.ddb["OldImage"]) == norm(record_image(item))


def test_per_item_order_under_many_updates(dynamodb, kinesis):
    table, stream = setup_pair(dynamodb, kinesis, shards=2)
    key = {"pk": {"S": "counter"}, "sk": {"N": "0"}}
    for _ in range(60):
        dynamodb.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one",
                             ExpressionAttributeValues={":one": {"N": "1"}})
    records = collect(kinesis, stream, 60)
    assert len(records) == 60
    (rs,) = by_item(records).values()
    assert [r.name for r in rs] == ["INSERT"] + ["MODIFY"] * 59
    assert [int(r.ddb["NewImage"]["n"]["N"]) for r in rs] == list(range(1, 61))
    assert [int(r.ddb["OldImage"]["n"]["N"]) for r in rs[1:]] == list(range(1, 60))


def test_records_follow_resharding(dynamodb, kinesis):
    """After the destination stream is split, an item's later changes go to the child
    shard covering its partition key, after the parent's records."""
    table, stream = setup_pair(dynamodb, kinesis, shards=1)
    key = {"pk": {"S": "moving"}, "sk": {"N": "1"}}
    dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "1"}})
    (first,) = collect(kinesis, stream, 1)
    kinesis.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    from helpers import wait_stream_active

    wait_stream_active(kinesis, stream)
    dynamodb.put_item(TableName=table, Item={**key, "v": {"N": "2"}})
    records = collect(kinesis, stream, 2)
    second = [r for r in records if r.name == "MODIFY"]
    assert len(second) == 1
    second = second[0]
    assert second.partition_key == first.partition_key
    h = int.from_bytes(__import__("hashlib").md5(first.partition_key.encode()).digest(), "big")
    expected_shard = "shardId-000000000001" if h < 2**127 else "shardId-000000000002"
    assert second.shard == expected_shard
    assert first.shard == "shardId-000000000000"


def test_concurrent_writes_all_delivered(server, dynamodb, kinesis):
    import threading

    table, stream = setup_pair(dynamodb, kinesis, shards=2)
    errors = []

    def worker(w):
        c = server.client("dynamodb")
        try:
            for i in range(25):
                c.put_item(TableName=table, Item={"pk": {"S": f"w{w}-{i}"}, "sk": {"N": str(i)}})
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    records = settle_and_collect(kinesis, stream, 100, timeout=15)
    keys = sorted(r.ddb["Keys"]["pk"]["S"] for r in records)
    assert keys == sorted(f"w{w}-{i}" for w in range(4) for i in range(25)), "exactly once each"
