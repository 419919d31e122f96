import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import type { LambdaHttpHandler } from "../../functions/_shared/lambda.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";

const ADMIN = "admin-key-for-tests-0123456789";

interface Res {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

describe("admin API handler (API Gateway v2 events, memory store)", () => {
  let c: Container;
  let admin: LambdaHttpHandler;
  let logLines: string[];

  const call = async (init: Parameters<typeof apiEvent>[0]): Promise<Res> => {
    const r = (await admin(apiEvent(init), lambdaContext)) as APIGatewayProxyStructuredResultV2;
    const text = typeof r.body === "string" ? r.body : "";
    return {
      status: r.statusCode ?? 0,
      headers: (r.headers ?? {}) as Record<string, string>,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const asAdmin = (init: Parameters<typeof apiEvent>[0]) =>
    call({ ...init, headers: { ...bearer(ADMIN), ...init.headers } });
  const newTenant = async (name = "acme") =>
    (await asAdmin({ method: "POST", path: "/admin/v1/tenants", body: { name } })).body;

  beforeEach(() => {
    logLines = [];
    const config = configFromEnv({ PORTCULLIS_ADMIN_KEY: ADMIN }, { issuer: "http://127.0.0.1:4000" });
    c = createContainer(config, { log: createLogger({ level: "debug", write: (l) => logLines.push(l) }) });
    admin = createHandlers(c).admin!;
  });

  it("creates, gets, lists and soft-deletes tenants", async () => {
    const created = await asAdmin({
      method: "POST",
      path: "/admin/v1/tenants",
      body: { name: "  Acme Corp " },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Acme Corp", deleted_at: null });
    expect(created.body.id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(Date.parse(created.body.created_at as string)).not.toBeNaN();
    expect(created.headers.location).toBe(`/admin/v1/tenants/${created.body.id}`);
    expect(created.headers["x-request-id"]).toBeTruthy();

    const got = await asAdmin({ method: "GET", path: `/admin/v1/tenants/${created.body.id}` });
    expect(got.body).toEqual(created.body);

    for (const n of ["b", "c", "d"]) await newTenant(n);
    const page1 = await asAdmin({ method: "GET", path: "/admin/v1/tenants", query: { page_size: "3" } });
    expect((page1.body.tenants as unknown[]).length).toBe(3);
    expect(page1.body.continuation_token).toEqual(expect.any(String));
    const page2 = await asAdmin({
      method: "GET",
      path: "/admin/v1/tenants",
      query: { page_size: "3", continuation_token: page1.body.continuation_token as string },
    });
    expect((page2.body.tenants as { name: string }[]).map((t) => t.name)).toEqual(["d"]);
    expect(page2.body.continuation_token).toBeNull();

    const del = await asAdmin({ method: "DELETE", path: `/admin/v1/tenants/${created.body.id}` });
    expect(del.status).toBe(200);
    expect(del.body.deleted_at).toEqual(expect.any(String));
    const again = await asAdmin({ method: "DELETE", path: `/admin/v1/tenants/${created.body.id}` });
    expect(again.body.deleted_at).toBe(del.body.deleted_at);
  });

  it("creates tenant API keys shown once, stored hashed, that authenticate for their tenant only", async () => {
    const t = await newTenant();
    const other = await newTenant("other");
    const k = await asAdmin({
      method: "POST",
      path: `/admin/v1/tenants/${t.id}/api-keys`,
      body: { name: "ci" },
    });
    expect(k.status).toBe(201);
    const key = k.body.key as string;
    expect(key).toMatch(/^pcl_[A-Za-z0-9_-]{43}$/);
    const stored = await c.tenantStore.getApiKey(t.id as string, k.body.id as string);
    expect(JSON.stringify(stored)).not.toContain(key.slice(4));
    const listed = await asAdmin({ method: "GET", path: `/admin/v1/tenants/${t.id}/api-keys` });
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect((listed.body.api_keys as unknown[]).length).toBe(1);

    const own = await call({ method: "GET", path: `/admin/v1/tenants/${t.id}`, headers: bearer(key) });
    expect(own.status).toBe(200);
    expect(own.body.id).toBe(t.id);
    // Another tenant's resource: 404, never data.
    const foreign = await call({
      method: "GET",
      path: `/admin/v1/tenants/${other.id}`,
      headers: bearer(key),
    });
    expect(foreign.status).toBe(404);
    expect(JSON.stringify(foreign.body)).not.toContain("other");
    // Platform-wide endpoints are out of reach for a tenant key.
    const list = await call({ method: "GET", path: "/admin/v1/tenants", headers: bearer(key) });
    expect(list.status).toBe(403);
    const mint = await call({
      method: "POST",
      path: `/admin/v1/tenants/${t.id}/api-keys`,
      headers: bearer(key),
      body: {},
    });
    expect(mint.status).toBe(403);

    const revoked = await asAdmin({
      method: "DELETE",
      path: `/admin/v1/tenants/${t.id}/api-keys/${k.body.id}`,
    });
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    const after = await call({ method: "GET", path: `/admin/v1/tenants/${t.id}`, headers: bearer(key) });
    expect(after.status).toBe(401);
    expect(logLines.join("")).not.toContain(key);
  });

  it("refuses a key of a deleted tenant, and key creation in it", async () => {
    const t = await newTenant();
    const key = (await asAdmin({ method: "POST", path: `/admin/v1/tenants/${t.id}/api-keys` })).body
      .key as string;
    await asAdmin({ method: "DELETE", path: `/admin/v1/tenants/${t.id}` });
    expect(
      (await call({ method: "GET", path: `/admin/v1/tenants/${t.id}`, headers: bearer(key) })).status,
    ).toBe(401);
    expect((await asAdmin({ method: "POST", path: `/admin/v1/tenants/${t.id}/api-keys` })).status).toBe(404);
  });

  it.each([
    ["no credentials", {}],
    ["a wrong key", bearer("wrong-key")],
    ["a wrong tenant key", bearer("pcl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
    ["another scheme", { authorization: `Basic ${Buffer.from(`x:${ADMIN}`).toString("base64")}` }],
  ])("answers 401 problem+json to %s", async (_name, headers) => {
    const r = await call({ method: "GET", path: "/admin/v1/tenants", headers });
    expect(r.status).toBe(401);
    expect(r.headers["content-type"]).toBe("application/problem+json");
    expect(r.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(r.body).toMatchObject({ type: "urn:portcullis:problem:unauthenticated", status: 401 });
    expect(r.body.instance).toMatch(/^urn:request:/);
  });

  describe("bad input gets 4xx problem+json and changes nothing", () => {
    const cases: [string, Parameters<typeof apiEvent>[0], number, string][] = [
      [
        "malformed JSON",
        { method: "POST", path: "/admin/v1/tenants", rawBody: '{"name": "x"' },
        400,
        "validation",
      ],
      ["a wrong type", { method: "POST", path: "/admin/v1/tenants", body: { name: 42 } }, 400, "validation"],
      [
        "a blank name",
        { method: "POST", path: "/admin/v1/tenants", body: { name: "   " } },
        400,
        "validation",
      ],
      [
        "an unknown field",
        { method: "POST", path: "/admin/v1/tenants", body: { name: "x", plan: "gold" } },
        400,
        "validation",
      ],
      [
        "a JSON array",
        { method: "POST", path: "/admin/v1/tenants", body: [{ name: "x" }] },
        400,
        "validation",
      ],
      ["no body", { method: "POST", path: "/admin/v1/tenants" }, 400, "validation"],
      [
        "a too long name",
        { method: "POST", path: "/admin/v1/tenants", body: { name: "x".repeat(129) } },
        400,
        "validation",
      ],
      [
        "control characters",
        { method: "POST", path: "/admin/v1/tenants", body: { name: "a\u0000b" } },
        400,
        "validation",
      ],
      [
        "a non-JSON content type",
        {
          method: "POST",
          path: "/admin/v1/tenants",
          rawBody: "name=x",
          headers: { "content-type": "text/plain" },
        },
        415,
        "unsupported_media_type",
      ],
      [
        "an oversized body",
        { method: "POST", path: "/admin/v1/tenants", body: { name: "x".repeat(1_100_000) } },
        413,
        "payload_too_large",
      ],
      [
        "a bad page size",
        { method: "GET", path: "/admin/v1/tenants", query: { page_size: "0" } },
        400,
        "validation",
      ],
      [
        "a forged continuation token",
        {
          method: "GET",
          path: "/admin/v1/tenants",
          query: { continuation_token: "eyJzIjoiYXBpa2V5czp4IiwiYyI6IngifQ" },
        },
        400,
        "validation",
      ],
      ["an unknown endpoint", { method: "GET", path: "/admin/v1/nope" }, 404, "not_found"],
      ["a wrong method", { method: "PUT", path: "/admin/v1/tenants" }, 405, "method_not_allowed"],
    ];
    it.each(cases)("%s", async (_name, init, status, type) => {
      const before = await c.tenantStore.listTenants({ limit: 100 });
      const r = await asAdmin(init);
      expect(r.status).toBe(status);
      expect(r.headers["content-type"]).toBe("application/problem+json");
      expect(r.body.type).toBe(`urn:portcullis:problem:${type}`);
      expect(r.body.status).toBe(status);
      expect(JSON.stringify(r.body)).not.toMatch(/stack|at .*\.ts|ZodError|node_modules/);
      const after = await c.tenantStore.listTenants({ limit: 100 });
      expect(after.items).toEqual(before.items);
    });

    it("lists each invalid field with a JSON pointer and never echoes the value", async () => {
      const r = await asAdmin({
        method: "POST",
        path: "/admin/v1/tenants",
        body: { name: 42, secret: "hunter2" },
      });
      expect(r.status).toBe(400);
      const errors = r.body.errors as { path: string; message: string }[];
      expect(errors.map((e) => e.path).sort()).toEqual(["/", "/name"]);
      expect(JSON.stringify(r.body)).not.toContain("hunter2");
    });
  });

  it("hides internal failures behind a generic 500 and logs the cause with the request id", async () => {
    const failing = createContainer(configFromEnv({ PORTCULLIS_ADMIN_KEY: ADMIN }, { issuer: "http://x" }), {
      log: createLogger({ level: "debug", write: (l) => logLines.push(l) }),
    });
    failing.tenantStore.listTenants = async () => {
      throw new Error("ResourceNotFoundException: table portcullis-prod-platform not found");
    };
    const r = (await createHandlers(failing).admin!(
      apiEvent({ method: "GET", path: "/admin/v1/tenants", headers: bearer(ADMIN) }),
      lambdaContext,
    )) as APIGatewayProxyStructuredResultV2;
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toContain("portcullis-prod-platform");
    expect(JSON.parse(r.body as string)).toMatchObject({
      type: "urn:portcullis:problem:internal",
      status: 500,
    });
    expect(logLines.some((l) => l.includes("portcullis-prod-platform") && l.includes("request_id"))).toBe(
      true,
    );
  });
});
