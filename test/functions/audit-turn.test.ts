/**
 * The local platform's audit mode (`PORTCULLIS_AUDIT_FLUSH=end-of-turn`) through the handlers: a
 * request's event is built and delivered after the event-loop turn that answered it, and the
 * audit query API still sees every decision whose response its caller has seen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";

const ADMIN = "admin-key-for-audit-turn";
let c: Container;
let h: ReturnType<typeof createHandlers>;

beforeAll(() => {
  c = createContainer(
    configFromEnv(
      { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_LOG_LEVEL: "silent", PORTCULLIS_AUDIT_FLUSH: "end-of-turn" },
      { issuer: "http://localhost" },
    ),
  );
  h = createHandlers(c);
});
afterAll(async () => {
  await c?.audit.destroy();
});

describe("audit batched by event-loop turn, through the handlers", () => {
  it("answers before the event is built; a query in the same turn still sees it", async () => {
    const created = await h.admin!(
      apiEvent({ method: "POST", path: "/admin/v1/tenants", headers: bearer(ADMIN), body: { name: "Turn" } }),
      lambdaContext,
    );
    expect(created.statusCode).toBe(201);
    const tenant = (JSON.parse(created.body!) as { id: string }).id;
    // Still this turn: nothing has been stored, the work is queued.
    expect(c.audit.emitter.pending).toBe(1);
    const page = await h.audit!(
      apiEvent({
        method: "GET",
        path: "/audit/v1/events",
        headers: bearer(ADMIN),
        query: { tenant },
      }),
      lambdaContext,
    );
    expect(page.statusCode).toBe(200);
    const events = (JSON.parse(page.body!) as { events: { type: string; resource: string }[] }).events;
    expect(events.map((e) => [e.type, e.resource])).toEqual([["tenant.created", `tenant:${tenant}`]]);
  });

  it("delivers at the end of the turn without any flush", async () => {
    const created = await h.admin!(
      apiEvent({
        method: "POST",
        path: "/admin/v1/tenants",
        headers: bearer(ADMIN),
        body: { name: "Later" },
      }),
      lambdaContext,
    );
    const tenant = (JSON.parse(created.body!) as { id: string }).id;
    expect(c.audit.emitter.pending).toBe(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(c.audit.emitter.pending).toBe(0);
    const stored = await c.audit.store.query(tenant, {}, { limit: 10 });
    expect(stored.items.map((e) => e.type)).toEqual(["tenant.created"]);
  });

  it("closing the pipeline delivers what the last turn queued", async () => {
    const created = await h.admin!(
      apiEvent({ method: "POST", path: "/admin/v1/tenants", headers: bearer(ADMIN), body: { name: "Last" } }),
      lambdaContext,
    );
    const tenant = (JSON.parse(created.body!) as { id: string }).id;
    expect(c.audit.emitter.pending).toBe(1);
    await c.audit.destroy();
    const stored = await c.audit.store.query(tenant, {}, { limit: 10 });
    expect(stored.items.map((e) => e.type)).toEqual(["tenant.created"]);
  });
});
