// DynamoDB through the AWS SDK for JavaScript v3 (JSON 1.0 over HTTP/1.1).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  TransactGetItemsCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  paginateQuery,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand as DocQueryCommand } from "@aws-sdk/lib-dynamodb";

import { tableArn, unique, useServer } from "../lib/harness.js";

describe("DynamoDB via the JS SDK v3", () => {
  const env = useServer({ before, after });
  let ddb;

  before(() => {
    ddb = env.dynamodb();
  });

  async function createTable(name, { rangeKey = ["sk", "N"] } = {}) {
    const attrs = [{ AttributeName: "pk", AttributeType: "S" }];
    const schema = [{ AttributeName: "pk", KeyType: "HASH" }];
    if (rangeKey) {
      attrs.push({ AttributeName: rangeKey[0], AttributeType: rangeKey[1] });
      schema.push({ AttributeName: rangeKey[0], KeyType: "RANGE" });
    }
    const resp = await ddb.send(new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: attrs,
      KeySchema: schema,
      BillingMode: "PAY_PER_REQUEST",
    }));
    await waitUntilTableExists({ client: ddb, maxWaitTime: 15, minDelay: 1 }, { TableName: name });
    return resp;
  }

  describe("tables", () => {
    test("create, describe, list and delete a table", async () => {
      const name = unique("t");
      const created = await createTable(name);
      assert.equal(created.$metadata.httpStatusCode, 200);
      assert.equal(created.TableDescription.TableName, name);
      assert.equal(created.TableDescription.TableArn, tableArn(name));
      assert.deepEqual(created.TableDescription.KeySchema, [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ]);
      assert.equal(created.TableDescription.BillingModeSummary?.BillingMode, "PAY_PER_REQUEST");

      const described = (await ddb.send(new DescribeTableCommand({ TableName: name }))).Table;
      assert.equal(described.TableStatus, "ACTIVE");
      assert.equal(described.ItemCount, 0);
      assert.ok(described.CreationDateTime instanceof Date, "CreationDateTime parses as a Date");

      const listed = await ddb.send(new ListTablesCommand({}));
      assert.ok(listed.TableNames.includes(name), `ListTables ${JSON.stringify(listed.TableNames)} has ${name}`);

      await ddb.send(new PutItemCommand({ TableName: name, Item: { pk: { S: "a" }, sk: { N: "1" } } }));
      const deleted = await ddb.send(new DeleteTableCommand({ TableName: name }));
      assert.equal(deleted.TableDescription.TableName, name);
      assert.ok(["DELETING", "ACTIVE"].includes(deleted.TableDescription.TableStatus),
        `DeleteTable status ${deleted.TableDescription.TableStatus}`);

      await assert.rejects(ddb.send(new DescribeTableCommand({ TableName: name })), (err) => {
        assert.equal(err.name, "ResourceNotFoundException");
        assert.ok(err instanceof ResourceNotFoundException);
        assert.equal(err.$metadata.httpStatusCode, 400);
        return true;
      });
      await assert.rejects(
        ddb.send(new GetItemCommand({ TableName: name, Key: { pk: { S: "a" }, sk: { N: "1" } } })),
        { name: "ResourceNotFoundException" },
      );
      const after = await ddb.send(new ListTablesCommand({}));
      assert.ok(!after.TableNames.includes(name));
    });

    test("creating an existing table is ResourceInUseException", async () => {
      const name = unique("t");
      await createTable(name);
      await assert.rejects(createTable(name), { name: "ResourceInUseException" });
    });
  });

  describe("items", () => {
    let table;
    before(async () => {
      table = unique("items");
      await createTable(table);
    });

    test("put and get every attribute type", async () => {
      const item = {
        pk: { S: "all-types" },
        sk: { N: "1" },
        s: { S: "héllo wörld ✓" },
        n: { N: "-12.5" },
        big: { N: "12345678901234567890123456789012345678" },
        b: { B: new Uint8Array([0, 1, 2, 253, 254, 255]) },
        t: { BOOL: true },
        f: { BOOL: false },
        nul: { NULL: true },
        m: { M: { inner: { S: "x" }, deep: { M: { n: { N: "7" } } } } },
        l: { L: [{ S: "a" }, { N: "2" }, { L: [] }, { M: {} }] },
        ss: { SS: ["b", "a", "c"] },
        ns: { NS: ["3", "1.5", "-2"] },
        bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
      };
      const put = await ddb.send(new PutItemCommand({ TableName: table, Item: item }));
      assert.equal(put.$metadata.httpStatusCode, 200);
      assert.equal(put.Attributes, undefined);

      const got = await ddb.send(new GetItemCommand({
        TableName: table, Key: { pk: { S: "all-types" }, sk: { N: "1" } }, ConsistentRead: true,
      }));
      const it = got.Item;
      assert.ok(it, "item found");
      for (const k of ["pk", "sk", "s", "n", "big", "t", "f", "nul", "m", "l"]) {
        assert.deepEqual(it[k], item[k], `attribute ${k}`);
      }
      assert.deepEqual(Buffer.from(it.b.B), Buffer.from(item.b.B));
      assert.deepEqual([...it.ss.SS].sort(), ["a", "b", "c"]);
      assert.deepEqual([...it.ns.NS].map(Number).sort((x, y) => x - y), [-2, 1.5, 3]);
      assert.deepEqual(it.bs.BS.map((b) => Buffer.from(b).toString("hex")).sort(), ["01", "0203"]);

      const projected = await ddb.send(new GetItemCommand({
        TableName: table,
        Key: { pk: { S: "all-types" }, sk: { N: "1" } },
        ProjectionExpression: "#s, m.deep.n, l[1]",
        ExpressionAttributeNames: { "#s": "s" },
      }));
      assert.deepEqual(projected.Item, {
        s: item.s, m: { M: { deep: { M: { n: { N: "7" } } } } }, l: { L: [{ N: "2" }] },
      });

      const missing = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "nope" }, sk: { N: "1" } } }));
      assert.equal(missing.Item, undefined);
    });

    test("put with ReturnValues ALL_OLD, delete with ReturnValues", async () => {
      const key = { pk: { S: "rv" }, sk: { N: "1" } };
      await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key, v: { N: "1" } } }));
      const put = await ddb.send(new PutItemCommand({
        TableName: table, Item: { ...key, v: { N: "2" } }, ReturnValues: "ALL_OLD",
      }));
      assert.deepEqual(put.Attributes, { ...key, v: { N: "1" } });
      const del = await ddb.send(new DeleteItemCommand({ TableName: table, Key: key, ReturnValues: "ALL_OLD" }));
      assert.deepEqual(del.Attributes, { ...key, v: { N: "2" } });
      const gone = await ddb.send(new GetItemCommand({ TableName: table, Key: key }));
      assert.equal(gone.Item, undefined);
    });

    test("update with a condition; a failed condition is ConditionalCheckFailedException", async () => {
      const key = { pk: { S: "counter" }, sk: { N: "1" } };
      const created = await ddb.send(new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: "SET #c = :zero, tags = :tags",
        ConditionExpression: "attribute_not_exists(pk)",
        ExpressionAttributeNames: { "#c": "count" },
        ExpressionAttributeValues: { ":zero": { N: "0" }, ":tags": { SS: ["new"] } },
        ReturnValues: "ALL_NEW",
      }));
      assert.deepEqual(created.Attributes, { ...key, count: { N: "0" }, tags: { SS: ["new"] } });

      const bumped = await ddb.send(new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: "ADD #c :one, tags :t REMOVE stale",
        ConditionExpression: "#c = :zero AND contains(tags, :new)",
        ExpressionAttributeNames: { "#c": "count" },
        ExpressionAttributeValues: { ":one": { N: "1" }, ":zero": { N: "0" }, ":t": { SS: ["hot"] }, ":new": { S: "new" } },
        ReturnValues: "UPDATED_NEW",
      }));
      assert.deepEqual(bumped.Attributes.count, { N: "1" });
      assert.deepEqual([...bumped.Attributes.tags.SS].sort(), ["hot", "new"]);

      // The same condition now fails: count is 1.
      await assert.rejects(
        ddb.send(new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: "ADD #c :one",
          ConditionExpression: "#c = :zero",
          ExpressionAttributeNames: { "#c": "count" },
          ExpressionAttributeValues: { ":one": { N: "1" }, ":zero": { N: "0" } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        })),
        (err) => {
          assert.equal(err.name, "ConditionalCheckFailedException");
          assert.ok(err instanceof ConditionalCheckFailedException, "modeled exception class");
          assert.equal(err.$metadata.httpStatusCode, 400);
          assert.equal(err.$fault, "client");
          assert.match(err.message, /condition/i);
          assert.deepEqual(err.Item?.count, { N: "1" }, "ReturnValuesOnConditionCheckFailure=ALL_OLD returns the item");
          return true;
        },
      );

      // A conditional put on an existing key fails the same way.
      await assert.rejects(
        ddb.send(new PutItemCommand({ TableName: table, Item: key, ConditionExpression: "attribute_not_exists(pk)" })),
        { name: "ConditionalCheckFailedException" },
      );
      const still = await ddb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      assert.deepEqual(still.Item.count, { N: "1" }, "failed writes changed nothing");
    });

    test("a malformed request is ValidationException", async () => {
      await assert.rejects(
        ddb.send(new UpdateItemCommand({
          TableName: table, Key: { pk: { S: "v" }, sk: { N: "1" } }, UpdateExpression: "SET = oops",
        })),
        { name: "ValidationException" },
      );
      await assert.rejects(
        ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "v" } } })),
        { name: "ValidationException" },
      );
    });
  });

  describe("query", () => {
    let table;
    before(async () => {
      table = unique("q");
      await createTable(table);
      for (let i = 0; i < 12; i++) {
        await ddb.send(new PutItemCommand({
          TableName: table,
          Item: { pk: { S: "user#1" }, sk: { N: String(i) }, even: { BOOL: i % 2 === 0 }, label: { S: `item-${i}` } },
        }));
      }
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "user#2" }, sk: { N: "0" } } }));
    });

    test("key condition with a range, both directions", async () => {
      const q = {
        TableName: table,
        KeyConditionExpression: "pk = :p AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues: { ":p": { S: "user#1" }, ":lo": { N: "3" }, ":hi": { N: "7" } },
      };
      const fwd = await ddb.send(new QueryCommand(q));
      assert.equal(fwd.Count, 5);
      assert.deepEqual(fwd.Items.map((i) => i.sk.N), ["3", "4", "5", "6", "7"]);
      assert.equal(fwd.LastEvaluatedKey, undefined);

      const back = await ddb.send(new QueryCommand({ ...q, ScanIndexForward: false }));
      assert.deepEqual(back.Items.map((i) => i.sk.N), ["7", "6", "5", "4", "3"]);
    });

    test("filter, projection and count", async () => {
      const resp = await ddb.send(new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :p AND sk >= :lo",
        FilterExpression: "even = :t",
        ProjectionExpression: "sk, label",
        ExpressionAttributeValues: { ":p": { S: "user#1" }, ":lo": { N: "4" }, ":t": { BOOL: true } },
      }));
      assert.equal(resp.ScannedCount, 8);
      assert.equal(resp.Count, 4);
      assert.deepEqual(resp.Items, [4, 6, 8, 10].map((i) => ({ sk: { N: String(i) }, label: { S: `item-${i}` } })));

      const count = await ddb.send(new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": { S: "user#1" } },
        Select: "COUNT",
      }));
      assert.equal(count.Count, 12);
      assert.equal(count.Items, undefined);
    });

    test("pagination with Limit and the SDK paginator", async () => {
      const pages = [];
      for await (const page of paginateQuery({ client: ddb, pageSize: 5 }, {
        TableName: table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": { S: "user#1" } },
      })) {
        pages.push(page);
      }
      assert.deepEqual(pages.map((p) => p.Count), pages.length === 3 ? [5, 5, 2] : [5, 5, 2, 0]);
      assert.deepEqual(pages.flatMap((p) => p.Items.map((i) => Number(i.sk.N))), [...Array(12).keys()]);
      assert.deepEqual(pages[0].LastEvaluatedKey, { pk: { S: "user#1" }, sk: { N: "4" } });
    });

    test("begins_with on a string sort key through the document client", async () => {
      const doc = DynamoDBDocumentClient.from(ddb);
      const t = unique("doc");
      await createTable(t, { rangeKey: ["sk", "S"] });
      for (const sk of ["2024-01-01", "2024-02-15", "2025-01-01"]) {
        await doc.send(new PutCommand({ TableName: t, Item: { pk: "p", sk, n: 1.25, list: [1, "two", { three: true }], nothing: null } }));
      }
      const got = await doc.send(new GetCommand({ TableName: t, Key: { pk: "p", sk: "2024-02-15" } }));
      assert.deepEqual(got.Item, { pk: "p", sk: "2024-02-15", n: 1.25, list: [1, "two", { three: true }], nothing: null });
      const q = await doc.send(new DocQueryCommand({
        TableName: t,
        KeyConditionExpression: "pk = :p AND begins_with(sk, :y)",
        ExpressionAttributeValues: { ":p": "p", ":y": "2024-" },
      }));
      assert.deepEqual(q.Items.map((i) => i.sk), ["2024-01-01", "2024-02-15"]);
    });
  });

  describe("transactions", () => {
    let table;
    before(async () => {
      table = unique("tx");
      await createTable(table);
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "acct" }, sk: { N: "1" }, bal: { N: "100" } } }));
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "acct" }, sk: { N: "2" }, bal: { N: "5" } } }));
      await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "old" }, sk: { N: "1" } } }));
    });

    const k = (pk, sk) => ({ pk: { S: pk }, sk: { N: String(sk) } });

    test("transact write commits every action", async () => {
      await ddb.send(new TransactWriteItemsCommand({
        TransactItems: [
          { Update: { TableName: table, Key: k("acct", 1), UpdateExpression: "SET bal = bal - :x",
              ConditionExpression: "bal >= :x", ExpressionAttributeValues: { ":x": { N: "30" } } } },
          { Update: { TableName: table, Key: k("acct", 2), UpdateExpression: "SET bal = bal + :x",
              ExpressionAttributeValues: { ":x": { N: "30" } } } },
          { Put: { TableName: table, Item: { ...k("log", 1), amount: { N: "30" } },
              ConditionExpression: "attribute_not_exists(pk)" } },
          { Delete: { TableName: table, Key: k("old", 1) } },
        ],
        ClientRequestToken: `tok-${Date.now()}`,
      }));
      const got = await ddb.send(new TransactGetItemsCommand({
        TransactItems: [k("acct", 1), k("acct", 2), k("log", 1), k("old", 1)].map((Key) => ({ Get: { TableName: table, Key } })),
      }));
      assert.deepEqual(got.Responses.map((r) => r.Item?.bal?.N ?? r.Item?.amount?.N ?? null), ["70", "35", "30", null]);
    });

    test("a failed condition cancels the whole transaction", async () => {
      await assert.rejects(
        ddb.send(new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { TableName: table, Key: k("acct", 2), UpdateExpression: "SET bal = bal + :x",
                ExpressionAttributeValues: { ":x": { N: "1000" } } } },
            { ConditionCheck: { TableName: table, Key: k("acct", 1), ConditionExpression: "bal >= :x",
                ExpressionAttributeValues: { ":x": { N: "1000" } }, ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
          ],
        })),
        (err) => {
          assert.equal(err.name, "TransactionCanceledException");
          assert.ok(err instanceof TransactionCanceledException);
          assert.equal(err.$metadata.httpStatusCode, 400);
          assert.deepEqual(err.CancellationReasons?.map((r) => r.Code), ["None", "ConditionalCheckFailed"]);
          assert.deepEqual(err.CancellationReasons[1].Item?.bal, { N: "70" });
          return true;
        },
      );
      const got = await ddb.send(new GetItemCommand({ TableName: table, Key: k("acct", 2), ConsistentRead: true }));
      assert.deepEqual(got.Item.bal, { N: "35" }, "nothing was applied");
    });
  });
});
