// Enhanced fan-out: RegisterStreamConsumer + SubscribeToShard through the v3 Kinesis
// client, whose default NodeHttp2Handler carries the AWS event stream over HTTP/2
// (h2c with prior knowledge on an http:// endpoint).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  CreateTableCommand,
  DescribeKinesisStreamingDestinationCommand,
  EnableKinesisStreamingDestinationCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  ListStreamConsumersCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

import { decodeUtf8, encodeUtf8, streamArn, unique, useServer, waitUntil } from "../lib/harness.js";
import { createStream, listAllShards } from "../lib/kinesis.js";

describe("SubscribeToShard via the JS SDK v3", () => {
  const env = useServer({ before, after });
  let kinesis;
  const transports = []; // {op, protocol, httpVersion}

  function recordTransport(client, sink) {
    client.middlewareStack.add((next, context) => async (args) => {
      const out = await next(args);
      const body = out.response?.body;
      sink.push({ op: context.commandName, protocol: body?.session ? body.session.alpnProtocol : null });
      return out;
    }, { step: "deserialize", name: "recordTransport", priority: "low" });
  }

  before(() => {
    kinesis = env.kinesis();
    recordTransport(kinesis, transports);
  });

  async function registerConsumer(client, stream, name = unique("c")) {
    const arn = streamArn(stream);
    const reg = await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: name }));
    assert.equal(reg.Consumer.ConsumerName, name);
    assert.ok(["CREATING", "ACTIVE"].includes(reg.Consumer.ConsumerStatus));
    assert.ok(reg.Consumer.ConsumerARN.startsWith(`${arn}/consumer/${name}:`), reg.Consumer.ConsumerARN);
    await waitUntil(async () => {
      const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: reg.Consumer.ConsumerARN }));
      return d.ConsumerDescription.ConsumerStatus === "ACTIVE";
    }, { timeoutMs: 15_000, intervalMs: 100, what: `consumer ${name} ACTIVE` });
    return reg.Consumer.ConsumerARN;
  }

  /**
   * Subscribes and reads events until `done(records, events)` is true; returns
   * {records, events, response}. Fails after `timeoutMs`. `onSubscribed` runs once the
   * response (the subscription) is established.
   */
  async function subscribeUntil(client, params, done, { timeoutMs = 15_000, onSubscribed } = {}) {
    const abort = new AbortController();
    const records = [];
    const events = [];
    let response;
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      response = await client.send(new SubscribeToShardCommand(params), { abortSignal: abort.signal });
      assert.equal(response.$metadata.httpStatusCode, 200);
      if (onSubscribed) await onSubscribed();
      if (!done(records, events)) {
        for await (const ev of response.EventStream) {
          events.push(ev);
          if (ev.SubscribeToShardEvent) records.push(...ev.SubscribeToShardEvent.Records);
          if (done(records, events)) break;
        }
      }
    } catch (err) {
      if (abort.signal.aborted) {
        throw new Error(`SubscribeToShard ${JSON.stringify(params)}: condition not met within ${timeoutMs} ms; ` +
          `${events.length} events, records: ${JSON.stringify(records.map((r) => r.SequenceNumber))} (${err})`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    if (!done(records, events)) {
      throw new Error(`the event stream ended early after ${events.length} events: ${JSON.stringify(events)}`);
    }
    return { records, events, response };
  }

  describe("SubscribeToShard over HTTP/2", () => {
    test("register a consumer, subscribe at LATEST, put a record, receive it", async () => {
      const stream = unique("sub");
      await createStream(kinesis, stream, 1);
      const consumerArn = await registerConsumer(kinesis, stream);
      const listed = await kinesis.send(new ListStreamConsumersCommand({ StreamARN: streamArn(stream) }));
      assert.deepEqual(listed.Consumers.map((c) => c.ConsumerARN), [consumerArn]);

      let put;
      const { records, events } = await subscribeUntil(
        kinesis,
        { ConsumerARN: consumerArn, ShardId: "shardId-000000000000", StartingPosition: { Type: "LATEST" } },
        (recs) => recs.length >= 1,
        {
          onSubscribed: async () => {
            put = await kinesis.send(new PutRecordCommand({
              StreamName: stream, PartitionKey: "fan-out", Data: encodeUtf8("pushed over h2 ✓"),
            }));
          },
        },
      );
      assert.equal(records.length, 1);
      const [r] = records;
      assert.equal(decodeUtf8(r.Data), "pushed over h2 ✓");
      assert.equal(r.PartitionKey, "fan-out");
      assert.equal(r.SequenceNumber, put.SequenceNumber);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);

      const last = events.at(-1).SubscribeToShardEvent;
      assert.ok(last, `last event is a SubscribeToShardEvent: ${JSON.stringify(events.at(-1))}`);
      assert.match(last.ContinuationSequenceNumber, /^\d+$/);
      assert.ok(BigInt(last.ContinuationSequenceNumber) >= BigInt(put.SequenceNumber));
      assert.equal(typeof last.MillisBehindLatest, "number");

      // The SubscribeToShard response itself came over HTTP/2 (h2c), as did every other call.
      const sub = transports.filter((t) => t.op === "SubscribeToShardCommand");
      assert.ok(sub.length >= 1, JSON.stringify(transports));
      assert.deepEqual([...new Set(transports.map((t) => t.protocol))], ["h2c"], JSON.stringify(transports));
    });

    test("TRIM_HORIZON on every shard through an explicit NodeHttp2Handler", async () => {
      const client = env.track(env.server.kinesis({ requestHandler: new NodeHttp2Handler({ sessionTimeout: 30_000 }) }));
      const seen = [];
      recordTransport(client, seen);
      const stream = unique("subh");
      await createStream(client, stream, 2);
      const entries = [...Array(12).keys()].map((i) => ({ PartitionKey: `k${i}`, Data: encodeUtf8(`r${i}`) }));
      const put = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }));
      assert.equal(put.FailedRecordCount ?? 0, 0);
      const consumerArn = await registerConsumer(client, stream);

      const got = [];
      for (const shard of await listAllShards(client, stream)) {
        const want = put.Records.filter((r) => r.ShardId === shard.ShardId).map((r) => r.SequenceNumber);
        const { records } = await subscribeUntil(
          client,
          { ConsumerARN: consumerArn, ShardId: shard.ShardId, StartingPosition: { Type: "TRIM_HORIZON" } },
          (recs) => recs.length >= want.length,
        );
        assert.deepEqual(records.map((r) => r.SequenceNumber), want, `records of ${shard.ShardId} in order`);
        got.push(...records.map((r) => decodeUtf8(r.Data)));
      }
      assert.deepEqual(got.sort(), entries.map((e) => decodeUtf8(e.Data)).sort());
      assert.ok(seen.some((t) => t.op === "SubscribeToShardCommand"));
      assert.deepEqual([...new Set(seen.map((t) => t.protocol))], ["h2c"], JSON.stringify(seen));

      await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumerArn }));
      await waitUntil(async () => {
        const l = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn(stream) }));
        return (l.Consumers ?? []).length === 0;
      }, { timeoutMs: 15_000, intervalMs: 100, what: "consumer deregistered" });
    });

    test("AT_SEQUENCE_NUMBER and an unknown consumer", async () => {
      const stream = unique("suba");
      await createStream(kinesis, stream, 1);
      const seqs = [];
      for (let i = 0; i < 3; i++) {
        seqs.push((await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "p", Data: encodeUtf8(`n${i}`) }))).SequenceNumber);
      }
      const consumerArn = await registerConsumer(kinesis, stream);
      const { records } = await subscribeUntil(
        kinesis,
        { ConsumerARN: consumerArn, ShardId: "shardId-000000000000",
          StartingPosition: { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: seqs[1] } },
        (recs) => recs.length >= 2,
      );
      assert.deepEqual(records.map((r) => decodeUtf8(r.Data)), ["n1", "n2"]);

      await assert.rejects(
        kinesis.send(new SubscribeToShardCommand({
          ConsumerARN: `${streamArn(stream)}/consumer/nobody:1700000000`,
          ShardId: "shardId-000000000000",
          StartingPosition: { Type: "LATEST" },
        })),
        { name: "ResourceNotFoundException" },
      );
    });

    test("DynamoDB change records are pushed to a subscriber", async () => {
      const ddb = env.dynamodb();
      const table = unique("subt");
      const stream = unique("subd");
      await ddb.send(new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }));
      await createStream(kinesis, stream, 1);
      await ddb.send(new EnableKinesisStreamingDestinationCommand({ TableName: table, StreamArn: streamArn(stream) }));
      await waitUntil(async () => {
        const d = await ddb.send(new DescribeKinesisStreamingDestinationCommand({ TableName: table }));
        return d.KinesisDataStreamDestinations?.[0]?.DestinationStatus === "ACTIVE";
      }, { timeoutMs: 15_000, intervalMs: 100, what: "destination ACTIVE" });
      const consumerArn = await registerConsumer(kinesis, stream);
      const { records } = await subscribeUntil(
        kinesis,
        { ConsumerARN: consumerArn, ShardId: "shardId-000000000000", StartingPosition: { Type: "TRIM_HORIZON" } },
        (recs) => recs.length >= 2,
        {
          onSubscribed: async () => {
            // Written after the subscription is up, so the records are pushed, not replayed.
            await ddb.send(new PutItemCommand({ TableName: table, Item: { id: { S: "o1" }, total: { N: "12.50" } } }));
            await ddb.send(new PutItemCommand({ TableName: table, Item: { id: { S: "o1" }, total: { N: "13" } } }));
          },
        },
      );
      const changes = records.map((r) => JSON.parse(decodeUtf8(r.Data)));
      assert.deepEqual(changes.map((c) => c.eventName), ["INSERT", "MODIFY"]);
      assert.deepEqual(changes.map((c) => c.tableName), [table, table]);
      assert.deepEqual(changes[0].dynamodb.Keys, { id: { S: "o1" } });
      assert.deepEqual(changes[0].dynamodb.NewImage, { id: { S: "o1" }, total: { N: "12.5" } });
      assert.deepEqual(changes[1].dynamodb.OldImage, { id: { S: "o1" }, total: { N: "12.5" } });
      assert.deepEqual(changes[1].dynamodb.NewImage, { id: { S: "o1" }, total: { N: "13" } });
    });
  });
});
