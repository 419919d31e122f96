/**
 * Audit end to end on the local platform (memory store and DynamoDB Local): a scripted scenario of
 * admin changes and OAuth decisions emits exactly one event per decision, of the right type and
 * fields; the query API returns them tenant-isolated, filtered, paginated and as an NDJSON export;
 * no secret, token or password appears in any event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { findSecrets } from "../../src/audit/redact.ts";
import { deleteTables } from "../../src/shared/dynamodb.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";
import { DOCUMENT_VIEWER_MODEL } from "../support/models.ts";

const ADMIN = "admin-key-for-audit-e2e";

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, inspected by the assertions
type Json = Record<string, any>;

describe.each(["memory", "dynamodb"] as const)("audit end to end (store %s)", (store) => {
  let p: LocalPlatform;
  let prefix: string | undefined;
  const secrets: string[] = [];
  const ids = { a: "", b: "", keyA: "", keyB: "", keyBId: "", client: "", token: "" };

  const call = async (
    method: string,
    path: string,
    opts: {
      key?: string;
      body?: unknown;
      headers?: Record<string, string>;
      form?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    if (opts.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    }
    const res = await fetch(`${p.url}${path}`, { method, headers, ...(body ? { body } : {}) });
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { text };
    }
    return { status: res.status, body: json, text, headers: res.headers };
  };
  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`,
  });
  /** Every event of a tenant, through the API, following continuation tokens. */
  const allEvents = async (tenant: string, query = "", pageSize = 3): Promise<AuditEvent[]> => {
    const out: AuditEvent[] = [];
    let token: string | null = null;
    do {
      const q = `tenant=${encodeURIComponent(tenant)}&page_size=${pageSize}${query}${token ? `&continuation_token=${token}` : ""}`;
      const r = await call("GET", `/audit/v1/events?${q}`, { key: ADMIN });
      expect(r.status, r.text).toBe(200);
      out.push(...r.body.events);
      token = r.body.continuation_token;
    } while (token);
    return out;
  };

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_STORE: store,
      PORTCULLIS_LOG_LEVEL: "silent",
      PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
    };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      prefix = `e2e-audit-${Math.random().toString(36).slice(2, 10)}`;
      env.PORTCULLIS_TABLE_PREFIX = prefix;
    }
    p = await startLocalPlatform({ env, port: 0, seed: false });

    // The scripted scenario: 15 decisions and changes.
    const a = await call("POST", "/admin/v1/tenants", { key: ADMIN, body: { name: "Acme" } });
    const b = await call("POST", "/admin/v1/tenants", { key: ADMIN, body: { name: "Bolt" } });
    ids.a = a.body.id;
    ids.b = b.body.id;
    const ka = await call("POST", `/admin/v1/tenants/${ids.a}/api-keys`, {
      key: ADMIN,
      body: { name: "ka" },
    });
    const kb = await call("POST", `/admin/v1/tenants/${ids.b}/api-keys`, {
      key: ADMIN,
      body: { name: "kb" },
    });
    ids.keyA = ka.body.key;
    ids.keyB = kb.body.key;
    ids.keyBId = kb.body.id;
    const c = await call("POST", `/admin/v1/tenants/${ids.a}/clients`, {
      key: ADMIN,
      body: { client_name: "svc", scope: "authz:check" },
    });
    expect(c.status, c.text).toBe(201);
    ids.client = c.body.client_id;
    const tok = await call("POST", "/oauth/token", {
      headers: basic(ids.client, c.body.client_secret),
      form: { grant_type: "client_credentials" },
    });
    expect(tok.status, tok.text).toBe(200);
    ids.token = tok.body.access_token;
    const refused = await call("POST", "/oauth/token", {
      headers: basic(ids.client, "pcs_wrong-secret-wrong-secret-wrong-secret"),
      form: { grant_type: "client_credentials" },
    });
    expect(refused.status).toBe(401);
    const introspected = await call("POST", "/oauth/introspect", {
      headers: basic(ids.client, c.body.client_secret),
      form: { token: ids.token },
    });
    expect(introspected.body.active).toBe(true);
    const inactive = await call("POST", "/oauth/introspect", {
      headers: basic(ids.client, c.body.client_secret),
      form: { token: "not-a-token" },
    });
    expect(inactive.body.active).toBe(false);
    const revoked = await call("POST", "/oauth/revoke", {
      headers: basic(ids.client, c.body.client_secret),
      form: { token: ids.token },
    });
    expect(revoked.status).toBe(200);
    expect((await call("POST", "/admin/v1/keys/rotate", { key: ADMIN, body: { force: true } })).status).toBe(
      200,
    );
    expect(
      (await call("DELETE", `/admin/v1/tenants/${ids.b}/api-keys/${ids.keyBId}`, { key: ADMIN })).status,
    ).toBe(200);
    // A refused change is audited too.
    expect(
      (await call("POST", "/admin/v1/tenants/01JNOTATENANT0000000000000/api-keys", { key: ADMIN })).status,
    ).toBe(404);
    // Reads are not changes: no events.
    expect((await call("GET", `/admin/v1/tenants/${ids.a}`, { key: ADMIN })).status).toBe(200);
    secrets.push(ADMIN, ids.keyA, ids.keyB, c.body.client_secret, ids.token);
  }, 60_000);

  afterAll(async () => {
    const client = p?.container.dynamodb;
    if (client && prefix) await deleteTables(client, tableNames(prefix)).catch(() => undefined);
    await p?.close();
  });

  it("emits exactly one event per decision or change, of the right type and fields", async () => {
    const a = await allEvents(ids.a);
    const b = await allEvents(ids.b);
    const platform = await allEvents("_platform");
    const count = (evs: AuditEvent[]) => {
      const m: Record<string, number> = {};
      for (const e of evs) m[`${e.type}/${e.decision}`] = (m[`${e.type}/${e.decision}`] ?? 0) + 1;
      return m;
    };
    expect(count(a)).toEqual({
      "tenant.created/success": 1,
      "apikey.created/success": 1,
      "client.created/success": 1,
      "token.issued/allow": 1,
      "token.refused/deny": 1,
      "token.introspected/allow": 1,
      "token.introspected/deny": 1,
      "token.revoked/success": 1,
    });
    expect(count(b)).toEqual({
      "tenant.created/success": 1,
      "apikey.created/success": 1,
      "apikey.revoked/success": 1,
    });
    expect(count(platform)).toEqual({ "key.rotated/success": 1 });
    const failed = await allEvents("01JNOTATENANT0000000000000");
    expect(failed.map((e) => [e.type, e.decision, e.reason])).toEqual([
      ["apikey.created", "failure", "not_found"],
    ]);

    const issued = a.find((e) => e.type === "token.issued")!;
    expect(issued).toMatchObject({
      v: 1,
      tenant: ids.a,
      actor: `client:${ids.client}`,
      action: "client_credentials",
      region: "local",
      detail: { grant_type: "client_credentials", scope: "authz:check" },
    });
    expect(issued.request?.id).toBeTruthy();
    expect(issued.request?.ip).toBe("127.0.0.1");
    expect(issued.latency_ms).toBeGreaterThanOrEqual(0);
    const revoked = a.find((e) => e.type === "token.revoked")!;
    expect(revoked.resource).toBe(`token:${issued.detail?.jti}`);
    expect(a.find((e) => e.type === "token.refused")).toMatchObject({
      actor: `client:${ids.client}`,
      reason: "invalid_client",
    });
    expect(a.find((e) => e.type === "tenant.created")).toMatchObject({
      actor: "platform:admin-key",
      resource: `tenant:${ids.a}`,
    });
    expect(b.find((e) => e.type === "apikey.revoked")).toMatchObject({ resource: `apikey:${ids.keyBId}` });

    // The redaction guard held: nothing secret anywhere.
    for (const e of [...a, ...b, ...platform, ...failed]) {
      expect(findSecrets(e)).toEqual([]);
      const text = JSON.stringify(e);
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });

  it("isolates tenants: a tenant credential sees its own events only, and needs audit:read", async () => {
    const mine = await call("GET", "/audit/v1/events", { key: ids.keyA });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body.events.length).toBe(8);
    expect(mine.body.events.every((e: AuditEvent) => e.tenant === ids.a)).toBe(true);
    expect((await call("GET", `/audit/v1/events?tenant=${ids.b}`, { key: ids.keyA })).status).toBe(404);
    expect((await call("GET", "/audit/v1/events")).status).toBe(401);
    expect((await call("GET", "/audit/v1/events", { key: ADMIN })).status).toBe(400);
    // A token without audit:read (scope authz:check only) is refused.
    // (In tenant B, so tenant A's events stay those of the scenario.)
    const c = await call("POST", `/admin/v1/tenants/${ids.b}/clients`, {
      key: ADMIN,
      body: { client_name: "ro", scope: "authz:check" },
    });
    const t = await call("POST", "/oauth/token", {
      headers: basic(c.body.client_id, c.body.client_secret),
      form: { grant_type: "client_credentials" },
    });
    expect((await call("GET", "/audit/v1/events", { key: t.body.access_token })).status).toBe(403);
  });

  it("filters by type, actor, resource, decision and time; newest first; paginates", async () => {
    const all = await allEvents(ids.a, "", 100);
    const times = all.map((e) => `${e.time}#${e.id}`);
    expect([...times].sort().reverse()).toEqual(times);
    const paged = await allEvents(ids.a, "", 2);
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const q = async (s: string) => (await allEvents(ids.a, s, 2)).map((e) => e.type);
    expect(await q("&type=token.issued")).toEqual(["token.issued"]);
    expect((await q("&decision=deny")).sort()).toEqual(["token.introspected", "token.refused"]);
    expect((await q("&decision=allow")).sort()).toEqual(["token.introspected", "token.issued"]);
    expect((await q(`&actor=${encodeURIComponent(`client:${ids.client}`)}`)).length).toBe(5);
    expect(await q(`&resource=${encodeURIComponent(`tenant:${ids.a}`)}`)).toEqual(["tenant.created"]);
    const issued = all.find((e) => e.type === "token.issued")!;
    expect(await q(`&from=${issued.time}&to=${issued.time}&type=token.issued`)).toEqual(["token.issued"]);
    expect(await q("&from=2999-01-01T00:00:00Z")).toEqual([]);
    expect(await q(`&to=${encodeURIComponent("2000-01-01T00:00:00+02:00")}`)).toEqual([]);
    // A continuation token is bound to its tenant and filters.
    const first = await call("GET", `/audit/v1/events?tenant=${ids.a}&page_size=1`, { key: ADMIN });
    const other = await call(
      "GET",
      `/audit/v1/events?tenant=${ids.a}&page_size=1&type=token.issued&continuation_token=${first.body.continuation_token}`,
      { key: ADMIN },
    );
    expect(other.status).toBe(400);
    expect(
      (await call("GET", `/audit/v1/events?tenant=${ids.a}&from=yesterday`, { key: ADMIN })).status,
    ).toBe(400);
    expect(
      (await call("GET", `/audit/v1/events?tenant=${ids.a}&decision=maybe`, { key: ADMIN })).status,
    ).toBe(400);
    // An unknown parameter (the page size is `page_size`) is refused, not silently ignored.
    const unknown = await call("GET", `/audit/v1/events?tenant=${ids.a}&limit=2`, { key: ADMIN });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain("limit");
  });

  it("exports NDJSON with Accept: application/x-ndjson", async () => {
    const r = await call("GET", "/audit/v1/events", {
      key: ids.keyA,
      headers: { accept: "application/x-ndjson" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = r.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(lines).toHaveLength(8);
    expect(r.headers.get("portcullis-continuation-token")).toBeNull();
    const part = await call("GET", "/audit/v1/events?page_size=3", {
      key: ids.keyA,
      headers: { accept: "application/x-ndjson" },
    });
    expect(part.text.trim().split("\n")).toHaveLength(3);
    const rest = await call(
      "GET",
      `/audit/v1/events?continuation_token=${part.headers.get("portcullis-continuation-token")}`,
      { key: ids.keyA, headers: { accept: "application/x-ndjson" } },
    );
    expect(rest.text.trim().split("\n")).toHaveLength(5);
  });
  it("authorization decisions through the authz handler reach the query API", async () => {
    const t = await call("POST", "/admin/v1/tenants", { key: ADMIN, body: { name: "Cobalt" } });
    const k = (await call("POST", `/admin/v1/tenants/${t.body.id}/api-keys`, { key: ADMIN })).body
      .key as string;
    const st = await call("POST", "/stores", { key: k, body: { name: "docs" } });
    expect(st.status, st.text).toBe(201);
    const s = st.body.id as string;
    expect(
      (await call("POST", `/stores/${s}/authorization-models`, { key: k, body: DOCUMENT_VIEWER_MODEL }))
        .status,
    ).toBe(201);
    const tk = { user: "user:anne", relation: "viewer", object: "document:plan" };
    expect(
      (await call("POST", `/stores/${s}/write`, { key: k, body: { writes: { tuple_keys: [tk] } } })).status,
    ).toBe(200);
    expect((await call("POST", `/stores/${s}/check`, { key: k, body: { tuple_key: tk } })).body.allowed).toBe(
      true,
    );
    const denied = { ...tk, user: "user:bob" };
    expect(
      (await call("POST", `/stores/${s}/check`, { key: k, body: { tuple_key: denied } })).body.allowed,
    ).toBe(false);
    const r = await call("GET", "/audit/v1/events?type=authz.check", { key: k });
    expect(
      r.body.events.map((e: AuditEvent) => [e.subject, e.resource, e.action, e.decision, e.reason]),
    ).toEqual([
      ["user:bob", "document:plan", "viewer", "deny", "no path"],
      ["user:anne", "document:plan", "viewer", "allow", "document:plan#viewer@user:anne"],
    ]);
    const all = await call("GET", "/audit/v1/events", { key: k });
    expect(all.body.events.map((e: AuditEvent) => e.type).reverse()).toEqual([
      "tenant.created",
      "apikey.created",
      "authz.store.created",
      "authz.model.written",
      "authz.tuples.written",
      "authz.check",
      "authz.check",
    ]);
  });
});
