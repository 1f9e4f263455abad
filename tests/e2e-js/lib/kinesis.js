// Kinesis helpers on top of the AWS SDK v3 client.

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";

import { waitUntil } from "./harness.js";

export async function createStream(kinesis, name, shards = 1) {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  return waitStreamActive(kinesis, name);
}

export async function waitStreamActive(kinesis, name) {
  return waitUntil(async () => {
    const s = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name })))
      .StreamDescriptionSummary;
    return s.StreamStatus === "ACTIVE" ? s : null;
  }, { timeoutMs: 15_000, intervalMs: 100, what: `stream ${name} ACTIVE` });
}

export async function listAllShards(kinesis, name) {
  const shards = [];
  let token;
  do {
    const resp = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: name }));
    shards.push(...resp.Shards);
    token = resp.NextToken;
  } while (token);
  return shards;
}

/** Every record currently readable in one shard, following NextShardIterator. */
export async function readShard(kinesis, name, shardId, iterator = { ShardIteratorType: "TRIM_HORIZON" }) {
  let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ...iterator })))
    .ShardIterator;
  const out = [];
  for (let i = 0; i < 1000 && it; i++) {
    const resp = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
    out.push(...resp.Records);
    it = resp.NextShardIterator;
    if (resp.Records.length === 0 && (resp.MillisBehindLatest ?? 0) === 0) break;
  }
  return out;
}

/** {shardId: [records]} for every shard of the stream, from TRIM_HORIZON. */
export async function readStream(kinesis, name) {
  const out = {};
  for (const s of await listAllShards(kinesis, name)) {
    out[s.ShardId] = await readShard(kinesis, name, s.ShardId);
  }
  return out;
}

/** Polls all shards until at least `count` records are readable; returns {shardId: [records]}. */
export async function pollStreamRecords(kinesis, name, count, timeoutMs = 10_000) {
  let last = {};
  const total = () => Object.values(last).reduce((n, v) => n + v.length, 0);
  try {
    await waitUntil(async () => {
      last = await readStream(kinesis, name);
      return total() >= count;
    }, { timeoutMs, intervalMs: 200, what: `${count} records in stream ${name}` });
  } catch {
    throw new Error(`stream ${name}: expected at least ${count} records within ${timeoutMs} ms, got ${total()}`);
  }
  return last;
}
