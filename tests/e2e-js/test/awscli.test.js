// AWS CLI (v1, from PyPI) smoke test: table → streaming destination → stream, read back
// with `aws kinesis get-shard-iterator` + `get-records`.
//
// The CLI comes from EDDY_AWS_CLI (scripts/e2e-js.sh points it at .e2e/venv-cli/bin/aws);
// without it the test is skipped.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { after, before, test, describe } from "node:test";

import { REGION, streamArn, unique, useServer, waitUntil } from "../lib/harness.js";

describe("AWS CLI v1 smoke test", () => {
  const AWS = process.env.EDDY_AWS_CLI;
  const env = useServer({ before, after });

  function cliEnv() {
    const out = {};
    for (const [k, v] of Object.entries(process.env)) {
      // Nothing from the caller's AWS setup (profiles, endpoints, regions) leaks in.
      if (!k.startsWith("AWS_")) out[k] = v;
    }
    return {
      ...out,
      AWS_ACCESS_KEY_ID: "AKIDCLISMOKE",
      AWS_SECRET_ACCESS_KEY: "cli-smoke-secret",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_MAX_ATTEMPTS: "1",
    };
  }

  /** Runs `aws <args> --endpoint-url … --region us-east-1 --output json`; resolves {code, stdout, stderr, json}. */
  function aws(...args) {
    const full = [...args, "--endpoint-url", env.server.url, "--region", REGION, "--output", "json"];
    return new Promise((resolve) => {
      execFile(AWS, full, { env: cliEnv(), timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        let json;
        try {
          json = stdout.trim() ? JSON.parse(stdout) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ code, stdout, stderr, json, cmd: `aws ${full.join(" ")}` });
      });
    });
  }

  async function ok(...args) {
    const r = await aws(...args);
    assert.equal(r.code, 0, `${r.cmd}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.json;
  }

  test("aws cli: create table, enable a destination, put an item, read the change from the stream",
    { skip: AWS ? false : "EDDY_AWS_CLI not set (scripts/e2e-js.sh installs the CLI and sets it)" },
    async () => {
      accessSync(AWS, fsConstants.X_OK);
      const version = await aws("--version");
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout + version.stderr, /^aws-cli\/1\./);

      const table = unique("cli-t");
      const stream = unique("cli-s");

      const created = await ok("dynamodb", "create-table", "--table-name", table,
        "--billing-mode", "PAY_PER_REQUEST",
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH");
      assert.equal(created.TableDescription.TableName, table);
      await ok("dynamodb", "wait", "table-exists", "--table-name", table);

      await ok("kinesis", "create-stream", "--stream-name", stream, "--shard-count", "2");
      await ok("kinesis", "wait", "stream-exists", "--stream-name", stream);
      const summary = await ok("kinesis", "describe-stream-summary", "--stream-name", stream);
      const arn = summary.StreamDescriptionSummary.StreamARN;
      assert.equal(arn, streamArn(stream));

      const enabled = await ok("dynamodb", "enable-kinesis-streaming-destination",
        "--table-name", table, "--stream-arn", arn);
      assert.equal(enabled.DestinationStatus, "ENABLING");
      await waitUntil(async () => {
        const d = await ok("dynamodb", "describe-kinesis-streaming-destination", "--table-name", table);
        return d.KinesisDataStreamDestinations?.[0]?.DestinationStatus === "ACTIVE";
      }, { timeoutMs: 20_000, intervalMs: 200, what: "destination ACTIVE" });

      const item = { id: { S: "u1" }, name: { S: "Ada" }, visits: { N: "42" } };
      await ok("dynamodb", "put-item", "--table-name", table, "--item", JSON.stringify(item));
      const got = await ok("dynamodb", "get-item", "--table-name", table, "--key", '{"id": {"S": "u1"}}',
        "--consistent-read");
      assert.deepEqual(got.Item, item);

      const shards = (await ok("kinesis", "list-shards", "--stream-name", stream)).Shards;
      assert.equal(shards.length, 2);

      // Poll every shard from TRIM_HORIZON until the change record shows up.
      const found = await waitUntil(async () => {
        const records = [];
        for (const s of shards) {
          const it = (await ok("kinesis", "get-shard-iterator", "--stream-name", stream,
            "--shard-id", s.ShardId, "--shard-iterator-type", "TRIM_HORIZON")).ShardIterator;
          assert.ok(it, "ShardIterator");
          const page = await ok("kinesis", "get-records", "--shard-iterator", it);
          assert.ok(page.NextShardIterator, "NextShardIterator");
          records.push(...page.Records);
        }
        return records.length ? records : null;
      }, { timeoutMs: 20_000, intervalMs: 200, what: "a change record via get-records" });

      assert.equal(found.length, 1, JSON.stringify(found));
      const [rec] = found;
      assert.match(rec.PartitionKey, /^[0-9A-F]{32}$/);
      assert.match(rec.SequenceNumber, /^\d+$/);
      // The CLI prints Data as base64 (the JSON wire form).
      assert.match(rec.Data, /^[A-Za-z0-9+/]+=*$/);
      const change = JSON.parse(Buffer.from(rec.Data, "base64").toString("utf8"));
      assert.equal(change.eventName, "INSERT");
      assert.equal(change.tableName, table);
      assert.equal(change.eventSource, "aws:dynamodb");
      assert.equal(change.awsRegion, REGION);
      assert.deepEqual(change.dynamodb.Keys, { id: { S: "u1" } });
      assert.deepEqual(change.dynamodb.NewImage, item);
      assert.equal(change.dynamodb.OldImage, undefined);

      // A service error is exit status 255 in CLI v1 (v2 uses 254), with the AWS error code on stderr.
      const missing = await aws("dynamodb", "describe-table", "--table-name", unique("nope"));
      assert.equal(missing.code, 255, `${missing.cmd}: exit ${missing.code}\nstderr: ${missing.stderr}`);
      assert.match(missing.stderr, /ResourceNotFoundException/);
    });
});
