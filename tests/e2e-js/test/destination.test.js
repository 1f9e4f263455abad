// Kinesis Data Streams for DynamoDB: enable a streaming destination with the v3 DynamoDB
// client, write items, read the change records from every shard with the v3 Kinesis
// client (aws-behaviour.md §1).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeKinesisStreamingDestinationCommand,
  DisableKinesisStreamingDestinationCommand,
  EnableKinesisStreamingDestinationCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

import { decodeUtf8, REGION, streamArn, unique, useServer, waitUntil } from "../lib/harness.js";
import { createStream, pollStreamRecords, readStream } from "../lib/kinesis.js";

describe("streaming destination via the JS SDK v3", () => {
  const env = useServer({ before, after });
  let ddb;
  let kinesis;

  before(() => {
    ddb = env.dynamodb();
    kinesis = env.kinesis();
  });

  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const PARTITION_KEY_RE = /^[0-9A-F]{32}$/;
  const TOP_KEYS = ["awsRegion", "eventID", "eventName", "userIdentity", "recordFormat", "tableName", "dynamodb", "eventSource"];

  async function waitDestination(table, status) {
    return waitUntil(async () => {
      const d = (await ddb.send(new DescribeKinesisStreamingDestinationCommand({ TableName: table })))
        .KinesisDataStreamDestinations;
      return d?.length && d[0].DestinationStatus === status ? d : null;
    }, { timeoutMs: 15_000, intervalMs: 100, what: `destination of ${table} ${status}` });
  }

  async function setupPair(shards = 2) {
    const table = unique("dt");
    const stream = unique("ds");
    await ddb.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "N" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }],
      BillingMode: "PAY_PER_REQUEST",
    }));
    const summary = await createStream(kinesis, stream, shards);
    const resp = await ddb.send(new EnableKinesisStreamingDestinationCommand({
      TableName: table, StreamArn: summary.StreamARN,
    }));
    assert.equal(resp.TableName, table);
    assert.equal(resp.StreamArn, streamArn(stream));
    assert.equal(resp.DestinationStatus, "ENABLING");
    const dests = await waitDestination(table, "ACTIVE");
    assert.equal(dests.length, 1);
    assert.equal(dests[0].StreamArn, streamArn(stream));
    return { table, stream };
  }

  /** Change records of the stream, parsed, with their shard; ordered per shard. */
  function parseAll(byShard) {
    const out = [];
    for (const [shardId, records] of Object.entries(byShard)) {
      for (const r of records) {
        const text = decodeUtf8(r.Data);
        out.push({ shardId, record: r, text, change: JSON.parse(text) });
      }
    }
    return out;
  }

  describe("streaming destination", () => {
    test("INSERT, MODIFY and REMOVE records carry keys and images", async () => {
      const { table, stream } = await setupPair(2);
      const k = (pk, sk) => ({ pk: { S: pk }, sk: { N: String(sk) } });

      // a: insert, modify, remove. b: insert (through UpdateItem), c and d: a transaction.
      await ddb.send(new PutItemCommand({ TableName: table, Item: { ...k("a", 1), v: { N: "1" }, name: { S: "ünïcode" } } }));
      await ddb.send(new UpdateItemCommand({
        TableName: table, Key: k("a", 1), UpdateExpression: "SET v = v + :one, bin = :b",
        ExpressionAttributeValues: { ":one": { N: "1" }, ":b": { B: new Uint8Array([0, 1]) } },
      }));
      await ddb.send(new UpdateItemCommand({
        TableName: table, Key: k("b", 2), UpdateExpression: "SET tags = :t",
        ExpressionAttributeValues: { ":t": { SS: ["x"] } },
      }));
      await ddb.send(new DeleteItemCommand({ TableName: table, Key: k("a", 1) }));
      await ddb.send(new DeleteItemCommand({ TableName: table, Key: k("missing", 1) })); // no change, no record
      await ddb.send(new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...k("c", 3), m: { M: { n: { N: "0.50" } } } } } },
          { Put: { TableName: table, Item: { ...k("d", 4), l: { L: [{ BOOL: true }, { NULL: true }] } } } },
        ],
      }));

      const byShard = await pollStreamRecords(kinesis, stream, 6);
      const all = parseAll(byShard);
      assert.equal(all.length, 6, `exactly 6 change records, got ${all.map((c) => c.text).join("\n")}`);

      for (const { record, text, change } of all) {
        assert.deepEqual(Object.keys(change), TOP_KEYS, `top-level keys of ${text}`);
        assert.equal(change.awsRegion, REGION);
        assert.match(change.eventID, UUID_RE);
        assert.equal(change.userIdentity, null);
        assert.equal(change.recordFormat, "application/json");
        assert.equal(change.tableName, table);
        assert.equal(change.eventSource, "aws:dynamodb");
        assert.ok(Number.isInteger(change.dynamodb.ApproximateCreationDateTime));
        assert.ok(Math.abs(change.dynamodb.ApproximateCreationDateTime - Date.now()) < 120_000,
          "ApproximateCreationDateTime is epoch milliseconds");
        assert.ok(Number.isInteger(change.dynamodb.SizeBytes) && change.dynamodb.SizeBytes > 0);
        assert.match(record.PartitionKey, PARTITION_KEY_RE);
        assert.ok(!/\n|": /.test(text), "compact JSON");
      }
      assert.equal(new Set(all.map((c) => c.change.eventID)).size, 6, "distinct eventIDs");

      const forKey = (pk) => all.filter((c) => c.change.dynamodb.Keys.pk.S === pk);
      const a = forKey("a");
      assert.deepEqual(a.map((c) => c.change.eventName), ["INSERT", "MODIFY", "REMOVE"], "a's changes in commit order");
      assert.equal(new Set(a.map((c) => c.shardId)).size, 1, "all changes of one item on one shard");
      assert.equal(new Set(a.map((c) => c.record.PartitionKey)).size, 1);
      for (const c of a) assert.deepEqual(c.change.dynamodb.Keys, k("a", 1));
      const [ins, mod, rem] = a.map((c) => c.change.dynamodb);
      assert.deepEqual(ins.NewImage, { ...k("a", 1), v: { N: "1" }, name: { S: "ünïcode" } });
      assert.equal(ins.OldImage, undefined);
      // Binary values are base64 of the API's base64 in change records (§1.4): 00 01 → "AAE=" → "QUFFPQ==".
      assert.deepEqual(mod.NewImage, { ...k("a", 1), v: { N: "2" }, name: { S: "ünïcode" }, bin: { B: "QUFFPQ==" } });
      assert.deepEqual(mod.OldImage, ins.NewImage);
      assert.equal(rem.NewImage, undefined);
      assert.deepEqual(rem.OldImage, mod.NewImage);
      // SizeBytes = size(Keys) + size(NewImage) + size(OldImage) (§1.5). Keys: "pk"+"a" = 3, "sk"+N 1 = 2+2;
      // NewImage: Keys 7 + "v"+N 1 (1+2) + "name"+"ünïcode" (4+9 UTF-8 bytes) = 23.
      assert.equal(ins.SizeBytes, 7 + 23);

      const [b] = forKey("b").map((c) => c.change);
      assert.equal(b.eventName, "INSERT", "an UpdateItem that creates the item is an INSERT");
      assert.deepEqual(b.dynamodb.NewImage, { ...k("b", 2), tags: { SS: ["x"] } });

      const [c] = forKey("c").map((x) => x.change);
      const [d] = forKey("d").map((x) => x.change);
      assert.equal(c.eventName, "INSERT");
      assert.deepEqual(c.dynamodb.NewImage, { ...k("c", 3), m: { M: { n: { N: "0.5" } } } }, "numbers in canonical form");
      assert.deepEqual(d.dynamodb.NewImage, { ...k("d", 4), l: { L: [{ BOOL: true }, { NULL: true }] } });
      assert.equal(forKey("missing").length, 0);
    });

    test("disable stops the records", async () => {
      const { table, stream } = await setupPair(1);
      const k = { pk: { S: "x" }, sk: { N: "1" } };
      await ddb.send(new PutItemCommand({ TableName: table, Item: k }));
      await pollStreamRecords(kinesis, stream, 1);
      const resp = await ddb.send(new DisableKinesisStreamingDestinationCommand({
        TableName: table, StreamArn: streamArn(stream),
      }));
      assert.equal(resp.DestinationStatus, "DISABLING");
      await waitDestination(table, "DISABLED");
      await ddb.send(new PutItemCommand({ TableName: table, Item: { ...k, v: { S: "after" } } }));
      await new Promise((r) => setTimeout(r, 500));
      const records = parseAll(await readStream(kinesis, stream));
      assert.deepEqual(records.map((r) => r.change.eventName), ["INSERT"], "no record after DISABLED");
    });
  });
});
