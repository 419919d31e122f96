/**
 * The official OpenFGA SDK (`@openfga/sdk`, unmodified) against the local platform over real HTTP,
 * on the memory store and on DynamoDB Local: stores, a model written in DSL (transformed with
 * `@openfga/syntax-transformer`), tuples, check (contextual tuples, conditions), batch-check,
 * list-objects (truncation and continuation), streamed list-objects, list-users, expand, read,
 * read-changes with pagination, assertions, errors, tenant isolation and consistency tokens.
 */
import {
  ConsistencyPreference,
  CredentialsMethod,
  FgaApiAuthenticationError,
  FgaApiNotFoundError,
  FgaApiValidationError,
  OpenFgaClient,
  type TupleKey,
} from "@openfga/sdk";
import { transformer } from "@openfga/syntax-transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { deleteTables } from "../../src/shared/dynamodb.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";

const ADMIN = "admin-key-openfga-sdk-e2e";
const TOKEN_HEADER = "x-portcullis-consistency-token";
/** A small page cap, so truncation and continuation are cheap to exercise. */
const LIST_MAX = 7;

const DSL = `model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type folder
  relations
    define owner: [user]
    define viewer: [user, user:*, group#member] or owner

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, user with non_expired_grant] or owner
    define viewer: [user, group#member] or editor or viewer from parent
    define blocked: [user]
    define can_read: viewer but not blocked

condition non_expired_grant(current_time: timestamp, grant_time: timestamp, grant_duration: duration) {
  current_time < grant_time + grant_duration
}
`;

const modelFromDsl = () =>
  transformer.transformDSLToJSONObject(DSL) as unknown as Parameters<
    OpenFgaClient["writeAuthorizationModel"]
  >[0];

/** An `Error`'s OpenFGA body, whatever SDK error class carries it. */
const apiCode = (e: unknown) => (e as { apiErrorCode?: string }).apiErrorCode;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

describe.each(["memory", "dynamodb"] as const)("@openfga/sdk against Portcullis (%s store)", (store) => {
  let p: LocalPlatform;
  let apiKey: string;
  let otherKey: string;
  let tenantId: string;
  let fga: OpenFgaClient;
  let storeId: string;
  let modelId: string;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as Record<string, string>;
  };
  const newTenantKey = async (name: string) => {
    const t = await admin("POST", "/admin/v1/tenants", { name });
    const k = await admin("POST", `/admin/v1/tenants/${t.id}/api-keys`, {});
    return { tenantId: t.id!, key: k.key! };
  };
  const client = (key: string, extra: { storeId?: string; authorizationModelId?: string } = {}) =>
    new OpenFgaClient({
      apiUrl: p.url,
      ...extra,
      credentials: { method: CredentialsMethod.ApiToken, config: { token: key } },
    });
  /** A raw call with the tenant's key (to see headers and Portcullis' extra fields). */
  const raw = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: text ? JSON.parse(text.split("\n")[0]!) : undefined,
    };
  };

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_STORE: store,
      PORTCULLIS_AUTHZ_LIST_MAX_RESULTS: String(LIST_MAX),
      PORTCULLIS_AUTHZ_COMMIT_WINDOW_MS: "300",
    };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      env.PORTCULLIS_TABLE_PREFIX = `fga-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    }
    p = await startLocalPlatform({ env, port: 0, seed: false, log: createLogger({ level: "silent" }) });
    ({ tenantId, key: apiKey } = await newTenantKey("acme"));
    ({ key: otherKey } = await newTenantKey("globex"));
  });
  afterAll(async () => {
    if (store === "dynamodb" && p?.container.dynamodb) {
      await deleteTables(p.container.dynamodb, tableNames(p.container.config.tablePrefix));
    }
    await p?.close();
  });

  it("creates, gets, lists and deletes stores", async () => {
    const c = client(apiKey);
    const created = await c.createStore({ name: "docs" });
    expect(created.id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(created).toMatchObject({
      name: "docs",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    storeId = created.id;
    fga = client(apiKey, { storeId });

    const got = await fga.getStore();
    expect(got).toMatchObject({ id: storeId, name: "docs", deleted_at: null });

    const extra = await c.createStore({ name: "scratch" });
    const page1 = await c.listStores({ pageSize: 1 });
    expect(page1.stores).toHaveLength(1);
    expect(page1.continuation_token).not.toBe("");
    const page2 = await c.listStores({ pageSize: 1, continuationToken: page1.continuation_token });
    expect([page1.stores[0]!.id, page2.stores[0]!.id].sort()).toEqual([storeId, extra.id].sort());
    expect((await c.listStores({ name: "scratch" })).stores.map((s) => s.id)).toEqual([extra.id]);

    await c.deleteStore({ storeId: extra.id });
    expect(await rejection(c.getStore({ storeId: extra.id }))).toBeInstanceOf(FgaApiNotFoundError);
    expect((await c.listStores()).stores.map((s) => s.id)).toEqual([storeId]);
    // Deleting again (or a store that never existed) is 204, as upstream.
    await c.deleteStore({ storeId: extra.id });
  });

  it("writes a model given in DSL and reads it back (latest first)", async () => {
    const body = modelFromDsl();
    const w = await fga.writeAuthorizationModel(body);
    modelId = w.authorization_model_id;
    expect(modelId).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);

    const { authorization_model: m } = await fga.readAuthorizationModel({ authorizationModelId: modelId });
    expect(m?.id).toBe(modelId);
    expect(m?.schema_version).toBe("1.1");
    expect(m?.type_definitions.map((t) => t.type)).toEqual(["user", "group", "folder", "document"]);
    expect(m?.conditions?.non_expired_grant?.expression).toContain("grant_time + grant_duration");
    const doc = m?.type_definitions.find((t) => t.type === "document");
    expect(doc?.relations?.can_read).toEqual({
      difference: {
        base: { computedUserset: { object: "", relation: "viewer" } },
        subtract: { computedUserset: { object: "", relation: "blocked" } },
      },
    });

    const latest = await fga.readLatestAuthorizationModel();
    expect(latest.authorization_model?.id).toBe(modelId);
    const list = await fga.readAuthorizationModels();
    expect(list.authorization_models.map((x) => x.id)).toEqual([modelId]);
    expect(list.continuation_token).toBe("");
    fga = client(apiKey, { storeId, authorizationModelId: modelId });
    await fga.checkValidApiConnection();
  });

  it("refuses an invalid model with 2056 and changes nothing", async () => {
    const bad = {
      schema_version: "1.1",
      type_definitions: [
        { type: "document", relations: { viewer: { computedUserset: { relation: "nope" } } } },
      ],
    };
    const e = await rejection(fga.writeAuthorizationModel(bad as never));
    expect(e).toBeInstanceOf(FgaApiValidationError);
    expect(apiCode(e)).toBe("invalid_authorization_model");
    expect((await fga.readAuthorizationModels()).authorization_models).toHaveLength(1);
  });

  it("writes and deletes tuples; duplicates and missing deletes fail as upstream", async () => {
    await fga.writeTuples([
      { user: "user:anne", relation: "owner", object: "folder:root" },
      { user: "user:beth", relation: "member", object: "group:eng" },
      { user: "group:eng#member", relation: "viewer", object: "document:spec" },
      { user: "folder:root", relation: "parent", object: "document:spec" },
      { user: "user:carl", relation: "viewer", object: "document:spec" },
      { user: "user:carl", relation: "blocked", object: "document:spec" },
      { user: "user:temp", relation: "viewer", object: "document:spec" },
    ]);
    await fga.deleteTuples([{ user: "user:temp", relation: "viewer", object: "document:spec" }]);
    await fga.write({
      writes: [
        {
          user: "user:dana",
          relation: "editor",
          object: "document:plan",
          condition: {
            name: "non_expired_grant",
            context: { grant_time: "2026-01-01T00:00:00Z", grant_duration: "1h" },
          },
        },
      ],
      deletes: [{ user: "user:carl", relation: "blocked", object: "document:spec" }],
    });
    await fga.writeTuples([{ user: "user:carl", relation: "blocked", object: "document:spec" }]);

    const dup = await rejection(
      fga.writeTuples([{ user: "user:anne", relation: "owner", object: "folder:root" }]),
    );
    expect(dup).toBeInstanceOf(FgaApiValidationError);
    expect(apiCode(dup)).toBe("write_failed_due_to_invalid_input");
    const missing = await rejection(
      fga.deleteTuples([{ user: "user:zed", relation: "owner", object: "folder:root" }]),
    );
    expect(apiCode(missing)).toBe("write_failed_due_to_invalid_input");
    // on_duplicate / on_missing "ignore" make the same calls no-ops.
    await fga.write(
      {
        writes: [{ user: "user:anne", relation: "owner", object: "folder:root" }],
        deletes: [{ user: "user:zed", relation: "owner", object: "folder:root" }],
      },
      { conflict: { onDuplicateWrites: "ignore" as never, onMissingDeletes: "ignore" as never } },
    );
    // A type restriction violation is 2000 and nothing of the request is written.
    const bad = await rejection(
      fga.writeTuples([
        { user: "user:erin", relation: "viewer", object: "document:spec" },
        { user: "group:eng", relation: "owner", object: "folder:root" },
      ]),
    );
    expect(apiCode(bad)).toBe("validation_error");
    expect(
      (await fga.check({ user: "user:erin", relation: "viewer", object: "document:spec" })).allowed,
    ).toBe(false);
  });

  it("checks: direct, usersets, tuple-to-userset, exclusion, contextual tuples and conditions", async () => {
    const ok = async (user: string, relation: string, object: string, extra: Record<string, unknown> = {}) =>
      (await fga.check({ user, relation, object, ...extra })).allowed;
    expect(await ok("user:anne", "viewer", "document:spec")).toBe(true); // owner of the parent folder
    expect(await ok("user:beth", "viewer", "document:spec")).toBe(true); // group member
    expect(await ok("user:carl", "viewer", "document:spec")).toBe(true);
    expect(await ok("user:carl", "can_read", "document:spec")).toBe(false); // blocked
    expect(await ok("user:beth", "can_read", "document:spec")).toBe(true);
    expect(await ok("user:temp", "viewer", "document:spec")).toBe(false); // deleted
    expect(await ok("group:eng#member", "viewer", "document:spec")).toBe(true);

    const ctx: TupleKey[] = [{ user: "user:fred", relation: "member", object: "group:eng" }];
    expect(await ok("user:fred", "viewer", "document:spec", { contextualTuples: ctx })).toBe(true);
    expect(await ok("user:fred", "viewer", "document:spec")).toBe(false);

    const inTime = { context: { current_time: "2026-01-01T00:30:00Z" } };
    const late = { context: { current_time: "2026-01-01T02:00:00Z" } };
    expect(await ok("user:dana", "viewer", "document:plan", inTime)).toBe(true);
    expect(await ok("user:dana", "viewer", "document:plan", late)).toBe(false);
    // The condition needs current_time: a missing parameter that decides the result is 2000.
    const e = await rejection(fga.check({ user: "user:dana", relation: "viewer", object: "document:plan" }));
    expect(e).toBeInstanceOf(FgaApiValidationError);
    expect(apiCode(e)).toBe("validation_error");

    const r = await raw("POST", `/stores/${storeId}/check`, {
      tuple_key: { user: "user:anne", relation: "viewer", object: "document:spec" },
    });
    expect(r.body).toEqual({ allowed: true, resolution: "" });
    expect(r.headers.get("openfga-authorization-model-id")).toBe(modelId);
  });

  it("maps bad input to OpenFGA error codes", async () => {
    const unknownRelation = await rejection(
      fga.check({ user: "user:anne", relation: "nope", object: "document:spec" }),
    );
    expect(apiCode(unknownRelation)).toBe("validation_error");
    const badCtx = await rejection(
      fga.check({
        user: "user:anne",
        relation: "viewer",
        object: "document:spec",
        contextualTuples: [{ user: "group:eng", relation: "owner", object: "folder:root" }],
      }),
    );
    expect(apiCode(badCtx)).toBe("invalid_tuple");
    const unknownModel = await rejection(
      fga.check(
        { user: "user:anne", relation: "viewer", object: "document:spec" },
        { authorizationModelId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" },
      ),
    );
    expect(apiCode(unknownModel)).toBe("authorization_model_not_found");
    const tooMany = await rejection(
      fga.writeTuples(
        Array.from({ length: 101 }, (_, i) => ({
          user: `user:u${i}`,
          relation: "viewer",
          object: "document:spec",
        })),
      ),
    );
    expect(apiCode(tooMany)).toBe("exceeded_entity_limit");
    const unknownType = await rejection(
      fga.listObjects({ user: "user:anne", relation: "viewer", type: "nope" }),
    );
    expect(apiCode(unknownType)).toBe("type_not_found");
  });

  it("batch-checks, with per-item errors inside the result", async () => {
    const res = await fga.batchCheck({
      checks: [
        { user: "user:anne", relation: "viewer", object: "document:spec", correlationId: "a" },
        { user: "user:carl", relation: "can_read", object: "document:spec", correlationId: "b" },
        { user: "user:anne", relation: "nope", object: "document:spec", correlationId: "c" },
        {
          user: "user:gina",
          relation: "viewer",
          object: "document:spec",
          contextualTuples: { tuple_keys: [{ user: "user:gina", relation: "member", object: "group:eng" }] },
          correlationId: "d",
        },
      ],
    });
    const by = Object.fromEntries(res.result.map((r) => [r.correlationId, r]));
    expect(by.a?.allowed).toBe(true);
    expect(by.b?.allowed).toBe(false);
    expect(by.c?.allowed).toBe(false);
    expect(by.c?.error?.input_error).toBe("validation_error");
    expect(by.d?.allowed).toBe(true);
    // Over the server's 50 checks the whole request is refused; the SDK splits by its maxBatchSize.
    const many = Array.from({ length: 51 }, (_, i) => ({
      user: "user:anne",
      relation: "viewer",
      object: `document:d${i}`,
      correlationId: `c${i}`,
    }));
    const e = await rejection(fga.batchCheck({ checks: many }, { maxBatchSize: 51 }));
    expect(apiCode(e)).toBe("validation_error");
    expect((await fga.batchCheck({ checks: many })).result).toHaveLength(51);
  });

  it("lists objects and users, and expands", async () => {
    const objects = await fga.listObjects({ user: "user:anne", relation: "viewer", type: "document" });
    expect(objects.objects).toEqual(["document:spec"]);
    const readable = await fga.listObjects({ user: "user:carl", relation: "can_read", type: "document" });
    expect(readable.objects).toEqual([]);
    const streamed: string[] = [];
    for await (const o of fga.streamedListObjects({
      user: "user:beth",
      relation: "viewer",
      type: "document",
    })) {
      streamed.push(o.object);
    }
    expect(streamed).toEqual(["document:spec"]);

    const users = await fga.listUsers({
      object: { type: "document", id: "spec" },
      relation: "viewer",
      user_filters: [{ type: "user" }],
    });
    expect(users.users.map((u) => u.object?.id).sort()).toEqual(["anne", "beth", "carl"]);
    const groups = await fga.listUsers({
      object: { type: "document", id: "spec" },
      relation: "viewer",
      user_filters: [{ type: "group", relation: "member" }],
    });
    expect(groups.users).toEqual([{ userset: { type: "group", id: "eng", relation: "member" } }]);

    const { tree } = await fga.expand({ relation: "viewer", object: "document:spec" });
    expect(tree?.root?.name).toBe("document:spec#viewer");
    const nodes = tree?.root?.union?.nodes ?? [];
    expect(nodes.map((n) => n.name)).toEqual([
      "document:spec#viewer",
      "document:spec#viewer",
      "document:spec#viewer",
    ]);
    expect([...(nodes[0]?.leaf?.users?.users ?? [])].sort()).toEqual(["group:eng#member", "user:carl"]);
    expect(nodes[1]?.leaf?.computed?.userset).toBe("document:spec#editor");
    expect(nodes[2]?.leaf?.tupleToUserset).toEqual({
      tupleset: "document:spec#parent",
      computed: [{ userset: "folder:root#viewer" }],
    });
  });

  it("says when list-objects is truncated and lets the caller continue", async () => {
    const many = Array.from({ length: 17 }, (_, i) => ({
      user: "user:hank",
      relation: "viewer",
      object: `document:h${i}`,
    }));
    await fga.writeTuples(many);
    // The SDK keeps working: it gets the first page (OpenFGA would also stop at its cap).
    const first = await fga.listObjects({ user: "user:hank", relation: "viewer", type: "document" });
    expect(first.objects).toHaveLength(LIST_MAX);
    const seen = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await raw("POST", `/stores/${storeId}/list-objects`, {
        user: "user:hank",
        relation: "viewer",
        type: "document",
        ...(token ? { continuation_token: token } : {}),
      });
      expect(r.status).toBe(200);
      for (const o of r.body.objects as string[]) {
        expect(seen.has(o)).toBe(false);
        seen.add(o);
      }
      token = r.body.continuation_token;
      if (token) {
        expect(r.headers.get("x-portcullis-truncated")).toBe("max_results");
        expect(r.body.truncated_by).toBe("max_results");
      } else expect(r.headers.get("x-portcullis-truncated")).toBeNull();
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(many.map((t) => t.object).sort());
    // A token is bound to its request.
    const t1 = (
      await raw("POST", `/stores/${storeId}/list-objects`, {
        user: "user:hank",
        relation: "viewer",
        type: "document",
      })
    ).body.continuation_token;
    const misuse = await raw("POST", `/stores/${storeId}/list-objects`, {
      user: "user:anne",
      relation: "viewer",
      type: "document",
      continuation_token: t1,
    });
    expect(misuse.status).toBe(400);
    expect(misuse.body.code).toBe("invalid_continuation_token");
    // Streamed list-objects has no result cap.
    const streamed: string[] = [];
    for await (const o of fga.streamedListObjects({
      user: "user:hank",
      relation: "viewer",
      type: "document",
    })) {
      streamed.push(o.object);
    }
    expect(streamed.sort()).toEqual(many.map((t) => t.object).sort());
  });

  it("reads tuples and changes, with pagination", async () => {
    const all: string[] = [];
    let token: string | undefined;
    do {
      const page = await fga.read(
        { object: "document:spec" },
        { pageSize: 2, ...(token ? { continuationToken: token } : {}) },
      );
      expect(page.tuples.length).toBeLessThanOrEqual(2);
      all.push(...page.tuples.map((t) => `${t.key.object}#${t.key.relation}@${t.key.user}`));
      token = page.continuation_token || undefined;
    } while (token);
    expect(all.sort()).toEqual(
      [
        "document:spec#blocked@user:carl",
        "document:spec#parent@folder:root",
        "document:spec#viewer@group:eng#member",
        "document:spec#viewer@user:carl",
      ].sort(),
    );
    const byUser = await fga.read({ user: "user:dana", relation: "editor", object: "document:" });
    expect(byUser.tuples).toHaveLength(1);
    expect(byUser.tuples[0]?.key.condition).toEqual({
      name: "non_expired_grant",
      context: { grant_time: "2026-01-01T00:00:00Z", grant_duration: "1h" },
    });

    const changes: { op: string; key: string }[] = [];
    let ct: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await fga.readChanges(
        { type: "document" },
        { pageSize: 3, ...(ct ? { continuationToken: ct } : {}) },
      );
      if (page.changes.length === 0) break;
      changes.push(
        ...page.changes.map((c) => ({ op: c.operation, key: `${c.tuple_key.relation}@${c.tuple_key.user}` })),
      );
      ct = page.continuation_token;
    }
    expect(changes.slice(0, 6)).toEqual([
      { op: "TUPLE_OPERATION_WRITE", key: "viewer@group:eng#member" },
      { op: "TUPLE_OPERATION_WRITE", key: "parent@folder:root" },
      { op: "TUPLE_OPERATION_WRITE", key: "viewer@user:carl" },
      { op: "TUPLE_OPERATION_WRITE", key: "blocked@user:carl" },
      { op: "TUPLE_OPERATION_WRITE", key: "viewer@user:temp" },
      { op: "TUPLE_OPERATION_DELETE", key: "viewer@user:temp" },
    ]);
    expect(changes.filter((c) => c.key.startsWith("viewer@user:hank"))).toHaveLength(17);
    const mismatch = await rejection(fga.readChanges({ type: "folder" }, { continuationToken: ct! }));
    expect(apiCode(mismatch)).toBe("query_string_type_continuation_token_mismatch");
  });

  it("writes and reads assertions", async () => {
    await fga.writeAssertions([
      { user: "user:anne", relation: "viewer", object: "document:spec", expectation: true },
      { user: "user:carl", relation: "can_read", object: "document:spec", expectation: false },
    ]);
    const a = await fga.readAssertions();
    expect(a.authorization_model_id).toBe(modelId);
    expect(a.assertions).toEqual([
      {
        tuple_key: { user: "user:anne", relation: "viewer", object: "document:spec" },
        expectation: true,
        contextual_tuples: [],
        context: null,
      },
      {
        tuple_key: { user: "user:carl", relation: "can_read", object: "document:spec" },
        expectation: false,
        contextual_tuples: [],
        context: null,
      },
    ]);
  });

  it("isolates tenants: another tenant's store answers as if it did not exist", async () => {
    const other = client(otherKey, { storeId });
    const notFound = [
      () => other.getStore(),
      () => other.check({ user: "user:anne", relation: "viewer", object: "document:spec" }),
      () => other.read(),
      () => other.writeTuples([{ user: "user:mallory", relation: "owner", object: "folder:root" }]),
      () => other.readAuthorizationModels(),
      () => other.writeAuthorizationModel(modelFromDsl()),
      () => other.listObjects({ user: "user:anne", relation: "viewer", type: "document" }),
      () => other.readChanges(),
    ];
    for (const call of notFound) {
      const e = await rejection(call());
      expect(e).toBeInstanceOf(FgaApiNotFoundError);
      expect(apiCode(e)).toBe("store_id_not_found");
    }
    // Its list does not show the store, deleting it is a no-op, and nothing changed.
    expect((await client(otherKey).listStores()).stores).toEqual([]);
    await other.deleteStore();
    expect((await fga.getStore()).id).toBe(storeId);
    expect(
      (await fga.read({ user: "user:mallory", relation: "owner", object: "folder:root" })).tuples,
    ).toEqual([]);
    expect((await fga.readAuthorizationModels()).authorization_models).toHaveLength(1);
    // Its own store of the same shape is separate.
    const own = await client(otherKey).createStore({ name: "docs" });
    expect(own.id).not.toBe(storeId);

    // The platform admin may use any store; it names the tenant to create or list stores.
    const adminClient = client(ADMIN, { storeId });
    expect(
      (await adminClient.check({ user: "user:anne", relation: "viewer", object: "document:spec" })).allowed,
    ).toBe(true);
    const noTenant = await rejection(client(ADMIN).listStores());
    expect(apiCode(noTenant)).toBe("validation_error");
    const listed = await fetch(`${p.url}/stores`, {
      headers: { authorization: `Bearer ${ADMIN}`, "x-portcullis-tenant": tenantId },
    });
    expect(((await listed.json()) as { stores: { id: string }[] }).stores.map((s) => s.id)).toEqual([
      storeId,
    ]);

    // No or a wrong credential: OpenFGA's auth errors.
    const anon = new OpenFgaClient({ apiUrl: p.url, storeId });
    const e = await rejection(anon.check({ user: "user:anne", relation: "viewer", object: "document:spec" }));
    expect(e).toBeInstanceOf(FgaApiAuthenticationError);
    const r = await fetch(`${p.url}/stores/${storeId}/check`, { method: "POST", body: "{}" });
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ code: "bearer_token_missing", message: "missing bearer token" });
  });

  it("returns a consistency token on writes; a check with it sees the write, with the cache warm", async () => {
    const tk = { user: "user:ivan", relation: "viewer", object: "document:spec" };
    await new Promise((r) => setTimeout(r, 350)); // past the commit window of the last write (DynamoDB)
    const before = await raw("POST", `/stores/${storeId}/check`, { tuple_key: tk });
    expect(before.body.allowed).toBe(false);
    const again = await raw("POST", `/stores/${storeId}/check`, { tuple_key: tk });
    expect(again.headers.get("x-portcullis-check-cache")).toBe("hit");

    const w = await raw("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [tk] } });
    expect(w.status).toBe(200);
    const token = w.headers.get(TOKEN_HEADER)!;
    expect(token).toMatch(/^pct1\./);
    expect(w.body).toEqual({ consistency_token: token });

    // Through the SDK, with the token as a header and the cache warm: the write is seen.
    expect((await fga.check(tk, { headers: { [TOKEN_HEADER]: token } })).allowed).toBe(true);
    expect((await fga.check(tk, { headers: { [TOKEN_HEADER]: token } })).allowed).toBe(true);
    expect((await fga.check(tk, { consistency: ConsistencyPreference.HigherConsistency })).allowed).toBe(
      true,
    );
    const objs = await fga.listObjects(
      { user: "user:ivan", relation: "viewer", type: "document" },
      { headers: { [TOKEN_HEADER]: token } },
    );
    expect(objs.objects).toEqual(["document:spec"]);

    // A token of another store, or a malformed one, is refused.
    const foreign = token.replace(storeId, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    const e = await rejection(fga.check(tk, { headers: { [TOKEN_HEADER]: foreign } }));
    expect(apiCode(e)).toBe("validation_error");
    expect(apiCode(await rejection(fga.check(tk, { headers: { [TOKEN_HEADER]: "nope" } })))).toBe(
      "validation_error",
    );
  });
});
