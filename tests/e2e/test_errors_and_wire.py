"""The wire: raw HTTP requests (malformed bodies, unknown operations, missing
authentication), error bodies and headers, x-amz-crc32, and error codes seen by boto3."""

import json
import zlib

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import create_stream, create_table, error_code, unique

DDB_CT = "application/x-amz-json-1.0"
KIN_CT = "application/x-amz-json-1.1"
FAKE_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=0000000000000000000000000000000000000000000000000000000000000000"
)


def raw(server, target, body, service="dynamodb", content_type=None, auth=True):
    headers = {
        "X-Amz-Target": target,
        "Content-Type": content_type or (DDB_CT if service == "dynamodb" else KIN_CT),
        "X-Amz-Date": "20250101T000000Z",
    }
    if auth:
        headers["Authorization"] = FAKE_AUTH.format(service=service)
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server.url + "/", data=data, headers=headers, timeout=10)


def error_type(resp):
    return resp.json()["__type"].rsplit("#", 1)[-1]


def test_raw_list_tables_and_crc32(server):
    resp = raw(server, "DynamoDB_20120810.ListTables", {})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(DDB_CT)
    assert "TableNames" in resp.json()
    assert int(resp.headers["x-amz-crc32"]) == zlib.crc32(resp.content)
    assert resp.headers.get("x-amzn-RequestId")


def test_crc32_on_errors_too(server):
    resp = raw(server, "DynamoDB_20120810.DescribeTable", {"TableName": unique("missing")})
    assert resp.status_code == 400
    assert int(resp.headers["x-amz-crc32"]) == zlib.crc32(resp.content)


def test_dynamodb_error_body_is_namespaced(server):
    resp = raw(server, "DynamoDB_20120810.DescribeTable", {"TableName": unique("missing")})
    assert resp.status_code == 400
    body = resp.json()
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    assert body.get("message") or body.get("Message")
    assert resp.headers.get("x-amzn-RequestId")


def test_dynamodb_malformed_json_is_serialization_exception(server):
    resp = raw(server, "DynamoDB_20120810.ListTables", b"{not json")
    assert resp.status_code == 400
    assert error_type(resp) == "SerializationException"
    assert resp.json()["__type"] == "com.amazon.coral.service#SerializationException"


def test_dynamodb_wrong_member_type_is_serialization_exception(server):
    resp = raw(server, "DynamoDB_20120810.ListTables", {"Limit": "ten"})
    assert resp.status_code == 400
    assert error_type(resp) == "SerializationException"


def test_dynamodb_unknown_operation(server):
    resp = raw(server, "DynamoDB_20120810.MakeCoffee", {})
    assert resp.status_code == 400
    assert error_type(resp) == "UnknownOperationException"


def test_unknown_target_prefix(server):
    resp = raw(server, "Nonsense_20990101.ListTables", {})
    assert 400 <= resp.status_code < 500
    assert error_type(resp) == "UnknownOperationException"


def test_missing_authentication_token(server):
    resp = raw(server, "DynamoDB_20120810.ListTables", {}, auth=False)
    assert 400 <= resp.status_code < 500
    assert error_type(resp) == "MissingAuthenticationTokenException"
    resp = raw(server, "Kinesis_20131202.ListStreams", {}, service="kinesis", auth=False)
    assert 400 <= resp.status_code < 500
    assert error_type(resp) == "MissingAuthenticationTokenException"


def test_kinesis_raw_and_bare_error_names(server):
    resp = raw(server, "Kinesis_20131202.ListStreams", {}, service="kinesis")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(KIN_CT)
    assert "StreamNames" in resp.json()
    resp = raw(server, "Kinesis_20131202.DescribeStreamSummary", {"StreamName": unique("missing")},
               service="kinesis")
    assert resp.status_code == 400
    assert resp.json()["__type"] == "ResourceNotFoundException"
    assert "not found" in resp.json()["message"]


def test_kinesis_malformed_json(server):
    resp = raw(server, "Kinesis_20131202.ListStreams", b"[1, 2", service="kinesis")
    assert resp.status_code == 400
    assert error_type(resp) == "SerializationException"


def test_kinesis_unknown_operation(server):
    resp = raw(server, "Kinesis_20131202.MakeCoffee", {}, service="kinesis")
    assert resp.status_code == 400
    assert error_type(resp) == "UnknownOperationException"


def test_kinesis_missing_required_member(server):
    resp = raw(server, "Kinesis_20131202.CreateStream", {"ShardCount": 1}, service="kinesis")
    assert resp.status_code == 400
    assert error_type(resp) == "ValidationException"


def test_dynamodb_missing_required_member(server):
    resp = raw(server, "DynamoDB_20120810.GetItem", {"Key": {"pk": {"S": "a"}}})
    assert resp.status_code == 400
    assert error_type(resp) == "ValidationException"


def test_validation_exception_through_boto3(dynamodb):
    name = unique("wire")
    create_table(dynamodb, name)
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "bad": {"N": "not-a-number"}})
    assert error_code(e) == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "bad": {"N": "1e126"}})
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        dynamodb.list_tables(Limit=101)
    assert error_code(e) == "ValidationException"


def test_kinesis_errors_through_boto3(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName=unique("missing"))
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName="bad name!", ShardCount=1)
    assert error_code(e) in ("ValidationException", "InvalidArgumentException")


def test_many_requests_on_one_connection(server):
    """Keep-alive: a requests.Session reuses one connection for many calls."""
    s = requests.Session()
    for _ in range(50):
        resp = s.post(
            server.url + "/",
            data="{}",
            headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": DDB_CT,
                     "X-Amz-Date": "20250101T000000Z", "Authorization": FAKE_AUTH.format(service="dynamodb")},
            timeout=10,
        )
        assert resp.status_code == 200


def test_path_is_ignored(server):
    resp = requests.post(
        server.url + "/some/path",
        data="{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": DDB_CT,
                 "X-Amz-Date": "20250101T000000Z", "Authorization": FAKE_AUTH.format(service="dynamodb")},
        timeout=10,
    )
    assert resp.status_code == 200


def test_large_item_round_trip(dynamodb):
    name = unique("wire")
    create_table(dynamodb, name)
    big = "é" * 150_000  # 300 000 bytes of UTF-8
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "big"}, "v": {"S": big}})
    item = dynamodb.get_item(TableName=name, Key={"pk": {"S": "big"}})["Item"]
    assert item["v"]["S"] == big


def test_large_kinesis_record_round_trip(kinesis):
    name = unique("wire")
    create_stream(kinesis, name, 1)
    data = bytes(range(256)) * 4000  # ~1 MB
    kinesis.put_record(StreamName=name, Data=data, PartitionKey="p")
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"][0]["Data"] == data


# -- CBOR (what the Java SDKs, and so KCL, send to Kinesis) -----------------------------


def cbor_encode(v) -> bytes:
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
        raise ValueError(n)

    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    raise TypeError(type(v))


def cbor_decode(data: bytes):
    import struct

    pos = 0

    def read(n):
        nonlocal pos
        out = data[pos:pos + n]
        assert len(out) == n, "truncated CBOR"
        pos += n
        return out

    def arg(ai):
        if ai < 24:
            return ai
        if ai == 31:
            return None
        return int.from_bytes(read({24: 1, 25: 2, 26: 4, 27: 8}[ai]), "big")

    def item():
        ib = read(1)[0]
        major, ai = ib >> 5, ib & 31
        if major == 7:
            if ai == 20:
                return False
            if ai == 21:
                return True
            if ai in (22, 23):
                return None
            if ai == 25:
                return _half(read(2))
            if ai == 26:
                return struct.unpack(">f", read(4))[0]
            if ai == 27:
                return struct.unpack(">d", read(8))[0]
            if ai == 31:
                return StopIteration
            raise ValueError(ai)
        n = arg(ai)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if n is None:
                chunks = []
                while True:
                    c = item()
                    if c is StopIteration:
                        break
                    chunks.append(c)
                return (b"" if major == 2 else "").join(chunks)
            raw_bytes = read(n)
            return raw_bytes if major == 2 else raw_bytes.decode()
        if major == 4:
            out = []
            while n is None or len(out) < n:
                x = item()
                if x is StopIteration:
                    break
                out.append(x)
            return out
        if major == 5:
            out = {}
            while n is None or len(out) < n:
                k = item()
                if k is StopIteration:
                    break
                out[k] = item()
            return out
        if major == 6:
            return item()  # tag: value as is (timestamps: tag 1)
        raise ValueError(major)

    def _half(b):
        h = int.from_bytes(b, "big")
        exp, frac = (h >> 10) & 0x1F, h & 0x3FF
        val = frac * 2**-24 if exp == 0 else (frac + 1024) * 2 ** (exp - 25) if exp != 31 else float("inf")
        return -val if h & 0x8000 else val

    v = item()
    assert pos == len(data), "trailing bytes after CBOR item"
    return v


def test_kinesis_cbor_round_trip(server, kinesis):
    name = unique("cbor")
    create_stream(kinesis, name, 1)
    ct = "application/x-amz-cbor-1.1"
    resp = raw(server, "Kinesis_20131202.PutRecord",
               cbor_encode({"StreamName": name, "Data": b"\x00\x01cbor", "PartitionKey": "p"}),
               service="kinesis", content_type=ct)
    assert resp.status_code == 200, resp.content
    assert resp.headers["Content-Type"].startswith(ct)
    put = cbor_decode(resp.content)
    assert put["ShardId"] == "shardId-000000000000"

    resp = raw(server, "Kinesis_20131202.GetShardIterator",
               cbor_encode({"StreamName": name, "ShardId": "shardId-000000000000",
                            "ShardIteratorType": "TRIM_HORIZON"}),
               service="kinesis", content_type=ct)
    assert resp.status_code == 200, resp.content
    it = cbor_decode(resp.content)["ShardIterator"]
    resp = raw(server, "Kinesis_20131202.GetRecords", cbor_encode({"ShardIterator": it}),
               service="kinesis", content_type=ct)
    assert resp.status_code == 200, resp.content
    recs = cbor_decode(resp.content)["Records"]
    assert len(recs) == 1
    assert recs[0]["Data"] == b"\x00\x01cbor", "CBOR blobs are byte strings, not base64"
    assert recs[0]["SequenceNumber"] == put["SequenceNumber"]
    ts = recs[0]["ApproximateArrivalTimestamp"]
    assert isinstance(ts, (int, float)) and ts > 1_000_000_000_000, "CBOR timestamps are epoch millis"

    resp = raw(server, "Kinesis_20131202.DescribeStreamSummary", cbor_encode({"StreamName": unique("missing")}),
               service="kinesis", content_type=ct)
    assert resp.status_code == 400
    body = cbor_decode(resp.content)
    assert body["__type"] == "ResourceNotFoundException"


# -- HTTP/2 with prior knowledge (h2c), what the Java SDK's Netty client speaks ----------


def _hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _hpack_literal(name: str, value: str) -> bytes:
    # Literal header field without indexing, new name, no Huffman coding.
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def _frame(ftype, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def h2c_request(url, target, body: bytes, content_type):
    import socket
    import urllib.parse

    u = urllib.parse.urlparse(url)
    headers = [
        (":method", "POST"), (":scheme", "http"), (":path", "/"), (":authority", u.netloc),
        ("content-type", content_type), ("x-amz-target", target),
        ("x-amz-date", "20250101T000000Z"),
        ("authorization", FAKE_AUTH.format(service="dynamodb" if target.startswith("DynamoDB") else "kinesis")),
        ("content-length", str(len(body))),
    ]
    block = b"".join(_hpack_literal(k, v) for k, v in headers)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0)
                  + _frame(1, 0x4, 1, block) + _frame(0, 0x1, 1, body))
        buf, data, got_headers, settings_seen = b"", b"", False, False

        def read_exact(n):
            nonlocal buf
            while len(buf) < n:
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("connection closed by server")
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        for _ in range(100):
            head = read_exact(9)
            length, ftype, flags = int.from_bytes(head[:3], "big"), head[3], head[4]
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            payload = read_exact(length)
            if ftype == 4 and not flags & 0x1:
                settings_seen = True
                s.sendall(_frame(4, 0x1, 0))  # ACK
            elif ftype == 1 and stream == 1:
                got_headers = True
                if flags & 0x1:
                    break
            elif ftype == 0 and stream == 1:
                data += payload
                if flags & 0x1:
                    break
            elif ftype == 7:  # GOAWAY
                raise AssertionError(f"GOAWAY from server: {payload!r}")
            elif ftype == 3 and stream == 1:  # RST_STREAM
                raise AssertionError(f"RST_STREAM from server: {payload!r}")
        assert settings_seen, "the server's first frame is SETTINGS"
        assert got_headers
        return data


def test_h2c_prior_knowledge(server):
    body = h2c_request(server.url, "DynamoDB_20120810.ListTables", b"{}", DDB_CT)
    assert "TableNames" in json.loads(body)
    body = h2c_request(server.url, "Kinesis_20131202.DescribeStreamSummary",
                       json.dumps({"StreamName": unique("missing")}).encode(), KIN_CT)
    assert json.loads(body)["__type"] == "ResourceNotFoundException"


# -- AWS's exact error messages for the common cases ------------------------------------


def _check_messages(cases):
    """cases: [(description, call, (code, message))]; reports every mismatch at once."""
    wrong = []
    for what, call, expected in cases:
        try:
            call()
            got = ("<no error>", "")
        except ClientError as e:
            got = (e.response["Error"]["Code"], e.response["Error"]["Message"])
        if got != expected:
            wrong.append(f"{what}: expected {expected!r}, got {got!r}")
    assert not wrong, "\n".join(wrong)


def test_exact_dynamodb_error_messages(dynamodb):
    name = unique("msg")
    create_table(dynamodb, name)
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "e"})
    missing = unique("missing")
    k = {"pk": {"S": "same"}}
    _check_messages([
        ("DescribeTable missing", lambda: dynamodb.describe_table(TableName=missing),
         ("ResourceNotFoundException", f"Requested resource not found: Table: {missing} not found")),
        ("GetItem missing table", lambda: dynamodb.get_item(TableName=missing, Key={"pk": {"S": "a"}}),
         ("ResourceNotFoundException", "Requested resource not found")),
        ("PutItem missing table", lambda: dynamodb.put_item(TableName=missing, Item={"pk": {"S": "a"}}),
         ("ResourceNotFoundException", "Requested resource not found")),
        ("CreateTable duplicate", lambda: create_table(dynamodb, name, wait=False),
         ("ResourceInUseException", f"Table already exists: {name}")),
        ("GetItem wrong key", lambda: dynamodb.get_item(TableName=name, Key={"other": {"S": "a"}}),
         ("ValidationException", "The provided key element does not match the schema")),
        ("PutItem key type", lambda: dynamodb.put_item(TableName=name, Item={"pk": {"N": "1"}}),
         ("ValidationException",
          "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")),
        ("PutItem missing key", lambda: dynamodb.put_item(TableName=name, Item={"x": {"S": "1"}}),
         ("ValidationException", "One or more parameter values were invalid: Missing the key pk in the item")),
        ("Query without key condition", lambda: dynamodb.query(TableName=name),
         ("ValidationException",
          "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")),
        ("TransactWriteItems same item", lambda: dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": k}}, {"Delete": {"TableName": name, "Key": k}}]),
         ("ValidationException", "Transaction request cannot include multiple operations on one item")),
        ("UpdateTimeToLive twice", lambda: dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "e"}),
         ("ValidationException", "TimeToLive is already enabled")),
        ("PutItem condition fails", lambda: dynamodb.put_item(
            TableName=name, Item={"pk": {"S": "c"}}, ConditionExpression="attribute_exists(pk)"),
         ("ConditionalCheckFailedException", "The conditional request failed")),
    ])


def test_exact_kinesis_error_messages(kinesis):
    name = unique("msg")
    create_stream(kinesis, name, 1)
    missing = unique("missing")
    _check_messages([
        ("DescribeStream missing", lambda: kinesis.describe_stream(StreamName=missing),
         ("ResourceNotFoundException", f"Stream {missing} under account 000000000000 not found.")),
        ("CreateStream duplicate", lambda: kinesis.create_stream(StreamName=name, ShardCount=1),
         ("ResourceInUseException", f"Stream {name} under account 000000000000 already exists.")),
        ("GetShardIterator missing shard", lambda: kinesis.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000009", ShardIteratorType="LATEST"),
         ("ResourceNotFoundException",
          f"Shard shardId-000000000009 in stream {name} under account 000000000000 does not exist")),
    ])


def test_table_name_validation(dynamodb):
    for bad in ("ab", "bad name!", "x" * 256):
        with pytest.raises(ClientError) as e:
            dynamodb.create_table(
                TableName=bad,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        assert error_code(e) == "ValidationException", bad


def test_kinesis_operations_by_stream_arn(kinesis):
    from helpers import stream_arn

    name = unique("arn")
    create_stream(kinesis, name, 1)
    arn = stream_arn(name)
    r = kinesis.put_record(StreamARN=arn, Data=b"by-arn", PartitionKey="p")
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId=r["ShardId"], ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"]
    assert [x["Data"] for x in kinesis.get_records(ShardIterator=it, StreamARN=arn)["Records"]] == [b"by-arn"]
    assert kinesis.describe_stream(StreamARN=arn)["StreamDescription"]["StreamName"] == name
    assert [s["ShardId"] for s in kinesis.list_shards(StreamARN=arn)["Shards"]] == ["shardId-000000000000"]
    kinesis.delete_stream(StreamARN=arn)
