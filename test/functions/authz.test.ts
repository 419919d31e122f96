/**
 * The authz Lambda handler fed API Gateway v2 events (memory store): OpenFGA's response shapes,
 * the mapping of bad input to OpenFGA error codes (nothing changed, nothing internal leaked),
 * limits, authentication and credential scopes.
 */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import { type LambdaHttpHandler, lambdaHttpHandler } from "../../functions/_shared/lambda.ts";
import { createAuthzHttp, DEFAULT_AUTHZ_HTTP_SETTINGS } from "../../src/authz/http/index.ts";
import { createRouter } from "../../src/http/router.ts";
import type { Principal } from "../../src/http/types.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";

const ADMIN = "admin-key-for-authz-tests-0123456789";

interface Res {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: Record<string, unknown>;
}

const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "document",
      relations: { viewer: { this: {} }, owner: { this: {} } },
      metadata: {
        relations: {
          viewer: { directly_related_user_types: [{ type: "user" }, { type: "user", wildcard: {} }] },
          owner: { directly_related_user_types: [{ type: "user", condition: "office_hours" }] },
        },
      },
    },
  ],
  conditions: {
    office_hours: {
      name: "office_hours",
      expression: "hour >= 9 && hour < 17",
      parameters: { hour: { type_name: "TYPE_NAME_INT" } },
    },
  },
};

async function invoke(handler: LambdaHttpHandler, init: Parameters<typeof apiEvent>[0]): Promise<Res> {
  const r = (await handler(apiEvent(init), lambdaContext)) as APIGatewayProxyStructuredResultV2;
  const text = typeof r.body === "string" ? r.body : "";
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = {};
  }
  return { status: r.statusCode ?? 0, headers: (r.headers ?? {}) as Record<string, string>, text, body };
}

describe("authz API handler (API Gateway v2 events, memory store)", () => {
  let c: Container;
  let authz: LambdaHttpHandler;
  let logLines: string[];
  let key: string;
  let storeId: string;
  let modelId: string;

  const call = (init: Parameters<typeof apiEvent>[0]) =>
    invoke(authz, { ...init, headers: { ...bearer(key), ...init.headers } });
  const post = (path: string, body: unknown) =>
    call({ method: "POST", path: `/stores/${storeId}${path}`, body });
  const tuples = async () => ((await post("/read", {})).body.tuples as unknown[]).length;
  const changes = async () =>
    ((await call({ method: "GET", path: `/stores/${storeId}/changes` })).body.changes as unknown[]).length;

  beforeEach(async () => {
    logLines = [];
    const config = configFromEnv({ PORTCULLIS_ADMIN_KEY: ADMIN }, { issuer: "http://127.0.0.1:4000" });
    c = createContainer(config, { log: createLogger({ level: "debug", write: (l) => logLines.push(l) }) });
    authz = createHandlers(c).authz!;
    const t = await c.tenants.create("acme");
    key = (await c.tenants.createApiKey(t.id, "k")).key;
    storeId = (await call({ method: "POST", path: "/stores", body: { name: "docs" } })).body.id as string;
    modelId = (await post("/authorization-models", MODEL)).body.authorization_model_id as string;
    await post("/write", {
      writes: { tuple_keys: [{ user: "user:anne", relation: "viewer", object: "document:1" }] },
    });
  });

  describe("answers in OpenFGA's shapes, every field present", () => {
    it("stores", async () => {
      const created = await call({ method: "POST", path: "/stores", body: { name: "other" } });
      expect(created.status).toBe(201);
      expect(Object.keys(created.body).sort()).toEqual(["created_at", "id", "name", "updated_at"]);
      const got = await call({ method: "GET", path: `/stores/${created.body.id}` });
      expect(got.body).toEqual({ ...created.body, deleted_at: null });
      const del = await call({ method: "DELETE", path: `/stores/${created.body.id}` });
      expect(del.status).toBe(204);
      expect(del.text).toBe("");
      const list = await call({ method: "GET", path: "/stores" });
      expect(list.body).toEqual({
        stores: [expect.objectContaining({ id: storeId, name: "docs", deleted_at: null })],
        continuation_token: "",
      });
    });

    it("models, with defaults and the mixed camelCase/snake_case names", async () => {
      const r = await call({ method: "GET", path: `/stores/${storeId}/authorization-models/${modelId}` });
      expect(r.body).toEqual({
        authorization_model: {
          id: modelId,
          schema_version: "1.1",
          type_definitions: [
            { type: "user", relations: {}, metadata: null },
            {
              type: "document",
              relations: { viewer: { this: {} }, owner: { this: {} } },
              metadata: {
                relations: {
                  viewer: {
                    directly_related_user_types: [
                      { type: "user", condition: "" },
                      { type: "user", wildcard: {}, condition: "" },
                    ],
                    module: "",
                    source_info: null,
                  },
                  owner: {
                    directly_related_user_types: [{ type: "user", condition: "office_hours" }],
                    module: "",
                    source_info: null,
                  },
                },
                module: "",
                source_info: null,
              },
            },
          ],
          conditions: {
            office_hours: {
              name: "office_hours",
              expression: "hour >= 9 && hour < 17",
              parameters: { hour: { type_name: "TYPE_NAME_INT", generic_types: [] } },
              metadata: null,
            },
          },
        },
      });
      expect(r.headers["openfga-authorization-model-id"]).toBe(modelId);
    });

    it("tuples, changes, empty pages and assertions", async () => {
      const read = await post("/read", {});
      expect(read.body).toEqual({
        tuples: [
          {
            key: { object: "document:1", relation: "viewer", user: "user:anne", condition: null },
            timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/),
          },
        ],
        continuation_token: "",
      });
      const ch = await call({ method: "GET", path: `/stores/${storeId}/changes` });
      expect((ch.body.changes as { operation: string }[])[0]?.operation).toBe("TUPLE_OPERATION_WRITE");
      const none = await post("/read", { tuple_key: { object: "document:2" } });
      expect(none.body).toEqual({ tuples: [], continuation_token: "" });
      const put = await call({
        method: "PUT",
        path: `/stores/${storeId}/assertions/${modelId}`,
        body: {
          assertions: [
            { tuple_key: { object: "document:1", relation: "viewer", user: "user:anne" }, expectation: true },
          ],
        },
      });
      expect(put.status).toBe(204);
      const got = await call({ method: "GET", path: `/stores/${storeId}/assertions/${modelId}` });
      expect(got.body).toEqual({
        authorization_model_id: modelId,
        assertions: [
          {
            tuple_key: { object: "document:1", relation: "viewer", user: "user:anne" },
            expectation: true,
            contextual_tuples: [],
            context: null,
          },
        ],
      });
    });

    it("check, write, batch-check and list-users", async () => {
      const check = await post("/check", {
        tuple_key: { user: "user:anne", relation: "viewer", object: "document:1" },
      });
      expect(check.body).toEqual({ allowed: true, resolution: "" });
      const w = await post("/write", {
        writes: { tuple_keys: [{ user: "user:*", relation: "viewer", object: "document:2" }] },
      });
      expect(w.body).toEqual({ consistency_token: w.headers["x-portcullis-consistency-token"] });
      const batch = await post("/batch-check", {
        checks: [
          { tuple_key: { user: "user:bob", relation: "viewer", object: "document:2" }, correlation_id: "1" },
          { tuple_key: { user: "user:bob", relation: "nope", object: "document:2" }, correlation_id: "2" },
        ],
      });
      expect(batch.body).toEqual({
        result: {
          "1": { allowed: true },
          "2": { error: { input_error: "validation_error", message: expect.any(String) } },
        },
      });
      const users = await post("/list-users", {
        object: { type: "document", id: "2" },
        relation: "viewer",
        user_filters: [{ type: "user" }],
      });
      expect(users.body).toEqual({ users: [{ wildcard: { type: "user" } }] });
    });
  });

  it("accepts protobuf JSON: camelCase names, nulls, unknown fields, enum numbers", async () => {
    const r = await post("/check", {
      tupleKey: { user: "user:anne", relation: "viewer", object: "document:1" },
      authorizationModelId: modelId,
      contextualTuples: null,
      consistency: 200,
      somethingNew: { ignored: true },
    });
    expect(r.status).toBe(200);
    expect(r.body.allowed).toBe(true);
    const w = await post("/write", {
      writes: {
        tupleKeys: [{ user: "user:bob", relation: "viewer", object: "document:9" }],
        onDuplicate: "ignore",
      },
    });
    expect(w.status).toBe(200);
  });

  describe("bad input gets OpenFGA's error codes and changes nothing", () => {
    const tk = (user: string, relation = "viewer", object = "document:1") => ({ user, relation, object });
    const cases: [string, string, unknown, number, string][] = [
      ["malformed JSON", "/write", 'RAW:{"writes":', 400, "validation_error"],
      ["a JSON array", "/write", [], 400, "validation_error"],
      ["tuple_keys of the wrong type", "/write", { writes: { tuple_keys: "x" } }, 400, "validation_error"],
      [
        "a user with whitespace",
        "/write",
        { writes: { tuple_keys: [tk("user: anne")] } },
        400,
        "validation_error",
      ],
      [
        "an over-long object",
        "/write",
        { writes: { tuple_keys: [tk("user:x", "viewer", `document:${"x".repeat(300)}`)] } },
        400,
        "validation_error",
      ],
      [
        "an unknown relation",
        "/write",
        { writes: { tuple_keys: [tk("user:bob", "editor")] } },
        400,
        "validation_error",
      ],
      [
        "a type restriction",
        "/write",
        { writes: { tuple_keys: [tk("document:2")] } },
        400,
        "validation_error",
      ],
      [
        "an undeclared condition",
        "/write",
        { writes: { tuple_keys: [{ ...tk("user:bob"), condition: { name: "nope" } }] } },
        400,
        "validation_error",
      ],
      ["neither writes nor deletes", "/write", {}, 400, "invalid_write_input"],
      ["empty tuple_keys", "/write", { writes: { tuple_keys: [] } }, 400, "validation_error"],
      [
        "the same tuple twice",
        "/write",
        { writes: { tuple_keys: [tk("user:bob")] }, deletes: { tuple_keys: [tk("user:bob")] } },
        400,
        "cannot_allow_duplicate_tuples_in_one_request",
      ],
      [
        "a bad on_duplicate",
        "/write",
        { writes: { tuple_keys: [tk("user:bob")], on_duplicate: "merge" } },
        400,
        "validation_error",
      ],
      [
        "101 tuples",
        "/write",
        { writes: { tuple_keys: Array.from({ length: 101 }, (_, i) => tk(`user:u${i}`)) } },
        400,
        "exceeded_entity_limit",
      ],
      [
        "an existing tuple",
        "/write",
        { writes: { tuple_keys: [tk("user:anne")] } },
        400,
        "write_failed_due_to_invalid_input",
      ],
      [
        "a missing delete",
        "/write",
        { deletes: { tuple_keys: [tk("user:zed")] } },
        400,
        "write_failed_due_to_invalid_input",
      ],
      [
        "a different condition under on_duplicate ignore",
        "/write",
        {
          writes: {
            tuple_keys: [{ ...tk("user:anne", "viewer"), condition: { name: "office_hours" } }],
            on_duplicate: "ignore",
          },
        },
        400,
        "validation_error",
      ],
      [
        "an unknown model id",
        "/write",
        { writes: { tuple_keys: [tk("user:bob")] }, authorization_model_id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" },
        400,
        "authorization_model_not_found",
      ],
      [
        "a malformed model id",
        "/write",
        { writes: { tuple_keys: [tk("user:bob")] }, authorization_model_id: "nope" },
        400,
        "validation_error",
      ],
      ["a check without tuple_key", "/check", {}, 400, "validation_error"],
      [
        "a check with a bad consistency",
        "/check",
        { tuple_key: tk("user:anne"), consistency: "FAST" },
        400,
        "validation_error",
      ],
      [
        "101 contextual tuples",
        "/check",
        {
          tuple_key: tk("user:anne"),
          contextual_tuples: { tuple_keys: Array.from({ length: 101 }, (_, i) => tk(`user:c${i}`)) },
        },
        400,
        "validation_error",
      ],
      [
        "an invalid contextual tuple",
        "/check",
        { tuple_key: tk("user:anne"), contextual_tuples: { tuple_keys: [tk("document:3")] } },
        400,
        "invalid_tuple",
      ],
      [
        "a context that is not an object",
        "/check",
        { tuple_key: tk("user:anne"), context: [1] },
        400,
        "validation_error",
      ],
      ["an empty batch", "/batch-check", { checks: [] }, 400, "validation_error"],
      [
        "51 checks",
        "/batch-check",
        {
          checks: Array.from({ length: 51 }, (_, i) => ({
            tuple_key: tk("user:anne"),
            correlation_id: `c${i}`,
          })),
        },
        400,
        "validation_error",
      ],
      [
        "duplicate correlation ids",
        "/batch-check",
        { checks: [0, 1].map(() => ({ tuple_key: tk("user:anne"), correlation_id: "same" })) },
        400,
        "validation_error",
      ],
      [
        "a bad correlation id",
        "/batch-check",
        { checks: [{ tuple_key: tk("user:anne"), correlation_id: "a b" }] },
        400,
        "validation_error",
      ],
      [
        "list-objects of an unknown type",
        "/list-objects",
        { type: "folder", relation: "viewer", user: "user:anne" },
        400,
        "type_not_found",
      ],
      [
        "list-objects of an unknown relation",
        "/list-objects",
        { type: "document", relation: "nope", user: "user:anne" },
        400,
        "relation_not_found",
      ],
      [
        "list-objects with a bad user",
        "/list-objects",
        { type: "document", relation: "viewer", user: "anne" },
        400,
        "validation_error",
      ],
      [
        "a foreign list continuation",
        "/list-objects",
        { type: "document", relation: "viewer", user: "user:anne", continuation_token: "x" },
        400,
        "invalid_continuation_token",
      ],
      [
        "list-users with two filters",
        "/list-users",
        {
          object: { type: "document", id: "1" },
          relation: "viewer",
          user_filters: [{ type: "user" }, { type: "user" }],
        },
        400,
        "validation_error",
      ],
      [
        "an expand of an unknown relation",
        "/expand",
        { tuple_key: { object: "document:1", relation: "nope" } },
        400,
        "validation_error",
      ],
      ["a read with a bad token", "/read", { continuation_token: "!!" }, 400, "invalid_continuation_token"],
      ["a read page size of 0", "/read", { page_size: 0 }, 400, "page_size_invalid"],
      ["a read without object type", "/read", { tuple_key: { relation: "viewer" } }, 400, "validation_error"],
      [
        "an invalid model",
        "/authorization-models",
        {
          schema_version: "1.1",
          type_definitions: [{ type: "a", relations: { r: { computedUserset: { relation: "x" } } } }],
        },
        400,
        "invalid_authorization_model",
      ],
      [
        "an unsupported schema version",
        "/authorization-models",
        { schema_version: "0.9", type_definitions: [{ type: "user" }] },
        400,
        "invalid_authorization_model",
      ],
      [
        "101 types",
        "/authorization-models",
        {
          schema_version: "1.1",
          type_definitions: Array.from({ length: 101 }, (_, i) => ({ type: `t${i}` })),
        },
        400,
        "exceeded_entity_limit",
      ],
    ];
    it.each(cases)("%s", async (_name, path, body, status, code) => {
      const beforeTuples = await tuples();
      const beforeChanges = await changes();
      const beforeModels = (
        (await call({ method: "GET", path: `/stores/${storeId}/authorization-models` })).body
          .authorization_models as unknown[]
      ).length;
      const init =
        typeof body === "string" && body.startsWith("RAW:")
          ? { method: "POST", path: `/stores/${storeId}${path}`, rawBody: body.slice(4) }
          : { method: "POST", path: `/stores/${storeId}${path}`, body };
      const r = await call(init);
      if (code === "invalid_authorization_model" && r.body.code === "unsupported_schema_version") {
        expect(r.status).toBe(400);
      } else {
        expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
      }
      expect(Object.keys(r.body).sort()).toEqual(["code", "message"]);
      expect(typeof r.body.message).toBe("string");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(await tuples()).toBe(beforeTuples);
      expect(await changes()).toBe(beforeChanges);
      const afterModels = (
        (await call({ method: "GET", path: `/stores/${storeId}/authorization-models` })).body
          .authorization_models as unknown[]
      ).length;
      expect(afterModels).toBe(beforeModels);
    });
  });

  it.each([
    ["a page size that is not a number", { page_size: "ten" }, "validation_error"],
    ["a page size over 100", { page_size: "101" }, "page_size_invalid"],
    ["a start time in the future", { start_time: "2999-01-01T00:00:00Z" }, "invalid_start_time"],
    ["a start time that is no time", { start_time: "yesterday" }, "invalid_start_time"],
    ["a garbled token", { continuation_token: "@@@" }, "invalid_continuation_token"],
  ])("refuses read-changes with %s", async (_name, query, code) => {
    const r = await call({ method: "GET", path: `/stores/${storeId}/changes`, query });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(code);
  });

  it("refuses malformed store ids with 400 and unknown ones with 404", async () => {
    const bad = await call({ method: "GET", path: "/stores/not-a-ulid" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("validation_error");
    const missing = await call({
      method: "POST",
      path: "/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/check",
      body: { tuple_key: { user: "user:anne", relation: "viewer", object: "document:1" } },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("store_id_not_found");
  });

  it("routing, authentication and the body limit speak OpenFGA's error shape", async () => {
    const unknown = await call({ method: "POST", path: `/stores/${storeId}/nothing`, body: {} });
    expect(unknown).toMatchObject({ status: 404, body: { code: "undefined_endpoint" } });
    const method = await call({ method: "PATCH", path: `/stores/${storeId}/check`, body: {} });
    expect(method).toMatchObject({ status: 405, body: { code: "undefined_endpoint" } });
    const anon = await invoke(authz, { method: "GET", path: "/stores" });
    expect(anon).toMatchObject({ status: 401, body: { code: "bearer_token_missing" } });
    expect(anon.headers["www-authenticate"]).toMatch(/^Bearer/);
    const wrong = await invoke(authz, { method: "GET", path: "/stores", headers: bearer("pcl_wrong") });
    expect(wrong).toMatchObject({ status: 401, body: { code: "unauthenticated" } });
    const big = await call({
      method: "POST",
      path: `/stores/${storeId}/write`,
      rawBody: JSON.stringify({
        writes: {
          tuple_keys: [
            { user: "user:x", relation: "viewer", object: `document:${"x".repeat(2 * 1024 * 1024)}` },
          ],
        },
      }),
    });
    expect(big).toMatchObject({ status: 413, body: { code: "exceeded_entity_limit" } });
    expect(await tuples()).toBe(1);
  });

  it("leaks nothing internal: an unexpected failure is a generic 500, its cause only in the log", async () => {
    const store = c.authzStore as unknown as Record<string, unknown>;
    store.readPage = async () => {
      throw new Error("ValidationException: table portcullis-local-authz, key pk=T#secret");
    };
    const r = await post("/read", {});
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ code: "internal_error", message: "Internal Server Error" });
    expect(r.text).not.toMatch(/portcullis-local|secret|ValidationException|at /);
    expect(r.headers["fga-request-id"]).toBeTruthy();
    const logged = logLines.find((l) => l.includes("ValidationException"));
    expect(logged).toBeDefined();
    expect(JSON.parse(logged!).request_id).toBe(r.headers["x-request-id"]);
  });

  it("never logs credentials", async () => {
    await post("/check", { tuple_key: { user: "user:anne", relation: "viewer", object: "document:1" } });
    expect(logLines.join("\n")).not.toContain(key);
  });
});

describe("authz API credential scopes", () => {
  it("needs authz:write to change, authz:read to read, authz:check to query", async () => {
    const config = configFromEnv({ PORTCULLIS_ADMIN_KEY: ADMIN }, { issuer: "http://127.0.0.1:4000" });
    const c = createContainer(config, { log: createLogger({ level: "silent" }) });
    const tenant = await c.tenants.create("acme");
    const store = await c.authz.createStore({ tenantId: tenant.id, name: "docs" });
    await c.authz.writeAuthorizationModel(store.id, MODEL);
    const principal = (scopes: string[]): Principal => ({
      kind: "tenant",
      tenantId: tenant.id,
      credentialId: "t",
      scopes,
    });
    const handlerFor = (scopes: string[]) => {
      const api = createAuthzHttp({
        service: c.authz,
        store: c.authzStore,
        region: "local",
        tenantIsActive: async () => true,
        authenticator: { authenticate: async () => principal(scopes) },
        settings: DEFAULT_AUTHZ_HTTP_SETTINGS,
        clock: systemClock,
        log: c.log,
      });
      return lambdaHttpHandler({
        dispatch: createRouter({
          routes: api.routes,
          authenticator: api.authenticator,
          renderError: api.renderError,
        }),
        renderError: api.renderError,
        log: c.log,
        bodyLimit: 1024 * 1024,
      });
    };
    const checkOnly = handlerFor(["authz:check"]);
    const headers = { authorization: "Bearer token" };
    const write = await invoke(checkOnly, {
      method: "POST",
      path: `/stores/${store.id}/write`,
      headers,
      body: { writes: { tuple_keys: [{ user: "user:a", relation: "viewer", object: "document:1" }] } },
    });
    expect(write).toMatchObject({ status: 401, body: { code: "forbidden" } });
    const read = await invoke(checkOnly, {
      method: "POST",
      path: `/stores/${store.id}/read`,
      headers,
      body: {},
    });
    expect(read).toMatchObject({ status: 401, body: { code: "forbidden" } });
    const check = await invoke(checkOnly, {
      method: "POST",
      path: `/stores/${store.id}/check`,
      headers,
      body: { tuple_key: { user: "user:a", relation: "viewer", object: "document:1" } },
    });
    expect(check).toMatchObject({ status: 200, body: { allowed: false } });
    const readOnly = handlerFor(["authz:read"]);
    expect(
      (await invoke(readOnly, { method: "POST", path: `/stores/${store.id}/read`, headers, body: {} }))
        .status,
    ).toBe(200);
    expect(
      (await invoke(readOnly, { method: "POST", path: "/stores", headers, body: { name: "x" } })).status,
    ).toBe(401);
    expect((await c.authz.read({ storeId: store.id })).tuples).toEqual([]);
  });
});
