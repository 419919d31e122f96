import { GetItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { DynamoDbAuthzStore, LOG_BYTES_CAP, MAX_TUPLE_CHANGES } from "../../src/authz/adapters/dynamodb.ts";
import type { TupleChange, TupleKey } from "../../src/authz/model.ts";
import { TupleWriteConflict, type WriteRequest } from "../../src/authz/ports.ts";
import { DomainError } from "../../src/shared/errors.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeAuthzStore, tk } from "./authz-store.suite.ts";

const ddb = useDynamoDbTables();
const revisions = () => ulidGenerator.ulid();
const newId = () => ulidGenerator.ulid();

// Every test uses fresh store ids, so one table serves the file. A Query page size of 7 makes reads
// of larger partitions follow LastEvaluatedKey across several requests (and, with tombstones
// filtered out, see empty pages that still carry one).
describeAuthzStore(
  "dynamodb",
  () => new DynamoDbAuthzStore(ddb.client, ddb.names.authz, { queryPageSize: 7 }),
);

describe("DynamoDbAuthzStore specifics", () => {
  const store = () => new DynamoDbAuthzStore(ddb.client, ddb.names.authz, { queryPageSize: 7 });
  const req = (writes: TupleKey[], deletes: TupleKey[] = [], opts: Partial<WriteRequest> = {}) => ({
    writes,
    deletes,
    onDuplicate: "error" as const,
    onMissing: "error" as const,
    ...opts,
  });
  const writeN = (s: string, n: number, context?: Record<string, unknown>) =>
    store().write(
      s,
      req(
        Array.from({ length: n }, (_, i) =>
          tk(`doc:${i}#viewer@user:u${i}`, context && { name: "c", context }),
        ),
      ),
      1,
      revisions,
    );
  const readAll = async (s: string, limit: number, first?: string) => {
    const out: TupleChange[] = [];
    let cursor = first;
    do {
      const page = await store().readChanges(s, { limit, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      out.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    return out;
  };
  const raw = async (pk: string, sk: string) =>
    (
      await ddb.client.send(
        new GetItemCommand({
          TableName: ddb.names.authz,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const archives = async (s: string, object: string) =>
    (
      await ddb.client.send(
        new QueryCommand({
          TableName: ddb.names.authz,
          KeyConditionExpression: "pk = :p",
          ExpressionAttributeValues: { ":p": { S: `H#${s}#${object}` } },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const str = (c: TupleChange) => `${c.operation} ${c.key.object}#${c.key.relation}@${c.key.user}`;

  it(`refuses more than ${MAX_TUPLE_CHANGES} applied changes in one write and writes nothing`, async () => {
    expect(MAX_TUPLE_CHANGES).toBe(100);
    const s = newId();
    await expect(writeN(s, MAX_TUPLE_CHANGES + 1)).rejects.toMatchObject({ code: "validation" });
    expect(await store().headRevision(s)).toBeUndefined();
    expect((await store().readPage(s, {}, { limit: 10 })).items).toEqual([]);
  });

  it("writes 100 changes with large conditions in one transaction and reads every one back", async () => {
    const s = newId();
    const { revision } = await writeN(s, 100, { blob: "x".repeat(2_000) });
    const changes = await readAll(s, 25);
    expect(changes.map((c) => c.key.object)).toEqual(Array.from({ length: 100 }, (_, i) => `doc:${i}`));
    expect(changes[7]!.key.condition).toEqual({ name: "c", context: { blob: "x".repeat(2_000) } });
    expect(changes.at(-1)?.revision).toBe(revision);
    expect(await store().headRevision(s)).toBe(revision);
  });

  it("a refused transaction leaves no item behind: no tuple, no tombstone, no history", async () => {
    const s = newId();
    await store().write(s, req([tk("doc:a#viewer@user:x")]), 1, revisions);
    const writes = Array.from({ length: 99 }, (_, i) => tk(`doc:b${i}#viewer@user:x`));
    await expect(
      store().write(s, req([...writes, tk("doc:a#viewer@user:x")]), 2, revisions),
    ).rejects.toBeInstanceOf(TupleWriteConflict);
    for (const k of writes.slice(0, 5))
      expect(await raw(`T#${s}#${k.object}`, "viewer#U|user:x")).toBeUndefined();
    const a = await raw(`T#${s}#doc:a`, "viewer#U|user:x");
    expect(a?.log?.L).toHaveLength(1);
  });

  it("keeps a deleted tuple as a tombstone: no condition, out of gsi1, in gsi2 with its history", async () => {
    const s = newId();
    const k = tk("doc:a#viewer@user:x", { name: "c" });
    await store().write(s, req([k]), 1, revisions);
    const { revision } = await store().write(s, req([], [k]), 2, revisions);
    const item = await raw(`T#${s}#doc:a`, "viewer#U|user:x");
    expect(item?.deleted?.S).toBe(revision);
    expect(item?.gsi2sk?.S).toBe(revision);
    expect(item?.gsi2pk?.S).toMatch(new RegExp(`^C#${s}#[0-3]$`));
    expect(item?.ts?.N).toBe("2");
    for (const gone of ["cond", "gsi1pk", "gsi1sk"]) expect(item?.[gone]).toBeUndefined();
    expect(item?.log?.L?.map((e) => e.M?.op?.S)).toEqual(["write", "delete"]);
  });

  it("moves a churned key's history to archive items and still lists every change in order", async () => {
    const s = newId();
    const key = tk("doc:hot#viewer@user:x");
    const expected: string[] = [];
    const n = Math.ceil((3 * LOG_BYTES_CAP) / 60);
    for (let i = 0; i < n; i++) {
      const op = i % 2 === 0 ? "write" : "delete";
      const k =
        op === "write" && i % 3 === 0 ? tk("doc:hot#viewer@user:x", { name: "c", context: { i } }) : key;
      await store().write(s, op === "write" ? req([k]) : req([], [k]), 1000 + i, revisions);
      expected.push(`${op} doc:hot#viewer@user:x`);
    }
    const item = await raw(`T#${s}#doc:hot`, "viewer#U|user:x");
    expect(Number(item?.logb?.N)).toBeLessThan(LOG_BYTES_CAP + 200);
    const chunks = await archives(s, "doc:hot");
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(item?.archived?.S).toBe(chunks.at(-1)?.gsi2sk?.S);
    expect(chunks.slice(1).map((c) => c.prev?.S)).toEqual(chunks.slice(0, -1).map((c) => c.gsi2sk?.S));

    const changes = await readAll(s, 40);
    expect(changes.map(str)).toEqual(expected);
    expect(changes.map((c) => c.timestamp)).toEqual(expected.map((_, i) => 1000 + i));
    expect(changes[3]!.key.condition).toBeUndefined();
    expect(changes[6]!.key.condition).toEqual({ name: "c", context: { i: 6 } });
    const from = changes[10]!.revision;
    expect((await readAll(s, 7, from)).map((c) => c.revision)).toEqual(
      changes.slice(11).map((c) => c.revision),
    );
    expect((await store().readChanges(s, { limit: 500, objectType: "doc" })).items).toHaveLength(n);
    expect((await store().readChanges(s, { limit: 500, objectType: "folder" })).items).toEqual([]);
    const live = n % 2 === 1;
    expect((await store().getTuples(s, [key]))[0] !== undefined).toBe(live);
  });

  it("reads archived history the index does not show yet, from the table", async () => {
    const s = newId();
    const key = tk("doc:hot#viewer@user:x");
    const n = Math.ceil((2.5 * LOG_BYTES_CAP) / 60);
    for (let i = 0; i < n; i++) {
      await store().write(s, i % 2 === 0 ? req([key]) : req([], [key]), 1000 + i, revisions);
    }
    await store().write(s, req([tk("doc:other#viewer@user:x")]), 5000, revisions);
    const before = await readAll(s, 50);
    expect(before).toHaveLength(n + 1);
    // Take every archive out of gsi2, as if the index had not caught up with their commits yet.
    for (const chunk of await archives(s, "doc:hot")) {
      await ddb.client.send(
        new UpdateItemCommand({
          TableName: ddb.names.authz,
          Key: { pk: chunk.pk!, sk: chunk.sk! },
          UpdateExpression: "REMOVE gsi2pk, gsi2sk",
        }),
      );
    }
    expect(await readAll(s, 50)).toEqual(before);
    expect(await readAll(s, 9, before[4]!.revision)).toEqual(before.slice(5));
  });

  it("tells a duplicate from a full history; a full history is archived and the write goes through", async () => {
    const s = newId();
    const [a, b] = [tk("doc:a#viewer@user:x"), tk("doc:b#viewer@user:x")];
    await store().write(s, req([a, b]), 1, revisions);
    await store().write(s, req([], [a]), 2, revisions);
    await ddb.client.send(
      new UpdateItemCommand({
        TableName: ddb.names.authz,
        Key: { pk: { S: `T#${s}#doc:a` }, sk: { S: "viewer#U|user:x" } },
        UpdateExpression: "SET logb = :big",
        ExpressionAttributeValues: { ":big": { N: String(LOG_BYTES_CAP * 10) } },
      }),
    );
    const e = await store()
      .write(s, req([a, b]), 3, revisions)
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: "duplicate", key: b });
    expect(await archives(s, "doc:a")).toEqual([]);

    await store().write(s, req([a, tk("doc:c#viewer@user:x")], [], { onDuplicate: "ignore" }), 4, revisions);
    expect((await archives(s, "doc:a")).map((c) => c.log?.L?.length)).toEqual([2]);
    const item = await raw(`T#${s}#doc:a`, "viewer#U|user:x");
    expect(item?.log?.L).toHaveLength(1);
    expect((await readAll(s, 10)).map(str)).toEqual([
      "write doc:a#viewer@user:x",
      "write doc:b#viewer@user:x",
      "delete doc:a#viewer@user:x",
      "write doc:a#viewer@user:x",
      "write doc:c#viewer@user:x",
    ]);
  });

  it("rejects cursors that are malformed or belong to another store", async () => {
    const [a, b] = [newId(), newId()];
    await writeN(a, 3);
    await writeN(b, 3);
    const first = await store().readPage(a, { object: "doc:1" }, { limit: 1 });
    const all = await store().readPage(a, {}, { limit: 1 });
    expect(all.cursor).toBeTypeOf("string");
    await expect(store().readPage(b, {}, { limit: 1, cursor: all.cursor! })).rejects.toBeInstanceOf(
      DomainError,
    );
    await expect(store().readPage(a, {}, { limit: 1, cursor: "%%%" })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(store().readChanges(a, { limit: 1, cursor: "x y" })).rejects.toMatchObject({
      code: "validation",
    });
    const changes = await store().readChanges(a, { limit: 1 });
    expect(changes.cursor).toBeTypeOf("string");
    await expect(store().readChanges(b, { limit: 1, cursor: changes.cursor! })).rejects.toMatchObject({
      code: "validation",
    });
    await expect(
      store().readChanges(a, { limit: 1, cursor: `${changes.items[0]!.revision}.forged` }),
    ).rejects.toMatchObject({ code: "validation" });
    const next = await store().readChanges(a, { limit: 5, cursor: changes.cursor! });
    expect(next.items.map((c) => c.key.object)).toEqual(["doc:1", "doc:2"]);
    // A bare revision (the service's end-of-stream token) positions within the store it is used on.
    const bare = await store().readChanges(a, { limit: 5, cursor: changes.items[0]!.revision });
    expect(bare.items).toEqual(next.items);
    expect(first.items.map((t) => t.key.object)).toEqual(["doc:1"]);
  });
});
