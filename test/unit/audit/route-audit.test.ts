import { describe, expect, it } from "vitest";
import type { AuditEventInput } from "../../../src/audit/events.ts";
import { auditedRoutes, errorCode } from "../../../src/audit/route-audit.ts";
import { json } from "../../../src/http/router.ts";
import type { HttpRequest, RequestContext, Route } from "../../../src/http/types.ts";
import { notFound } from "../../../src/shared/errors.ts";
import { createLogger } from "../../../src/shared/logger.ts";
import { routerOf } from "../../support/router.ts";

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

/**
 * An audited route behind a router (the router tells the route's observer the outcome); `call`
 * answers the response and the errors the router rendered.
 */
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
  const { dispatch, rendered } = routerOf(route!, ctx.principal);
  return { emitted, rendered, call: () => dispatch(req, log) };
}

describe("auditedRoutes", () => {
  it("adds actor, request and latency to what the rule builds; leaves the response alone", async () => {
    const { call, emitted } = setup(
      async () => json(201, { id: "t1" }),
      () => ({
        type: "tenant.created",
        tenant: "t1",
        resource: "tenant:t1",
        action: "create",
        decision: "success",
      }),
    );
    const res = await call();
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

  it("a failing handler emits the failure event; the router renders the same error", async () => {
    const err = notFound("nope");
    const { call, emitted, rendered } = setup(
      async () => {
        throw err;
      },
      () => undefined,
    );
    expect((await call()).statusCode).toBe(500);
    expect(rendered).toEqual([err]);
    expect(emitted.map((e) => [e.decision, e.reason])).toEqual([["failure", "not_found"]]);
  });

  it("a handler that throws synchronously is audited and fails like an async one", async () => {
    const err = notFound("sync");
    const { call, emitted, rendered } = setup(
      (() => {
        throw err;
      }) as unknown as Route["handler"],
      () => undefined,
    );
    expect((await call()).statusCode).toBe(500);
    expect(rendered).toEqual([err]);
    expect(emitted.map((e) => [e.decision, e.reason])).toEqual([["failure", "not_found"]]);
  });

  it("a handler that returns a plain value (not a promise) is audited too", async () => {
    const { call, emitted } = setup((() => json(200, { id: "t1" })) as unknown as Route["handler"], () => ({
      type: "tenant.created",
      tenant: "t1",
      resource: "tenant:t1",
      action: "create",
      decision: "success",
    }));
    expect((await call()).statusCode).toBe(200);
    expect(emitted).toHaveLength(1);
  });

  it("the answer waits for a rule that looks something up (the event is queued before the invocation's flush)", async () => {
    const { call, emitted } = setup(
      async () => json(200, {}),
      () =>
        new Promise((resolve) =>
          setTimeout(
            () =>
              resolve({
                type: "tenant.created",
                tenant: "t1",
                resource: "r",
                action: "a",
                decision: "success",
              }),
            5,
          ),
        ),
    );
    expect((await call()).statusCode).toBe(200);
    expect(emitted).toHaveLength(1);
  });

  it("a rule that throws never changes the response", async () => {
    const { call, emitted } = setup(
      async () => json(200, {}),
      () => {
        throw new Error("rule bug");
      },
    );
    expect((await call()).statusCode).toBe(200);
    expect(emitted).toEqual([]);
  });

  it("a rule's `before` hook runs before the handler, and its result reaches the rule", async () => {
    const order: string[] = [];
    const seen: unknown[] = [];
    const [route] = auditedRoutes(
      [
        {
          method: "POST",
          path: "/x",
          access: { kind: "platform" },
          handler: async () => {
            order.push("handler");
            return json(200, {});
          },
        },
      ],
      [
        {
          method: "POST",
          path: "/x",
          before: async () => {
            await new Promise((r) => setTimeout(r, 5));
            order.push("before");
            return "owner-before-delete";
          },
          ok: (c) => {
            seen.push(c.pre);
            return undefined;
          },
        },
      ],
      { emit: () => {} },
      log,
    );
    const { dispatch } = routerOf(route!, ctx.principal);
    expect((await dispatch(req, log)).statusCode).toBe(200);
    expect(order).toEqual(["before", "handler"]);
    expect(seen).toEqual(["owner-before-delete"]);
    // A route is audited once.
    expect(() =>
      auditedRoutes([route!], [{ method: "POST", path: "/x", ok: () => undefined }], { emit: () => {} }),
    ).toThrow(/observed already/);
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
