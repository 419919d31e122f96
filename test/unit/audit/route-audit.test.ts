import { describe, expect, it } from "vitest";
import type { AuditEventInput } from "../../../src/audit/events.ts";
import { auditedRoutes, errorCode } from "../../../src/audit/route-audit.ts";
import { json } from "../../../src/http/router.ts";
import type { HttpRequest, RequestContext, Route } from "../../../src/http/types.ts";
import { notFound } from "../../../src/shared/errors.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const log = createLogger({ level: "silent" });
const req: HttpRequest = {
  method: "POST",
  path: "/x",
  headers: { "user-agent": "t" },
  query: {},
  body: "{}",
  requestId: "r1",
  sourceIp: "10.0.0.1",
};
const ctx: RequestContext = { params: {}, principal: { kind: "platform", credentialId: "admin-key" }, log };

function setup(handler: Route["handler"], ok: () => unknown) {
  const emitted: AuditEventInput[] = [];
  const [route] = auditedRoutes(
    [{ method: "POST", path: "/x", access: { kind: "platform" }, handler }],
    [
      {
        method: "POST",
        path: "/x",
        ok: ok as never,
        failed: (c) => ({
          type: "tenant.created",
          tenant: "t",
          resource: "r",
          action: "a",
          decision: "failure",
          reason: errorCode(c.error),
        }),
      },
    ],
    { emit: (e) => emitted.push(e) },
    log,
  );
  return { route: route!, emitted };
}

describe("auditedRoutes", () => {
  it("adds actor, request and latency to what the rule builds; leaves the response alone", async () => {
    const { route, emitted } = setup(
      async () => json(201, { id: "t1" }),
      () => ({
        type: "tenant.created",
        tenant: "t1",
        resource: "tenant:t1",
        action: "create",
        decision: "success",
      }),
    );
    const res = await route.handler(req, ctx);
    expect(res.statusCode).toBe(201);
    expect(emitted).toEqual([
      expect.objectContaining({
        actor: "platform:admin-key",
        request: { id: "r1", ip: "10.0.0.1", user_agent: "t" },
        latency_ms: expect.any(Number),
        tenant: "t1",
      }),
    ]);
  });

  it("a failing handler emits the failure event and rethrows the same error", async () => {
    const err = notFound("nope");
    const { route, emitted } = setup(
      async () => {
        throw err;
      },
      () => undefined,
    );
    await expect(route.handler(req, ctx)).rejects.toBe(err);
    expect(emitted.map((e) => [e.decision, e.reason])).toEqual([["failure", "not_found"]]);
  });

  it("a handler that throws synchronously is audited and rejects like an async one", async () => {
    const err = notFound("sync");
    const { route, emitted } = setup(
      (() => {
        throw err;
      }) as unknown as Route["handler"],
      () => undefined,
    );
    await expect(route.handler(req, ctx)).rejects.toBe(err);
    expect(emitted.map((e) => [e.decision, e.reason])).toEqual([["failure", "not_found"]]);
  });

  it("a handler that returns a plain value (not a promise) is audited too", async () => {
    const { route, emitted } = setup((() => json(200, { id: "t1" })) as unknown as Route["handler"], () => ({
      type: "tenant.created",
      tenant: "t1",
      resource: "tenant:t1",
      action: "create",
      decision: "success",
    }));
    expect((await route.handler(req, ctx)).statusCode).toBe(200);
    expect(emitted).toHaveLength(1);
  });

  it("a rule that throws never changes the response", async () => {
    const { route, emitted } = setup(
      async () => json(200, {}),
      () => {
        throw new Error("rule bug");
      },
    );
    expect((await route.handler(req, ctx)).statusCode).toBe(200);
    expect(emitted).toEqual([]);
  });

  it("routes without a rule are returned unchanged", () => {
    const r: Route = {
      method: "GET",
      path: "/y",
      access: { kind: "public" },
      handler: async () => json(200, {}),
    };
    expect(auditedRoutes([r], [], { emit: () => {} })[0]).toBe(r);
  });
});
