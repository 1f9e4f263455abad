"""Kinesis Data Streams API through boto3."""

import datetime
import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from helpers import (
    ACCOUNT,
    REGION,
    create_stream,
    error_code,
    list_all_shards,
    read_shard,
    stream_arn,
    unique,
    wait_stream_active,
    wait_until,
)

MAX_HASH = 2**128 - 1


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def shard_for(shards, h: int) -> str:
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]) and "EndingSequenceNumber" not in s[
            "SequenceNumberRange"
        ]:
            return s["ShardId"]
    raise AssertionError(f"no open shard covers {h}")


def test_create_and_describe_stream(kinesis, stream_name):
    before = datetime.datetime.now(datetime.timezone.utc)
    resp = kinesis.create_stream(StreamName=stream_name, ShardCount=3)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    wait_stream_active(kinesis, stream_name)
    d = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
    assert d["StreamName"] == stream_name
    assert d["StreamARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream_name}"
    assert d["StreamStatus"] == "ACTIVE"
    assert d["RetentionPeriodHours"] == 24
    assert d["HasMoreShards"] is False
    assert d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert isinstance(d["EnhancedMonitoring"], list)
    assert abs((d["StreamCreationTimestamp"] - before).total_seconds()) < 60
    shards = d["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    # The documented even split of the hash key space for three shards.
    assert [(s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]) for s in shards] == [
        ("0", "113427455640312821154458202477256070484"),
        ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
        ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455"),
    ]
    for s in shards:
        assert s["SequenceNumberRange"]["StartingSequenceNumber"].isdigit()
        assert "EndingSequenceNumber" not in s["SequenceNumberRange"]
        assert "ParentShardId" not in s


def test_stream_exists_waiter_and_paginators(kinesis, stream_name):
    kinesis.create_stream(StreamName=stream_name, ShardCount=3)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream_name, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    # (No list_shards paginator: botocore's resends StreamName with NextToken, which
    # Kinesis refuses.)
    names = [n for page in kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1})
             for n in page["StreamNames"]]
    assert stream_name in names and len(names) == len(set(names))
    kinesis.put_records(StreamName=stream_name,
                        Records=[{"Data": b"x", "PartitionKey": str(i)} for i in range(10)])
    kinesis.delete_stream(StreamName=stream_name)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=stream_name,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 20})


def test_describe_stream_summary(kinesis, stream_name):
    create_stream(kinesis, stream_name, 2)
    s = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert s["StreamName"] == stream_name
    assert s["StreamARN"] == stream_arn(stream_name)
    assert s["StreamStatus"] == "ACTIVE"
    assert s["OpenShardCount"] == 2
    assert s["RetentionPeriodHours"] == 24
    assert s["ConsumerCount"] == 0
    # By ARN as well.
    s2 = kinesis.describe_stream_summary(StreamARN=stream_arn(stream_name))["StreamDescriptionSummary"]
    assert s2["StreamName"] == stream_name


def test_describe_stream_shard_pagination(kinesis, stream_name):
    create_stream(kinesis, stream_name, 4)
    d = kinesis.describe_stream(StreamName=stream_name, Limit=3)["StreamDescription"]
    assert len(d["Shards"]) == 3 and d["HasMoreShards"] is True
    d = kinesis.describe_stream(
        StreamName=stream_name, Limit=3, ExclusiveStartShardId=d["Shards"][-1]["ShardId"]
    )["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == ["shardId-000000000003"]
    assert d["HasMoreShards"] is False


def test_create_duplicate_stream(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    assert error_code(e) == "ResourceInUseException"


def test_missing_stream(kinesis):
    name = unique("missing")
    for call in (
        lambda: kinesis.describe_stream(StreamName=name),
        lambda: kinesis.describe_stream_summary(StreamName=name),
        lambda: kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k"),
        lambda: kinesis.list_shards(StreamName=name),
        lambda: kinesis.delete_stream(StreamName=name),
        lambda: kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                           ShardIteratorType="TRIM_HORIZON"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "ResourceNotFoundException"
        assert name in e.value.response["Error"]["Message"]


def test_list_streams_pagination(kinesis):
    prefix = unique("ls")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for n in names:
        kinesis.create_stream(StreamName=n, ShardCount=1)
    for n in names:
        wait_stream_active(kinesis, n)
    seen, kw = [], {"Limit": 2}
    for _ in range(100):
        resp = kinesis.list_streams(**kw)
        assert len(resp["StreamNames"]) <= 2
        seen.extend(resp["StreamNames"])
        if "StreamSummaries" in resp:
            assert [s["StreamName"] for s in resp["StreamSummaries"]] == resp["StreamNames"]
            for s in resp["StreamSummaries"]:
                assert s["StreamARN"] == stream_arn(s["StreamName"])
        if not resp["HasMoreStreams"]:
            break
        kw = {"Limit": 2, "NextToken": resp["NextToken"]} if resp.get("NextToken") else {
            "Limit": 2, "ExclusiveStartStreamName": resp["StreamNames"][-1]}
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n.startswith(prefix)] == names
    # ExclusiveStartStreamName.
    resp = kinesis.list_streams(ExclusiveStartStreamName=names[2])
    assert [n for n in resp["StreamNames"] if n.startswith(prefix)] == names[3:]


def test_put_record_routes_by_md5_of_partition_key(kinesis, stream_name):
    create_stream(kinesis, stream_name, 4)
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    for i in range(20):
        pk = f"key-{i}"
        resp = kinesis.put_record(StreamName=stream_name, Data=f"d{i}".encode(), PartitionKey=pk)
        assert resp["ShardId"] == shard_for(shards, hash_key(pk)), pk
        assert resp["SequenceNumber"].isdigit()


def test_put_record_explicit_hash_key(kinesis, stream_name):
    create_stream(kinesis, stream_name, 2)
    r = kinesis.put_record(StreamName=stream_name, Data=b"lo", PartitionKey="x", ExplicitHashKey="0")
    assert r["ShardId"] == "shardId-000000000000"
    r = kinesis.put_record(StreamName=stream_name, Data=b"hi", PartitionKey="x", ExplicitHashKey=str(MAX_HASH))
    assert r["ShardId"] == "shardId-000000000001"
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=stream_name, Data=b"bad", PartitionKey="x", ExplicitHashKey=str(2**128))
    assert error_code(e) == "InvalidArgumentException"


def test_put_and_get_records_in_order(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    before = time.time()
    seqs = []
    payloads = [bytes([i]) * (i + 1) for i in range(10)] + [b"\x00\xff binary \x80", "é✓".encode()]
    for i, data in enumerate(payloads):
        r = kinesis.put_record(StreamName=stream_name, Data=data, PartitionKey=f"pk{i}")
        seqs.append(r["SequenceNumber"])
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs), "sequence numbers increase"
    assert len(set(seqs)) == len(seqs)

    it = kinesis.get_shard_iterator(
        StreamName=stream_name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it)
    recs = resp["Records"]
    assert [r["Data"] for r in recs] == payloads
    assert [r["SequenceNumber"] for r in recs] == seqs
    assert [r["PartitionKey"] for r in recs] == [f"pk{i}" for i in range(len(payloads))]
    for r in recs:
        ts = r["ApproximateArrivalTimestamp"].timestamp()
        assert before - 5 <= ts <= time.time() + 5
    assert resp["MillisBehindLatest"] == 0
    assert resp["NextShardIterator"]
    # Nothing more after the end; the iterator stays usable.
    resp2 = kinesis.get_records(ShardIterator=resp["NextShardIterator"])
    assert resp2["Records"] == []
    kinesis.put_record(StreamName=stream_name, Data=b"later", PartitionKey="z")
    resp3 = kinesis.get_records(ShardIterator=resp2["NextShardIterator"])
    assert [r["Data"] for r in resp3["Records"]] == [b"later"]


def test_get_records_limit(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    kinesis.put_records(
        StreamName=stream_name, Records=[{"Data": str(i).encode(), "PartitionKey": "p"} for i in range(10)]
    )
    it = kinesis.get_shard_iterator(
        StreamName=stream_name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    r1 = kinesis.get_records(ShardIterator=it, Limit=4)
    assert [x["Data"] for x in r1["Records"]] == [b"0", b"1", b"2", b"3"]
    assert r1["MillisBehindLatest"] >= 0
    r2 = kinesis.get_records(ShardIterator=r1["NextShardIterator"], Limit=100)
    assert [x["Data"] for x in r2["Records"]] == [str(i).encode() for i in range(4, 10)]


def test_shard_iterator_types(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    shard = "shardId-000000000000"
    seqs = [
        kinesis.put_record(StreamName=stream_name, Data=str(i).encode(), PartitionKey="p")["SequenceNumber"]
        for i in range(5)
    ]

    def data(**kw):
        return [r["Data"] for r in read_shard(kinesis, stream_name, shard, **kw)]

    assert data(iterator_type="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == [b"2", b"3", b"4"]
    assert data(iterator_type="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == [b"3", b"4"]
    assert data(iterator_type="LATEST") == []
    it = kinesis.get_shard_iterator(StreamName=stream_name, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    kinesis.put_record(StreamName=stream_name, Data=b"after-latest", PartitionKey="p")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"after-latest"]
    # AT_TIMESTAMP: a time in the past reads everything, a future-ish one nothing.
    assert data(iterator_type="AT_TIMESTAMP", Timestamp=datetime.datetime(2000, 1, 1)) == [
        b"0", b"1", b"2", b"3", b"4", b"after-latest"
    ]
    time.sleep(1.1)
    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.1)
    kinesis.put_record(StreamName=stream_name, Data=b"after-mark", PartitionKey="p")
    assert data(iterator_type="AT_TIMESTAMP", Timestamp=mark) == [b"after-mark"]


def test_shard_iterator_errors(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream_name, ShardId="shardId-000000000009",
                                   ShardIteratorType="TRIM_HORIZON")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream_name, ShardId="shardId-000000000000",
                                   ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream_name, ShardId="shardId-000000000000",
                                   ShardIteratorType="TRIM_HORIZON", StartingSequenceNumber="1")
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator="AAAAAAAAAAEnotavaliditerator")
    assert error_code(e) == "InvalidArgumentException"


def test_put_records(kinesis, stream_name):
    create_stream(kinesis, stream_name, 2)
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    records = [{"Data": f"rec-{i}".encode(), "PartitionKey": f"pk-{i}"} for i in range(50)]
    resp = kinesis.put_records(StreamName=stream_name, Records=records)
    assert resp.get("FailedRecordCount", 0) == 0
    assert len(resp["Records"]) == 50
    for i, r in enumerate(resp["Records"]):
        assert r["ShardId"] == shard_for(shards, hash_key(f"pk-{i}"))
        assert r["SequenceNumber"].isdigit()
        assert "ErrorCode" not in r
    got = {}
    for s in shards:
        for rec in read_shard(kinesis, stream_name, s["ShardId"]):
            got[rec["Data"]] = (s["ShardId"], rec["SequenceNumber"])
    assert set(got) == {r["Data"] for r in records}
    for i, r in enumerate(resp["Records"]):
        assert got[f"rec-{i}".encode()] == (r["ShardId"], r["SequenceNumber"])
    # By ARN as well.
    resp = kinesis.put_records(StreamARN=stream_arn(stream_name), Records=[{"Data": b"x", "PartitionKey": "y"}])
    assert resp.get("FailedRecordCount", 0) == 0


def test_put_records_limits(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    with pytest.raises(ClientError) as e:
        kinesis.put_records(StreamName=stream_name,
                            Records=[{"Data": b"x", "PartitionKey": "p"} for _ in range(501)])
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=stream_name, Data=b"x" * (1024 * 1024 + 1), PartitionKey="p")
    assert error_code(e) in ("ValidationException", "InvalidArgumentException")


def test_list_shards_pagination_and_filters(kinesis, stream_name):
    create_stream(kinesis, stream_name, 3)
    resp = kinesis.list_shards(StreamName=stream_name, MaxResults=2)
    assert [s["ShardId"] for s in resp["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    token = resp["NextToken"]
    resp = kinesis.list_shards(NextToken=token, MaxResults=2)
    assert [s["ShardId"] for s in resp["Shards"]] == ["shardId-000000000002"]
    assert "NextToken" not in resp
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=stream_name, NextToken=token)
    assert error_code(e) == "InvalidArgumentException"
    resp = kinesis.list_shards(StreamName=stream_name, ExclusiveStartShardId="shardId-000000000000")
    assert [s["ShardId"] for s in resp["Shards"]] == ["shardId-000000000001", "shardId-000000000002"]
    resp = kinesis.list_shards(
        StreamName=stream_name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000001"}
    )
    assert [s["ShardId"] for s in resp["Shards"]] == ["shardId-000000000002"]
    resp = kinesis.list_shards(StreamARN=stream_arn(stream_name), ShardFilter={"Type": "AT_LATEST"})
    assert len(resp["Shards"]) == 3


def test_retention_period(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=48)
    wait_stream_active(kinesis, stream_name)
    assert kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"][
        "RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=36)
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=72)
    assert error_code(e) == "InvalidArgumentException"
    kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=24)
    wait_stream_active(kinesis, stream_name)
    assert kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]["RetentionPeriodHours"] == 24
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=23)
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=8761)
    assert error_code(e) == "InvalidArgumentException"


def test_split_shard(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    before = kinesis.put_record(StreamName=stream_name, Data=b"before", PartitionKey="p")
    kinesis.split_shard(StreamName=stream_name, ShardToSplit="shardId-000000000000",
                        NewStartingHashKey=str(2**127))
    wait_stream_active(kinesis, stream_name)
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, stream_name)}
    assert set(shards) == {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
    parent = shards["shardId-000000000000"]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    c1, c2 = shards["shardId-000000000001"], shards["shardId-000000000002"]
    assert c1["ParentShardId"] == c2["ParentShardId"] == "shardId-000000000000"
    assert (c1["HashKeyRange"]["StartingHashKey"], c1["HashKeyRange"]["EndingHashKey"]) == ("0", str(2**127 - 1))
    assert (c2["HashKeyRange"]["StartingHashKey"], c2["HashKeyRange"]["EndingHashKey"]) == (str(2**127), str(MAX_HASH))
    assert kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["OpenShardCount"] == 2

    # New records go to the children.
    r = kinesis.put_record(StreamName=stream_name, Data=b"after", PartitionKey="p", ExplicitHashKey=str(2**127))
    assert r["ShardId"] == "shardId-000000000002"

    # The closed parent reads to its end: its records, then no NextShardIterator and ChildShards.
    it = kinesis.get_shard_iterator(StreamName=stream_name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got, child_shards = [], None
    for _ in range(20):
        resp = kinesis.get_records(ShardIterator=it)
        got.extend(resp["Records"])
        it = resp.get("NextShardIterator")
        if not it:
            child_shards = resp.get("ChildShards")
            break
    assert it is None, "a fully read closed shard has no NextShardIterator"
    assert [x["SequenceNumber"] for x in got] == [before["SequenceNumber"]]
    assert sorted(c["ShardId"] for c in child_shards) == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in child_shards)

    # AT_LATEST lists only the open shards.
    latest = kinesis.list_shards(StreamName=stream_name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert sorted(s["ShardId"] for s in latest) == ["shardId-000000000001", "shardId-000000000002"]

    # Splitting a closed shard fails ("has already been merged or split").
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=stream_name, ShardToSplit="shardId-000000000000",
                            NewStartingHashKey=str(2**126))
    assert error_code(e) == "ResourceInUseException"


def test_split_shard_bad_hash_key(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=stream_name, ShardToSplit="shardId-000000000000", NewStartingHashKey="0")
    assert error_code(e) == "InvalidArgumentException"


def test_merge_shards(kinesis, stream_name):
    create_stream(kinesis, stream_name, 3)
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName=stream_name, ShardToMerge="shardId-000000000000",
                             AdjacentShardToMerge="shardId-000000000002")
    assert error_code(e) == "InvalidArgumentException"
    kinesis.merge_shards(StreamName=stream_name, ShardToMerge="shardId-000000000000",
                         AdjacentShardToMerge="shardId-000000000001")
    wait_stream_active(kinesis, stream_name)
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, stream_name)}
    child = shards["shardId-000000000003"]
    assert child["ParentShardId"] == "shardId-000000000000"
    assert child["AdjacentParentShardId"] == "shardId-000000000001"
    assert child["HashKeyRange"]["StartingHashKey"] == "0"
    assert child["HashKeyRange"]["EndingHashKey"] == shards["shardId-000000000001"]["HashKeyRange"]["EndingHashKey"]
    for p in ("shardId-000000000000", "shardId-000000000001"):
        assert "EndingSequenceNumber" in shards[p]["SequenceNumberRange"]
    assert kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_update_shard_count(kinesis, stream_name):
    create_stream(kinesis, stream_name, 2)
    resp = kinesis.update_shard_count(StreamName=stream_name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert resp["CurrentShardCount"] == 2
    assert resp["TargetShardCount"] == 4
    assert resp["StreamName"] == stream_name
    wait_stream_active(kinesis, stream_name)
    s = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert s["OpenShardCount"] == 4
    open_shards = kinesis.list_shards(StreamName=stream_name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert len(open_shards) == 4
    # The open shards tile the hash key space exactly.
    ranges = sorted((int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"]))
                    for x in open_shards)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH
    for (a_lo, a_hi), (b_lo, b_hi) in zip(ranges, ranges[1:]):
        assert b_lo == a_hi + 1
    # Writes still work and land on open shards.
    r = kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey="after-scale")
    assert r["ShardId"] in {x["ShardId"] for x in open_shards}
    # Scale down again.
    kinesis.update_shard_count(StreamName=stream_name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    wait_stream_active(kinesis, stream_name)
    assert kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_update_shard_count_out_of_range(kinesis, stream_name):
    create_stream(kinesis, stream_name, 2)
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=stream_name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
    assert error_code(e) in ("InvalidArgumentException", "ValidationException", "LimitExceededException")


def test_stream_tags(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"env": "test", "team": "data"})
    resp = kinesis.list_tags_for_stream(StreamName=stream_name)
    assert sorted((t["Key"], t["Value"]) for t in resp["Tags"]) == [("env", "test"), ("team", "data")]
    assert resp["HasMoreTags"] is False
    kinesis.remove_tags_from_stream(StreamName=stream_name, TagKeys=["team"])
    resp = kinesis.list_tags_for_stream(StreamName=stream_name)
    assert [(t["Key"], t["Value"]) for t in resp["Tags"]] == [("env", "test")]


def test_create_stream_with_tags_and_on_demand(kinesis, stream_name):
    kinesis.create_stream(StreamName=stream_name, StreamModeDetails={"StreamMode": "ON_DEMAND"},
                          Tags={"k": "v"})
    s = wait_stream_active(kinesis, stream_name)
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] >= 1
    tags = kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"]
    assert tags == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=stream_name, TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    assert error_code(e) == "ValidationException"


def test_delete_stream(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey="p")
    kinesis.delete_stream(StreamName=stream_name)

    def gone():
        try:
            kinesis.describe_stream_summary(StreamName=stream_name)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    wait_until(gone, 15, 0.1, "stream deleted")
    assert stream_name not in kinesis.list_streams()["StreamNames"]
    # The name can be reused; the new stream is empty.
    create_stream(kinesis, stream_name, 1)
    assert read_shard(kinesis, stream_name, "shardId-000000000000") == []


def register_consumer(kinesis, stream_name, consumer):
    arn = stream_arn(stream_name)
    resp = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=consumer)
    c = resp["Consumer"]
    assert c["ConsumerName"] == consumer
    assert c["ConsumerARN"].startswith(f"{arn}/consumer/{consumer}:")
    assert c["ConsumerStatus"] in ("CREATING", "ACTIVE")
    assert isinstance(c["ConsumerCreationTimestamp"], datetime.datetime)

    def active():
        d = kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]
        return d if d["ConsumerStatus"] == "ACTIVE" else None

    wait_until(active, 15, 0.1, f"consumer {consumer} ACTIVE")
    return c["ConsumerARN"]


def test_stream_consumers(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    arn = stream_arn(stream_name)
    c1 = register_consumer(kinesis, stream_name, "app-one")
    c2 = register_consumer(kinesis, stream_name, "app-two")
    d = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app-one")["ConsumerDescription"]
    assert d["ConsumerARN"] == c1
    assert d["StreamARN"] == arn
    assert d["ConsumerStatus"] == "ACTIVE"
    consumers = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert sorted(c["ConsumerName"] for c in consumers) == ["app-one", "app-two"]
    assert kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["ConsumerCount"] == 2
    # Pagination.
    page = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=1)
    assert len(page["Consumers"]) == 1 and page["NextToken"]
    page2 = kinesis.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"], MaxResults=1)
    assert {page["Consumers"][0]["ConsumerName"], page2["Consumers"][0]["ConsumerName"]} == {"app-one", "app-two"}

    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app-one")
    assert error_code(e) == "ResourceInUseException"

    # A stream with consumers is not deleted without EnforceConsumerDeletion.
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName=stream_name)
    assert error_code(e) == "ResourceInUseException"

    kinesis.deregister_stream_consumer(ConsumerARN=c2)
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="app-one")

    def gone():
        return kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []

    wait_until(gone, 15, 0.1, "consumers deregistered")
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(ConsumerARN=c1)
    assert error_code(e) == "ResourceNotFoundException"


def test_delete_stream_enforce_consumer_deletion(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    register_consumer(kinesis, stream_name, "c")
    kinesis.delete_stream(StreamName=stream_name, EnforceConsumerDeletion=True)

    def gone():
        try:
            kinesis.describe_stream_summary(StreamName=stream_name)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    wait_until(gone, 15, 0.1, "stream deleted")


def first_event_with_records(event_stream, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    events = 0
    for event in event_stream:
        events += 1
        assert "SubscribeToShardEvent" in event, event
        ev = event["SubscribeToShardEvent"]
        assert ev["ContinuationSequenceNumber"].isdigit()
        assert ev["MillisBehindLatest"] >= 0
        if ev["Records"]:
            return ev
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no event with records within {deadline_s} s ({events} events)")


def test_subscribe_to_shard_trim_horizon(server, stream_name):
    kinesis = server.client("kinesis", read_timeout=15)
    create_stream(kinesis, stream_name, 1)
    put = kinesis.put_record(StreamName=stream_name, Data=b"before-subscribe", PartitionKey="p")
    consumer = register_consumer(kinesis, stream_name, "efo")
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
    )
    stream = resp["EventStream"]
    try:
        ev = first_event_with_records(stream)
        assert ev["Records"][0]["Data"] == b"before-subscribe"
        assert ev["Records"][0]["SequenceNumber"] == put["SequenceNumber"]
        assert ev["Records"][0]["PartitionKey"] == "p"
        assert isinstance(ev["Records"][0]["ApproximateArrivalTimestamp"], datetime.datetime)
    finally:
        stream.close()


def test_subscribe_to_shard_latest_then_put(server, stream_name):
    kinesis = server.client("kinesis", read_timeout=15)
    create_stream(kinesis, stream_name, 1)
    kinesis.put_record(StreamName=stream_name, Data=b"old", PartitionKey="p")
    consumer = register_consumer(kinesis, stream_name, "efo-latest")
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}
    )
    stream = resp["EventStream"]
    try:
        put = kinesis.put_record(StreamName=stream_name, Data=b"after-subscribe", PartitionKey="p")
        ev = first_event_with_records(stream)
        assert [r["Data"] for r in ev["Records"]] == [b"after-subscribe"]
        assert ev["Records"][0]["SequenceNumber"] == put["SequenceNumber"]
    finally:
        stream.close()


def test_subscribe_to_shard_twice_within_five_seconds(server, stream_name):
    kinesis = server.client("kinesis", read_timeout=15)
    create_stream(kinesis, stream_name, 1)
    kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey="p")
    consumer = register_consumer(kinesis, stream_name, "efo-twice")
    first = kinesis.subscribe_to_shard(
        ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
    )["EventStream"]
    try:
        first_event_with_records(first)
        with pytest.raises(ClientError) as e:
            second = kinesis.subscribe_to_shard(
                ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
            )["EventStream"]
            # The error may arrive as the first event of the stream.
            for _ in second:
                break
        assert error_code(e) == "ResourceInUseException"
    finally:
        first.close()


def test_subscribe_to_shard_errors(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    consumer = register_consumer(kinesis, stream_name, "efo-err")
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(
            ConsumerARN=consumer, ShardId="shardId-000000000042", StartingPosition={"Type": "LATEST"}
        )
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(
            ConsumerARN=consumer.replace("/consumer/efo-err:", "/consumer/nobody:"), ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}
        )
    assert error_code(e) == "ResourceNotFoundException"


def test_list_shards_shard_filters_after_split(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    time.sleep(1.2)
    t = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.2)
    kinesis.split_shard(StreamName=stream_name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    wait_stream_active(kinesis, stream_name)

    def ids(filt):
        return sorted(s["ShardId"] for s in kinesis.list_shards(StreamName=stream_name, ShardFilter=filt)["Shards"])

    parent, kids = ["shardId-000000000000"], ["shardId-000000000001", "shardId-000000000002"]
    assert ids({"Type": "AT_LATEST"}) == kids
    assert ids({"Type": "AT_TRIM_HORIZON"}) == parent
    assert ids({"Type": "FROM_TRIM_HORIZON"}) == parent + kids
    assert ids({"Type": "AT_TIMESTAMP", "Timestamp": t}) == parent
    assert ids({"Type": "FROM_TIMESTAMP", "Timestamp": t}) == parent + kids


def test_sequence_number_for_ordering(kinesis, stream_name):
    create_stream(kinesis, stream_name, 1)
    prev = None
    seqs = []
    for i in range(5):
        kw = {"SequenceNumberForOrdering": prev} if prev else {}
        r = kinesis.put_record(StreamName=stream_name, Data=str(i).encode(), PartitionKey="same", **kw)
        if prev:
            assert int(r["SequenceNumber"]) > int(prev)
        prev = r["SequenceNumber"]
        seqs.append(prev)
    assert [x["SequenceNumber"] for x in read_shard(kinesis, stream_name, "shardId-000000000000")] == seqs


def test_subscribe_continuation_and_resume(server, stream_name):
    kinesis = server.client("kinesis", read_timeout=15)
    create_stream(kinesis, stream_name, 1)
    seqs = [kinesis.put_record(StreamName=stream_name, Data=f"r{i}".encode(), PartitionKey="p")["SequenceNumber"]
            for i in range(3)]
    c1 = register_consumer(kinesis, stream_name, "resume-1")
    c2 = register_consumer(kinesis, stream_name, "resume-2")
    es = kinesis.subscribe_to_shard(ConsumerARN=c1, ShardId="shardId-000000000000",
                                    StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    got, cont = [], None
    try:
        deadline = time.monotonic() + 10
        for event in es:
            ev = event["SubscribeToShardEvent"]
            got.extend(ev["Records"])
            cont = ev["ContinuationSequenceNumber"]
            if len(got) >= 3 or time.monotonic() > deadline:
                break
    finally:
        es.close()
    assert [r["SequenceNumber"] for r in got] == seqs
    assert cont == seqs[-1] or int(cont) >= int(seqs[-1])
    es = kinesis.subscribe_to_shard(
        ConsumerARN=c2, ShardId="shardId-000000000000",
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seqs[0]},
    )["EventStream"]
    try:
        ev = first_event_with_records(es)
        assert [r["Data"] for r in ev["Records"]] == [b"r1", b"r2"]
    finally:
        es.close()

