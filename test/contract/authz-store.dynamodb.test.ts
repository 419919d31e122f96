import { describe, expect, it } from "vitest";
import { DynamoDbAuthzStore, MAX_TUPLE_CHANGES } from "../../src/authz/adapters/dynamodb.ts";
import { DomainError } from "../../src/shared/errors.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeAuthzStore, tk } from "./authz-store.suite.ts";

const ddb = useDynamoDbTables();
const revisions = () => ulidGenerator.ulid();

// Every test uses fresh store ids, so one table serves the file. A Query page size of 7 makes reads
// of larger partitions follow LastEvaluatedKey across several requests.
describeAuthzStore(
  "dynamodb",
  () => new DynamoDbAuthzStore(ddb.client, ddb.names.authz, { queryPageSize: 7 }),
);

describe("DynamoDbAuthzStore specifics", () => {
  const store = () => new DynamoDbAuthzStore(ddb.client, ddb.names.authz);
  const write = (s: string, n: number, context?: Record<string, unknown>) =>
    store().write(
      s,
      {
        writes: Array.from({ length: n }, (_, i) =>
          tk(`doc:${i}#viewer@user:u${i}`, context && { name: "c", context }),
        ),
        deletes: [],
        onDuplicate: "error",
        onMissing: "error",
      },
      1,
      revisions,
    );

  it(`refuses more than ${MAX_TUPLE_CHANGES} applied changes in one write and writes nothing`, async () => {
    const s = ulidGenerator.ulid();
    await expect(write(s, MAX_TUPLE_CHANGES + 1)).rejects.toMatchObject({ code: "validation" });
    expect(await store().headRevision(s)).toBeUndefined();
    expect((await store().readPage(s, {}, { limit: 10 })).items).toEqual([]);
  });

  it("spreads a large write's changelog over several items and reads it back in order", async () => {
    const s = ulidGenerator.ulid();
    const { revision } = await write(s, 60, { blob: "x".repeat(10_000) });
    const changes = [];
    let cursor: string | undefined;
    do {
      const page = await store().readChanges(s, { limit: 25, ...(cursor ? { cursor } : {}) });
      changes.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    expect(changes.map((c) => c.key.object)).toEqual(Array.from({ length: 60 }, (_, i) => `doc:${i}`));
    expect(changes.at(-1)?.revision).toBe(revision);
    expect(await store().headRevision(s)).toBe(revision);
  });

  it("rejects cursors that are malformed or belong to another store", async () => {
    const [a, b] = [ulidGenerator.ulid(), ulidGenerator.ulid()];
    await write(a, 3);
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
    expect(first.items.map((t) => t.key.object)).toEqual(["doc:1"]);
  });
});
