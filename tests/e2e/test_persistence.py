"""Restart persistence: stop `eddy serve` with SIGTERM/SIGINT (exit 0) and start it
again on the same --data directory."""

import json
import signal

import pytest

from helpers import (
    EddyServer,
    create_stream,
    create_table,
    poll_stream_records,
    read_stream,
    stream_arn,
    unique,
    wait_until,
)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def records_flat(by_shard):
    return sorted(
        ((shard, r["SequenceNumber"], r["PartitionKey"], r["Data"]) for shard, recs in by_shard.items() for r in recs),
        key=lambda x: (x[0], int(x[1])),
    )


def test_restart_keeps_tables_items_streams_and_destinations(data_dir):
    table, stream, dest_stream = unique("pt"), unique("ps"), unique("pd")
    srv = EddyServer(data_dir).start()
    try:
        ddb, kin = srv.client("dynamodb"), srv.client("kinesis")
        create_table(
            ddb, table, ("pk", "S"), ("sk", "N"), extra_attrs=[("g", "S")],
            gsis=[{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                   "Projection": {"ProjectionType": "ALL"}}],
        )
        ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
        ddb.tag_resource(ResourceArn=f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}",
                         Tags=[{"Key": "k", "Value": "v"}])
        for i in range(20):
            ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "g": {"S": f"g{i % 2}"},
                                                "b": {"B": bytes([i])}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "0"}})

        create_stream(kin, stream, 2)
        kin.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
        kin.put_records(StreamName=stream, Records=[{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"}
                                                    for i in range(30)])
        before_records = records_flat(read_stream(kin, stream))
        assert len(before_records) == 30

        create_stream(kin, dest_stream, 1)
        ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(dest_stream))
        wait_until(lambda: ddb.describe_kinesis_streaming_destination(TableName=table)[
            "KinesisDataStreamDestinations"][0]["DestinationStatus"] == "ACTIVE", 15, 0.1, "destination ACTIVE")
        ddb.put_item(TableName=table, Item={"pk": {"S": "q"}, "sk": {"N": "1"}, "g": {"S": "g9"}})
        poll_stream_records(kin, dest_stream, 1)
    finally:
        code = srv.stop(signal.SIGTERM)
    assert code == 0, f"eddy serve exited {code} on SIGTERM\n{srv.stderr()}"

    srv2 = EddyServer(data_dir).start()
    try:
        ddb, kin = srv2.client("dynamodb"), srv2.client("kinesis")
        t = ddb.describe_table(TableName=table)["Table"]
        assert t["TableStatus"] == "ACTIVE"
        assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["by_g"]
        assert t["ItemCount"] == 20
        items = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
        assert [int(i["sk"]["N"]) for i in items] == list(range(1, 20))
        assert items[0]["b"] == {"B": bytes([1])}
        g1 = ddb.query(TableName=table, IndexName="by_g", KeyConditionExpression="g = :g",
                       ExpressionAttributeValues={":g": {"S": "g1"}})["Items"]
        assert sorted(int(i["sk"]["N"]) for i in g1) == list(range(1, 20, 2))
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "exp"
        tags = ddb.list_tags_of_resource(ResourceArn=f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}")
        assert tags["Tags"] == [{"Key": "k", "Value": "v"}]

        s = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert s["StreamStatus"] == "ACTIVE" and s["OpenShardCount"] == 2 and s["RetentionPeriodHours"] == 48
        assert records_flat(read_stream(kin, stream)) == before_records
        # New records continue after the old ones.
        r = kin.put_record(StreamName=stream, Data=b"after-restart", PartitionKey="k0")
        olds = [int(x[1]) for x in before_records if x[0] == r["ShardId"]]
        assert int(r["SequenceNumber"]) > max(olds)

        dests = ddb.describe_kinesis_streaming_destination(TableName=table)["KinesisDataStreamDestinations"]
        assert dests[0]["DestinationStatus"] == "ACTIVE"
        assert dests[0]["StreamArn"] == stream_arn(dest_stream)
        ddb.put_item(TableName=table, Item={"pk": {"S": "q"}, "sk": {"N": "2"}})
        recs = poll_stream_records(kin, dest_stream, 2)
        objs = [json.loads(r["Data"]) for rs in recs.values() for r in rs]
        assert sorted(o["dynamodb"]["Keys"]["sk"]["N"] for o in objs) == ["1", "2"]
        assert all(o["eventName"] == "INSERT" for o in objs)
    finally:
        code = srv2.stop(signal.SIGINT)
        srv2.cleanup()
    assert code == 0, f"eddy serve exited {code} on SIGINT"


def test_no_records_lost_or_duplicated_across_restart(data_dir):
    """Destination records committed before a stop are delivered exactly once after it."""
    table, stream = unique("pt"), unique("ps")
    srv = EddyServer(data_dir).start()
    try:
        ddb, kin = srv.client("dynamodb"), srv.client("kinesis")
        create_table(ddb, table)
        create_stream(kin, stream, 1)
        ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(stream))
        wait_until(lambda: ddb.describe_kinesis_streaming_destination(TableName=table)[
            "KinesisDataStreamDestinations"][0]["DestinationStatus"] == "ACTIVE", 15, 0.1, "destination ACTIVE")
        for i in range(50):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"i{i}"}})
    finally:
        code = srv.stop(signal.SIGTERM)
    assert code == 0, srv.stderr()

    srv2 = EddyServer(data_dir).start()
    try:
        kin = srv2.client("kinesis")
        recs = poll_stream_records(kin, stream, 50, timeout=15)
        keys = [json.loads(r["Data"])["dynamodb"]["Keys"]["pk"]["S"] for rs in recs.values() for r in rs]
        assert sorted(keys) == sorted(f"i{i}" for i in range(50)), "each change delivered exactly once"
    finally:
        srv2.stop()
        srv2.cleanup()
        srv.cleanup()


def test_sigterm_exits_zero_while_idle(data_dir):
    srv = EddyServer(data_dir).start()
    try:
        srv.client("dynamodb").list_tables()
    finally:
        code = srv.stop(signal.SIGTERM, timeout=10)
        srv.cleanup()
    assert code == 0


def test_sigkill_keeps_acknowledged_writes(data_dir):
    """--durability sync (the default): every acknowledged write survives a SIGKILL,
    and destination records of acknowledged writes are delivered after the restart."""
    table, stream, dest = unique("pk9"), unique("ps9"), unique("pd9")
    srv = EddyServer(data_dir).start()
    try:
        ddb, kin = srv.client("dynamodb"), srv.client("kinesis")
        create_table(ddb, table)
        create_stream(kin, stream, 1)
        create_stream(kin, dest, 1)
        ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=stream_arn(dest))
        wait_until(lambda: ddb.describe_kinesis_streaming_destination(TableName=table)[
            "KinesisDataStreamDestinations"][0]["DestinationStatus"] == "ACTIVE", 15, 0.1, "destination ACTIVE")
        seqs = []
        for i in range(100):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "i": {"N": str(i)}})
            seqs.append(kin.put_record(StreamName=stream, Data=str(i).encode(), PartitionKey="p")["SequenceNumber"])
    finally:
        srv.stop(signal.SIGKILL)

    srv2 = EddyServer(data_dir).start()
    try:
        ddb, kin = srv2.client("dynamodb"), srv2.client("kinesis")
        n = 0
        for i in range(100):
            item = ddb.get_item(TableName=table, Key={"pk": {"S": f"k{i}"}}, ConsistentRead=True).get("Item")
            assert item == {"pk": {"S": f"k{i}"}, "i": {"N": str(i)}}, f"acknowledged item k{i} lost"
            n += 1
        recs = read_stream(kin, stream)["shardId-000000000000"]
        assert [r["SequenceNumber"] for r in recs] == seqs, "acknowledged Kinesis records lost"
        assert [r["Data"] for r in recs] == [str(i).encode() for i in range(100)]
        delivered = poll_stream_records(kin, dest, 100, timeout=15)
        keys = [json.loads(r["Data"])["dynamodb"]["Keys"]["pk"]["S"] for rs in delivered.values() for r in rs]
        assert set(keys) == {f"k{i}" for i in range(100)}
    finally:
        code = srv2.stop()
        srv2.cleanup()
        srv.cleanup()
    assert code == 0


def test_resharded_stream_and_consumers_survive_restart(data_dir):
    stream = unique("pr")
    srv = EddyServer(data_dir).start()
    try:
        kin = srv.client("kinesis")
        create_stream(kin, stream, 2)
        kin.put_records(StreamName=stream, Records=[{"Data": b"x", "PartitionKey": str(i)} for i in range(10)])
        kin.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
        from helpers import wait_stream_active

        wait_stream_active(kin, stream)
        kin.add_tags_to_stream(StreamName=stream, Tags={"a": "b"})
        consumer = kin.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="keep")["Consumer"]
        before_shards = kin.list_shards(StreamName=stream)["Shards"]
    finally:
        assert srv.stop() == 0
    srv2 = EddyServer(data_dir).start()
    try:
        kin = srv2.client("kinesis")
        assert kin.list_shards(StreamName=stream)["Shards"] == before_shards
        assert kin.list_tags_for_stream(StreamName=stream)["Tags"] == [{"Key": "a", "Value": "b"}]
        d = kin.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
        assert d["ConsumerName"] == "keep"
        r = kin.put_record(StreamName=stream, Data=b"y", PartitionKey="z", ExplicitHashKey="0")
        assert r["ShardId"] == "shardId-000000000002"
    finally:
        srv2.stop()
        srv2.cleanup()
        srv.cleanup()
