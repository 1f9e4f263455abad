// Kinesis Data Streams through the AWS SDK for JavaScript v3 (JSON 1.1). The v3 Kinesis
// client sends every request over HTTP/2 (NodeHttp2Handler), so on an http:// endpoint
// all of this is h2c with prior knowledge.

import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";

import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

import { decodeUtf8, encodeUtf8, streamArn, unique, useServer } from "../lib/harness.js";
import { createStream, listAllShards, readShard } from "../lib/kinesis.js";

describe("Kinesis via the JS SDK v3", () => {
  const env = useServer({ before, after });
  let kinesis;
  const protocols = [];

  before(() => {
    kinesis = env.kinesis();
    // Records the transport of every response: with NodeHttp2Handler the raw body is an
    // Http2Stream whose session says which protocol was negotiated ("h2c" in cleartext).
    kinesis.middlewareStack.add((next) => async (args) => {
      const out = await next(args);
      const body = out.response?.body;
      protocols.push(body?.session ? `http2:${body.session.alpnProtocol}` : `other:${body?.constructor?.name}`);
      return out;
    }, { step: "deserialize", name: "recordTransport", priority: "low" });
  });

  describe("streams", () => {
    test("the default Kinesis request handler is HTTP/2", async () => {
      const handler = kinesis.config.requestHandler;
      assert.ok(handler instanceof NodeHttp2Handler, `handler is ${handler?.constructor?.name}`);
      assert.equal(handler.metadata.handlerProtocol, "h2");
      await kinesis.send(new ListStreamsCommand({}));
      assert.ok(protocols.length > 0);
      assert.deepEqual([...new Set(protocols)], ["http2:h2c"], "every Kinesis response came over h2c");
    });

    test("the server speaks h2c to a bare node:http2 client", async () => {
      const session = http2.connect(env.server.url);
      try {
        const { status, body } = await new Promise((resolve, reject) => {
          session.on("error", reject);
          const req = session.request({
            ":method": "POST",
            ":path": "/",
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "Kinesis_20131202.ListStreams",
            authorization: "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kinesis/aws4_request, " +
              "SignedHeaders=host;x-amz-date, Signature=00",
            "x-amz-date": "20250101T000000Z",
          });
          let status;
          const chunks = [];
          req.on("response", (h) => { status = h[":status"]; });
          req.on("data", (c) => chunks.push(c));
          req.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
          req.on("error", reject);
          req.end("{}");
        });
        assert.equal(status, 200, body);
        assert.ok(Array.isArray(JSON.parse(body).StreamNames), body);
      } finally {
        session.close();
      }
    });

    test("create a stream, describe it, list it", async () => {
      const name = unique("s");
      const summary = await createStream(kinesis, name, 2);
      assert.equal(summary.StreamName, name);
      assert.equal(summary.StreamARN, streamArn(name));
      assert.equal(summary.OpenShardCount, 2);
      assert.equal(summary.RetentionPeriodHours, 24);
      assert.ok(summary.StreamCreationTimestamp instanceof Date);

      const listed = await kinesis.send(new ListStreamsCommand({}));
      assert.ok(listed.StreamNames.includes(name));

      await assert.rejects(kinesis.send(new DescribeStreamSummaryCommand({ StreamName: unique("nope") })), (err) => {
        assert.equal(err.name, "ResourceNotFoundException");
        assert.ok(err instanceof ResourceNotFoundException);
        assert.equal(err.$metadata.httpStatusCode, 400);
        return true;
      });
      await assert.rejects(
        kinesis.send(new GetShardIteratorCommand({
          StreamName: unique("nope"), ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON",
        })),
        { name: "ResourceNotFoundException" },
      );
    });
  });

  describe("records", () => {
    let name;
    let shards;
    const sent = []; // {data, pk, shardId, seq}

    before(async () => {
      name = unique("rec");
      await createStream(kinesis, name, 2);
    });

    test("list shards: two open shards covering the hash key space", async () => {
      shards = await listAllShards(kinesis, name);
      assert.deepEqual(shards.map((s) => s.ShardId), ["shardId-000000000000", "shardId-000000000001"]);
      const ranges = shards.map((s) => [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)]);
      assert.equal(ranges[0][0], 0n);
      assert.equal(ranges[0][1] + 1n, ranges[1][0]);
      assert.equal(ranges[1][1], 2n ** 128n - 1n);
      for (const s of shards) {
        assert.ok(s.SequenceNumberRange.StartingSequenceNumber, "StartingSequenceNumber");
        assert.equal(s.SequenceNumberRange.EndingSequenceNumber, undefined, "open shard");
      }
      const page = await kinesis.send(new ListShardsCommand({
        StreamARN: streamArn(name), MaxResults: 1,
      }));
      assert.equal(page.Shards.length, 1);
      assert.ok(page.NextToken, "NextToken with MaxResults 1");
    });

    test("put record and put records", async () => {
      const one = await kinesis.send(new PutRecordCommand({
        StreamName: name, PartitionKey: "pk-single", Data: encodeUtf8("single ✓"),
      }));
      assert.match(one.SequenceNumber, /^\d+$/);
      assert.match(one.ShardId, /^shardId-00000000000[01]$/);
      sent.push({ data: "single ✓", pk: "pk-single", shardId: one.ShardId, seq: one.SequenceNumber });

      const entries = [];
      for (let i = 0; i < 20; i++) entries.push({ PartitionKey: `pk-${i}`, Data: encodeUtf8(`record ${i}`) });
      // One record routed explicitly to the top of the hash key space, i.e. the last shard.
      entries.push({ PartitionKey: "ignored", ExplicitHashKey: String(2n ** 128n - 1n), Data: new Uint8Array([0, 255, 1]) });
      const many = await kinesis.send(new PutRecordsCommand({ StreamARN: streamArn(name), Records: entries }));
      assert.equal(many.FailedRecordCount ?? 0, 0);
      assert.equal(many.Records.length, entries.length);
      many.Records.forEach((r, i) => {
        assert.match(r.SequenceNumber, /^\d+$/);
        sent.push({ data: i < 20 ? `record ${i}` : null, raw: entries[i].Data, pk: entries[i].PartitionKey, shardId: r.ShardId, seq: r.SequenceNumber });
      });
      assert.equal(many.Records.at(-1).ShardId, "shardId-000000000001");
      assert.equal(new Set(many.Records.map((r) => r.ShardId)).size, 2, "20 partition keys spread over both shards");
    });

    test("get shard iterator + get records return every record on its shard, in order", async () => {
      for (const shard of shards) {
        const expected = sent.filter((s) => s.shardId === shard.ShardId);
        const got = await readShard(kinesis, name, shard.ShardId);
        assert.deepEqual(got.map((r) => r.SequenceNumber), expected.map((s) => s.seq), `sequence numbers on ${shard.ShardId}`);
        got.forEach((r, i) => {
          const want = expected[i];
          assert.equal(r.PartitionKey, want.pk);
          if (want.data !== null) assert.equal(decodeUtf8(r.Data), want.data);
          else assert.deepEqual(Buffer.from(r.Data), Buffer.from(want.raw));
          assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
          assert.ok(Math.abs(r.ApproximateArrivalTimestamp.getTime() - Date.now()) < 120_000);
        });
        const seqs = got.map((r) => BigInt(r.SequenceNumber));
        assert.deepEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), seqs, "ascending sequence numbers");
      }
    });

    test("AT_ and AFTER_SEQUENCE_NUMBER, LATEST iterators", async () => {
      const shardId = sent[1].shardId;
      const onShard = sent.filter((s) => s.shardId === shardId);
      const pivot = onShard[1];
      const at = await readShard(kinesis, name, shardId, { ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: pivot.seq });
      assert.deepEqual(at.map((r) => r.SequenceNumber), onShard.slice(1).map((s) => s.seq));
      const afterIt = await readShard(kinesis, name, shardId, { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: pivot.seq });
      assert.deepEqual(afterIt.map((r) => r.SequenceNumber), onShard.slice(2).map((s) => s.seq));

      const latest = (await kinesis.send(new GetShardIteratorCommand({
        StreamName: name, ShardId: shardId, ShardIteratorType: "LATEST",
      }))).ShardIterator;
      const empty = await kinesis.send(new GetRecordsCommand({ ShardIterator: latest }));
      assert.deepEqual(empty.Records, []);
      assert.equal(empty.MillisBehindLatest, 0);
      assert.ok(empty.NextShardIterator);
      const put = await kinesis.send(new PutRecordCommand({
        StreamName: name, PartitionKey: "late", Data: encodeUtf8("late"),
        ExplicitHashKey: shardId.endsWith("1") ? String(2n ** 128n - 1n) : "0",
      }));
      assert.equal(put.ShardId, shardId);
      const next = await kinesis.send(new GetRecordsCommand({ ShardIterator: empty.NextShardIterator }));
      assert.deepEqual(next.Records.map((r) => decodeUtf8(r.Data)), ["late"]);
    });

    test("an explicit NodeHttp2Handler client reads the same records", async () => {
      const handler = new NodeHttp2Handler({ requestTimeout: 10_000, disableConcurrentStreams: false });
      const client = env.track(env.server.kinesis({ requestHandler: handler }));
      const seen = [];
      client.middlewareStack.add((next) => async (args) => {
        const out = await next(args);
        seen.push(out.response.body?.session?.alpnProtocol);
        return out;
      }, { step: "deserialize", name: "recordTransport2", priority: "low" });
      assert.equal(client.config.requestHandler, handler);
      for (const shard of shards) {
        const viaExplicit = await readShard(client, name, shard.ShardId);
        const viaDefault = await readShard(kinesis, name, shard.ShardId);
        assert.ok(viaExplicit.length > 0);
        assert.deepEqual(viaExplicit.map((r) => r.SequenceNumber), viaDefault.map((r) => r.SequenceNumber));
      }
      assert.ok(seen.length >= 2);
      assert.deepEqual([...new Set(seen)], ["h2c"]);
    });
  });
});
