import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { deleteTables } from "../../src/shared/dynamodb.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";

const ADMIN = "k";
const silent = createLogger({ level: "silent" });

/** The local platform over real HTTP, on both stores: what `npm start` serves. */
describe.each(["memory", "dynamodb"] as const)("local platform over HTTP (%s store)", (store) => {
  let p: LocalPlatform;

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_STORE: store };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      env.PORTCULLIS_TABLE_PREFIX = `e2e-${Date.now().toString(36)}`;
    }
    p = await startLocalPlatform({ env, port: 0, log: silent });
  });
  afterAll(async () => {
    if (store === "dynamodb" && p?.container.dynamodb) {
      await deleteTables(p.container.dynamodb, tableNames(p.container.config.tablePrefix));
    }
    await p?.close();
  });

  const call = async (method: string, path: string, init: { key?: string; body?: string } = {}) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: {
        ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      body: text ? JSON.parse(text) : undefined,
    };
  };

  it("serves /healthz with version, store and region", async () => {
    const r = await call("GET", "/healthz");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok", version: expect.any(String), store, region: "local" });
  });

  it("creates a tenant and a tenant API key that then authenticates; a wrong key gets 401", async () => {
    const t = await call("POST", "/admin/v1/tenants", { key: ADMIN, body: JSON.stringify({ name: "acme" }) });
    expect(t.status).toBe(201);
    const k = await call("POST", `/admin/v1/tenants/${t.body.id}/api-keys`, { key: ADMIN, body: "{}" });
    expect(k.status).toBe(201);
    const own = await call("GET", `/admin/v1/tenants/${t.body.id}`, { key: k.body.key });
    expect(own.body).toMatchObject({ id: t.body.id, name: "acme" });
    const wrong = await call("GET", "/admin/v1/tenants", { key: "not-the-key" });
    expect(wrong.status).toBe(401);
    expect(wrong.type).toBe("application/problem+json");
    expect(wrong.body.type).toBe("urn:portcullis:problem:unauthenticated");
  });

  it("refuses an oversized body with 413 before reading it whole", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${p.url}/admin/v1/tenants`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN}`,
          "content-type": "application/json",
          "content-length": String(2 * 1024 * 1024),
        },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write("x".repeat(1024));
    });
    expect(status).toBe(413);
    const list = await call("GET", "/admin/v1/tenants?page_size=100", { key: ADMIN });
    expect(list.body.tenants.every((t: { name: string }) => t.name !== "x")).toBe(true);
  });

  it("answers 404 problem+json for paths no API group serves", async () => {
    const r = await call("GET", "/nowhere");
    expect(r.status).toBe(404);
    expect(r.type).toBe("application/problem+json");
  });
});
