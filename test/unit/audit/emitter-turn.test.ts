/**
 * The emitter batched by event-loop turn (`PORTCULLIS_AUDIT_FLUSH=end-of-turn`, the local
 * platform's mode): the route edge queues the work of building a request's events (`later`), and
 * the emitter runs a turn's work and delivers its events in one batch after the turn's responses.
 */
import { describe, expect, it } from "vitest";
import { InProcessEventBus } from "../../../src/audit/adapters/in-process.ts";
import { MemoryAuditStore } from "../../../src/audit/adapters/memory.ts";
import { AuditEmitter } from "../../../src/audit/emitter.ts";
import type { AuditEvent, AuditEventInput } from "../../../src/audit/events.ts";
import { AuditMetrics } from "../../../src/audit/metrics.ts";
import { auditedRoutes } from "../../../src/audit/route-audit.ts";
import { json } from "../../../src/http/router.ts";
import type { HttpRequest, RequestContext } from "../../../src/http/types.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { notFound } from "../../../src/shared/errors.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { createLogger } from "../../../src/shared/logger.ts";
import { routerOf } from "../../support/router.ts";

const log = createLogger({ level: "silent" });
const T0 = Date.UTC(2026, 10, 30, 12);

/** A memory store that records the size of each batch it is handed. */
class BatchStore extends MemoryAuditStore {
  readonly batches: number[] = [];
  override putSync(events: readonly AuditEvent[]) {
    this.batches.push(events.length);
    return super.putSync(events);
  }
}

function setup(byTurn = true) {
  const clock = new ManualClock(T0);
  const metrics = new AuditMetrics();
  const store = new BatchStore({ retentionDays: 1, clock });
  const bus = new InProcessEventBus({ store, metrics, log });
  const emitter = new AuditEmitter({ bus, clock, ids: ulidGenerator, region: "local", metrics, log, byTurn });
  const stored = async (): Promise<AuditEvent[]> =>
    [...(await store.query("t1", {}, { limit: 1000 })).items].reverse();
  return { clock, metrics, store, bus, emitter, stored };
}

const input = (resource: string): AuditEventInput => ({
  type: "authz.check",
  tenant: "t1",
  actor: "apikey:k1",
  resource,
  action: "viewer",
  decision: "allow",
});
const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("audit emitter batched by event-loop turn", () => {
  it("runs the turn's work after the turn, delivers its events in one batch, dated when queued", async () => {
    const { clock, emitter, store, stored } = setup();
    expect(emitter.later(() => emitter.emit(input("doc:a")))).toBe(true);
    clock.advance(5);
    expect(emitter.later(() => emitter.emit(input("doc:b")))).toBe(true);
    clock.advance(5);
    // Nothing built or delivered within the turn.
    expect(emitter.pending).toBe(2);
    expect(await stored()).toEqual([]);
    await endOfTurn();
    const events = await stored();
    expect(events.map((e) => [e.resource, e.time])).toEqual([
      ["doc:a", new Date(T0).toISOString()],
      ["doc:b", new Date(T0 + 5).toISOString()],
    ]);
    expect(store.batches).toEqual([2]);
    expect(emitter.pending).toBe(0);
  });

  it("not batching (the default): `later` declines and queues nothing", () => {
    const { emitter } = setup(false);
    let ran = false;
    expect(
      emitter.later(() => {
        ran = true;
      }),
    ).toBe(false);
    expect(ran).toBe(false);
    expect(emitter.pending).toBe(0);
  });

  it("flush runs the queued work and delivers it at once (the audit query API relies on it)", async () => {
    const { emitter, stored } = setup();
    emitter.later(() => emitter.emit(input("doc:a")));
    emitter.later(() => emitter.emit(input("doc:b")));
    // Synchronously: the in-process bus delivers to the memory store within `flush`.
    void emitter.flush();
    expect((await stored()).map((e) => e.resource)).toEqual(["doc:a", "doc:b"]);
    expect(emitter.pending).toBe(0);
    await endOfTurn();
    expect(await stored()).toHaveLength(2);
  });

  it("flush waits for asynchronous work (a rule that looks something up) and delivers its events; a failed one is counted", async () => {
    const { emitter, metrics, stored } = setup();
    emitter.later(() =>
      new Promise((resolve) => setTimeout(resolve, 10)).then(() => emitter.emit(input("doc:looked-up"))),
    );
    emitter.later(() => Promise.reject(new Error("lookup failed")));
    emitter.later(() => emitter.emit(input("doc:a")));
    await emitter.flush();
    expect((await stored()).map((e) => e.resource)).toEqual(["doc:a", "doc:looked-up"]);
    expect(metrics.totals.AuditEmitErrors).toBe(1);
    expect(emitter.pending).toBe(0);
  });

  it("an event emitted outside the turn's work joins it: the bus gets the turn's events in the order they happened", async () => {
    const { clock, emitter, bus } = setup();
    const published: string[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = (e) => {
      published.push(`${e.time} ${e.resource}`);
      publish(e);
    };
    emitter.later(() => emitter.emit(input("doc:queued-first")));
    clock.advance(5);
    emitter.emit(input("doc:signed-in"));
    clock.advance(5);
    emitter.later(() => emitter.emit(input("doc:queued-last")));
    expect(published).toEqual([]);
    await endOfTurn();
    const t = (ms: number) => new Date(T0 + ms).toISOString();
    expect(published).toEqual([
      `${t(0)} doc:queued-first`,
      `${t(5)} doc:signed-in`,
      `${t(10)} doc:queued-last`,
    ]);
  });

  it("a turn holds at most 512 pieces of work: the 512th runs them all, delivery still waits for the turn's end", async () => {
    const { emitter, bus, store } = setup();
    for (let i = 0; i < 511; i++) emitter.later(() => emitter.emit(input(`doc:${i}`)));
    expect(bus.pending).toBe(0);
    emitter.later(() => emitter.emit(input("doc:511")));
    expect(bus.pending).toBe(512);
    expect(emitter.pending).toBe(512);
    emitter.later(() => emitter.emit(input("doc:512")));
    await endOfTurn();
    expect(store.batches).toEqual([513]);
  });

  it("work that throws is counted and logged; the rest of the turn's work runs", async () => {
    const { emitter, metrics, stored } = setup();
    emitter.later(() => {
      throw new Error("rule bug");
    });
    emitter.later(() => emitter.emit(input("doc:a")));
    await endOfTurn();
    expect((await stored()).map((e) => e.resource)).toEqual(["doc:a"]);
    expect(metrics.totals.AuditEmitErrors).toBe(1);
  });

  it("events emitted outside queued work, or after a lookup settles, are delivered at the end of a turn", async () => {
    const { emitter, stored } = setup();
    emitter.emit(input("doc:direct"));
    emitter.later(() => Promise.resolve().then(() => emitter.emit(input("doc:looked-up"))));
    expect(await stored()).toEqual([]);
    await endOfTurn();
    await endOfTurn();
    expect((await stored()).map((e) => e.resource).sort()).toEqual(["doc:direct", "doc:looked-up"]);
    expect(emitter.pending).toBe(0);
  });

  it("the route edge answers first and builds the event at the end of the turn, for failures too", async () => {
    const { emitter, stored } = setup();
    const req: HttpRequest = {
      method: "POST",
      path: "/x",
      headers: {},
      query: {},
      body: "{}",
      requestId: "r1",
      sourceIp: "10.0.0.1",
    };
    const ctx: RequestContext = { params: {}, principal: { kind: "platform", credentialId: "admin" }, log };
    let built = 0;
    const [route] = auditedRoutes(
      [
        {
          method: "POST",
          path: "/x",
          access: { kind: "platform" },
          handler: async (r) => {
            if (r.body === "fail") throw notFound("no such thing");
            return json(200, { id: "d1" });
          },
        },
      ],
      [
        {
          method: "POST",
          path: "/x",
          ok: () => {
            built++;
            return { ...input("doc:d1"), actor: undefined, decision: "success" };
          },
          failed: () => {
            built++;
            return { ...input("doc:d1"), actor: undefined, decision: "failure", reason: "not_found" };
          },
        },
      ],
      emitter,
      log,
    );
    const { dispatch, rendered } = routerOf(route!, ctx.principal);
    expect((await dispatch(req, log)).statusCode).toBe(200);
    expect((await dispatch({ ...req, body: "fail" }, log)).statusCode).toBe(500);
    expect(rendered).toEqual([expect.objectContaining({ code: "not_found" })]);
    expect(built).toBe(0);
    await endOfTurn();
    expect(built).toBe(2);
    expect((await stored()).map((e) => [e.decision, e.actor, e.request?.id])).toEqual([
      ["success", "platform:admin", "r1"],
      ["failure", "platform:admin", "r1"],
    ]);
  });
});
