/**
 * Authorization decisions and changes emit exactly one audit event each (one per batch item, one
 * per tuple written), with the right type and fields, on the memory store and DynamoDB Local: the
 * authz routes wrapped with the authz audit rules, behind the real router and authenticator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { authzAuditRules } from "../../src/audit/authz-rules.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { findSecrets } from "../../src/audit/redact.ts";
import { auditedRoutes } from "../../src/audit/route-audit.ts";
import { createRouter, type Dispatch } from "../../src/http/router.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint, useDynamoDbTables } from "../support/dynamodb.ts";
import { DOCUMENT_VIEWER_MODEL } from "../support/models.ts";

const ADMIN = "admin-key-for-audit-authz-tests";
const log = createLogger({ level: "silent" });
const ddb = useDynamoDbTables();

describe.each(["memory", "dynamodb"] as const)("authz audit events (store %s)", (store) => {
  let c: Container;
  let dispatch: Dispatch;
  const events: AuditEvent[] = [];
  let apiKey = "";
  let tenantId = "";
  let n = 0;

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    key = apiKey,
    headers: Record<string, string> = {},
  ) => {
    const res = await dispatch(
      {
        method,
        path,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
        query: {},
        body: body === undefined ? undefined : JSON.stringify(body),
        requestId: `req-${++n}`,
        sourceIp: "203.0.113.7",
      },
      log,
    );
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : {}, headers: res.headers ?? {} };
  };
  /** Events emitted by `f`, and only those. */
  const during = async (f: () => Promise<unknown>): Promise<AuditEvent[]> => {
    const from = events.length;
    await f();
    return events.slice(from);
  };

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_LOG_LEVEL: "silent",
      PORTCULLIS_STORE: store,
    };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      env.PORTCULLIS_TABLE_PREFIX = ddb.names.audit.replace(/-audit$/, "");
    }
    c = createContainer(configFromEnv(env, { issuer: "http://localhost" }));
    const tenant = await c.tenants.create("acme");
    tenantId = tenant.id;
    apiKey = (await c.tenants.createApiKey(tenant.id, "k")).key;
    // Capture what the emitter enqueues (the envelope and redaction included).
    const bus = c.audit.bus;
    const publish = bus.publish.bind(bus);
    bus.publish = (e) => {
      events.push(e);
      publish(e);
    };
    const rules = authzAuditRules({ tenantOfStore: async (id) => (await c.authz.getStore(id)).tenantId });
    dispatch = createRouter({
      routes: auditedRoutes(c.authzApi.routes, rules, c.audit.emitter, log),
      authenticator: c.authzApi.authenticator,
      renderError: c.authzApi.renderError,
    });
  });
  afterAll(() => c?.audit.destroy());

  it("emits one event per store change, model write and tuple written or deleted", async () => {
    let storeId = "";
    const created = await during(async () => {
      const r = await call("POST", "/stores", { name: "docs" });
      storeId = r.body.id;
    });
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      type: "authz.store.created",
      tenant: tenantId,
      resource: `store:${storeId}`,
      decision: "success",
    });
    const model = await during(() =>
      call("POST", `/stores/${storeId}/authorization-models`, DOCUMENT_VIEWER_MODEL),
    );
    expect(model).toHaveLength(1);
    expect(model[0]!.type).toBe("authz.model.written");
    expect(model[0]!.model_id).toMatch(/^[0-9A-Z]{26}$/);
    const writes = await during(() =>
      call("POST", `/stores/${storeId}/write`, {
        writes: {
          tuple_keys: [
            { user: "user:anne", relation: "viewer", object: "document:roadmap" },
            { user: "user:bob", relation: "viewer", object: "document:roadmap" },
          ],
        },
      }),
    );
    expect(writes.map((e) => [e.type, e.subject, e.resource, e.action])).toEqual([
      ["authz.tuples.written", "user:anne", "document:roadmap", "write:viewer"],
      ["authz.tuples.written", "user:bob", "document:roadmap", "write:viewer"],
    ]);
    expect(writes[0]!.consistency_token).toBeTruthy();
    const deletes = await during(() =>
      call("POST", `/stores/${storeId}/write`, {
        deletes: { tuple_keys: [{ user: "user:bob", relation: "viewer", object: "document:roadmap" }] },
      }),
    );
    expect(deletes.map((e) => e.action)).toEqual(["delete:viewer"]);

    // Decisions.
    const allowed = await during(() =>
      call("POST", `/stores/${storeId}/check`, {
        tuple_key: { user: "user:anne", relation: "viewer", object: "document:roadmap" },
      }),
    );
    expect(allowed).toHaveLength(1);
    expect(allowed[0]).toMatchObject({
      type: "authz.check",
      tenant: tenantId,
      actor: expect.stringMatching(/^apikey:/),
      subject: "user:anne",
      resource: "document:roadmap",
      action: "viewer",
      decision: "allow",
      // The granting path: here the one tuple.
      reason: "document:roadmap#viewer@user:anne",
      region: "local",
      request: { id: expect.any(String), ip: "203.0.113.7" },
    });
    expect(allowed[0]!.model_id).toBe(model[0]!.model_id);
    expect(allowed[0]!.latency_ms).toBeGreaterThanOrEqual(0);
    const denied = await during(() =>
      call("POST", `/stores/${storeId}/check`, {
        tuple_key: { user: "user:bob", relation: "viewer", object: "document:roadmap" },
      }),
    );
    expect(denied.map((e) => [e.decision, e.reason])).toEqual([["deny", "no path"]]);

    const batch = await during(() =>
      call("POST", `/stores/${storeId}/batch-check`, {
        checks: [
          {
            tuple_key: { user: "user:anne", relation: "viewer", object: "document:roadmap" },
            correlation_id: "a",
          },
          {
            tuple_key: { user: "user:bob", relation: "viewer", object: "document:roadmap" },
            correlation_id: "b",
          },
          {
            tuple_key: { user: "user:carl", relation: "viewer", object: "document:roadmap" },
            correlation_id: "c",
          },
        ],
      }),
    );
    expect(batch.map((e) => [e.type, e.subject, e.decision])).toEqual([
      ["authz.check", "user:anne", "allow"],
      ["authz.check", "user:bob", "deny"],
      ["authz.check", "user:carl", "deny"],
    ]);
    expect(batch.map((e) => e.detail?.correlation_id)).toEqual(["a", "b", "c"]);
    expect(batch.map((e) => e.reason)).toEqual(["document:roadmap#viewer@user:anne", "no path", "no path"]);

    // Correlation ids that name Object.prototype members are ids like any other.
    const odd = await during(() =>
      call("POST", `/stores/${storeId}/batch-check`, {
        checks: ["__proto__", "constructor"].map((correlation_id) => ({
          tuple_key: { user: "user:anne", relation: "viewer", object: "document:roadmap" },
          correlation_id,
        })),
      }),
    );
    expect(odd.map((e) => [e.detail?.correlation_id, e.decision, e.reason])).toEqual([
      ["__proto__", "allow", "document:roadmap#viewer@user:anne"],
      ["constructor", "allow", "document:roadmap#viewer@user:anne"],
    ]);

    const listed = await during(() =>
      call("POST", `/stores/${storeId}/list-objects`, {
        type: "document",
        relation: "viewer",
        user: "user:anne",
      }),
    );
    expect(listed.map((e) => [e.type, e.resource, e.action, e.decision, e.detail?.objects])).toEqual([
      ["authz.list_objects", "type:document", "viewer", "allow", 1],
    ]);
    const users = await during(() =>
      call("POST", `/stores/${storeId}/list-users`, {
        object: { type: "document", id: "roadmap" },
        relation: "viewer",
        user_filters: [{ type: "user" }],
      }),
    );
    expect(users.map((e) => [e.type, e.resource, e.decision])).toEqual([
      ["authz.list_users", "document:roadmap", "allow"],
    ]);

    // Reads are not audited; a failed write is, once.
    expect(await during(() => call("POST", `/stores/${storeId}/read`, {}))).toEqual([]);
    const bad = await during(() =>
      call("POST", `/stores/${storeId}/write`, {
        writes: { tuple_keys: [{ user: "user:x", relation: "nope", object: "document:x" }] },
      }),
    );
    expect(bad.map((e) => [e.type, e.decision])).toEqual([["authz.tuples.written", "failure"]]);

    // The platform admin's calls are attributed to the store's tenant.
    const admin = await during(() =>
      call(
        "POST",
        `/stores/${storeId}/check`,
        { tuple_key: { user: "user:anne", relation: "viewer", object: "document:roadmap" } },
        ADMIN,
      ),
    );
    expect(admin.map((e) => [e.tenant, e.actor, e.reason])).toEqual([
      [tenantId, "platform:admin-key", "document:roadmap#viewer@user:anne"],
    ]);

    const deleted = await during(() => call("DELETE", `/stores/${storeId}`));
    expect(deleted.map((e) => [e.type, e.tenant, e.decision])).toEqual([
      ["authz.store.deleted", tenantId, "success"],
    ]);
    // The platform admin deleting a store: attributed to its owner, resolved before it is gone.
    const other = await call("POST", "/stores", { name: "tmp" });
    const byAdmin = await during(() => call("DELETE", `/stores/${other.body.id}`, undefined, ADMIN));
    expect(byAdmin.map((e) => [e.type, e.tenant, e.actor])).toEqual([
      ["authz.store.deleted", tenantId, "platform:admin-key"],
    ]);

    expect(events.filter((e) => e.type === "authz.store.created")).toHaveLength(2);
    for (const e of events) expect(findSecrets(e)).toEqual([]);
    expect(JSON.stringify(events)).not.toContain(apiKey);
  });

  it("the events reach the audit store of the platform (in-process bus)", async () => {
    await c.audit.emitter.flush();
    const page = await c.audit.store.query(tenantId, { type: "authz.check" }, { limit: 100 });
    expect(page.items.length).toBe(events.filter((e) => e.type === "authz.check").length);
  });
});
