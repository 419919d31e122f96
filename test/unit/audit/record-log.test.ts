import { describe, expect, it } from "vitest";
import { createEventRing, EventRingReader, EventRingWriter } from "../../../src/audit/adapters/event-ring.ts";
import { RecordLog } from "../../../src/audit/adapters/record-log.ts";
import { type AuditEvent, inSchemaOrder } from "../../../src/audit/events.ts";
import type { AuditFilter } from "../../../src/audit/ports.ts";
import { eventSortKey } from "../../../src/audit/query-filter.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";

const T0 = Date.UTC(2026, 10, 29, 12);
const DAY = 86_400_000;

function event(tenant: string, i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    v: 1,
    id: ulidGenerator.ulid(),
    time: new Date(T0 + i).toISOString(),
    tenant,
    type: i % 5 === 0 ? "authz.tuples.written" : "authz.check",
    actor: i % 2 ? "apikey:k1" : "client:c1",
    subject: `user:u${i % 10}`,
    resource: `document:d${i % 4}`,
    action: "viewer",
    decision: i % 3 ? "allow" : "deny",
    reason: i % 3 ? "document:d#viewer <- user:u" : "no path",
    region: "local",
    request: { id: `r${i}`, ip: "127.0.0.1" },
    latency_ms: (i % 100) / 1000,
    detail: { store_id: "s1" },
    ...over,
  };
}

/** A log fed through a real ring, one block per `blockSize` events; `feed` appends more. */
function logOf(events: AuditEvent[], options: { maxEventsPerTenant?: number; blockSize?: number } = {}) {
  const ring = createEventRing(1 << 20);
  const w = new EventRingWriter(ring);
  const r = new EventRingReader(ring);
  const log = new RecordLog({ retentionDays: 30, ...options });
  const size = options.blockSize ?? 64;
  const feed = (more: AuditEvent[]) => {
    for (let i = 0; i < more.length; i += size) {
      for (const e of more.slice(i, i + size)) expect(w.write(e)).toBe(true);
      log.append(r.take()!);
    }
  };
  feed(events);
  return Object.assign(log, { feed });
}

/** Every page of a query (limit `limit`), newest first, continuing below the last key. */
function all(log: RecordLog, tenant: string, filter: AuditFilter = {}, limit = 7, now = T0): AuditEvent[] {
  const out: AuditEvent[] = [];
  let before: string | undefined;
  for (;;) {
    const page = log.query(tenant, filter, limit, before, now);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    out.push(...page.items);
    if (!page.more) return out;
    expect(page.items).toHaveLength(limit);
    before = eventSortKey(page.items.at(-1)!);
  }
}

const newestFirst = (events: AuditEvent[]) => [...events].reverse().map((e) => inSchemaOrder(e));

describe("record log", () => {
  it("answers a tenant's events newest first through pages, its own only", () => {
    const events = Array.from({ length: 500 }, (_, i) => event(i % 3 ? "a" : "b", i));
    const log = logOf(events);
    expect(all(log, "a")).toEqual(newestFirst(events.filter((e) => e.tenant === "a")));
    expect(all(log, "b", {}, 1000)).toEqual(newestFirst(events.filter((e) => e.tenant === "b")));
    expect(all(log, "c")).toEqual([]);
  });

  it("filters by type, actor, resource, decision and time, as the memory store", () => {
    const events = Array.from({ length: 300 }, (_, i) => event("a", i));
    const log = logOf(events, { blockSize: 17 });
    const filters: AuditFilter[] = [
      { type: "authz.tuples.written" },
      { actor: "client:c1", decision: "deny" },
      { resource: "document:d3" },
      { from: T0 + 100, to: T0 + 149 },
      { from: T0 + 299 },
      { to: T0 - 1 },
    ];
    for (const f of filters) {
      const want = events.filter(
        (e) =>
          (f.type === undefined || e.type === f.type) &&
          (f.actor === undefined || e.actor === f.actor) &&
          (f.resource === undefined || e.resource === f.resource) &&
          (f.decision === undefined || e.decision === f.decision) &&
          (f.from === undefined || Date.parse(e.time) >= f.from) &&
          (f.to === undefined || Date.parse(e.time) <= f.to),
      );
      expect(all(log, "a", f, 5)).toEqual(newestFirst(want));
    }
  });

  it("keeps at most maxEventsPerTenant per tenant (newest), and lets go of blocks no one sees", () => {
    // Tenant "quiet" has a few events first; "busy" then fills many blocks (of 37: trims end
    // inside blocks).
    const events = [
      ...Array.from({ length: 5 }, (_, i) => event("quiet", i)),
      ...Array.from({ length: 5000 }, (_, i) => event("busy", 10 + i)),
    ];
    const log = logOf(events, { maxEventsPerTenant: 1000, blockSize: 37 });
    // What the bound leaves: trimmed to 1,000 whenever over 1,100.
    let visible = 0;
    for (let i = 0; i < events.length; i += 37) {
      visible += events.slice(i, i + 37).filter((e) => e.tenant === "busy").length;
      if (visible > 1100) visible = 1000;
    }
    const busy = all(log, "busy", {}, 500);
    expect(busy).toEqual(newestFirst(events.slice(5)).slice(0, visible));
    expect(all(log, "quiet")).toEqual(newestFirst(events.slice(0, 5)));
    // The quiet tenant's block stays; the busy tenant's hidden ones are released.
    const { records, blocks } = log.size;
    expect(records).toBeLessThanOrEqual(1100 + 2 * 37);
    expect(blocks).toBeLessThanOrEqual(Math.ceil(1100 / 37) + 3);
  });

  it("leaves out expired events and releases their blocks", () => {
    const old = Array.from({ length: 100 }, (_, i) => event("a", i));
    const recent = Array.from({ length: 100 }, (_, i) => event("a", 20 * DAY + i));
    const log = logOf([...old, ...recent], { blockSize: 50 });
    expect(all(log, "a", {}, 50, T0 + 20 * DAY)).toHaveLength(200);
    // 30 days after the old ones: they are gone, the recent ones stay.
    const later = T0 + 30 * DAY + 1000;
    expect(all(log, "a", {}, 50, later)).toEqual(newestFirst(recent));
    expect(log.size).toEqual({ records: 100, blocks: 2 });
  });

  it("counts expired events out of a tenant's bound", () => {
    const log = logOf(
      Array.from({ length: 100 }, (_, i) => event("a", i)),
      { maxEventsPerTenant: 150, blockSize: 50 },
    );
    const later = T0 + 30 * DAY + 1000;
    expect(all(log, "a", {}, 50, later)).toEqual([]);
    // 200 new ones: over 165, trimmed to the newest 150 (not fewer: the expired are not counted).
    const recent = Array.from({ length: 200 }, (_, i) => event("a", 30 * DAY + 2000 + i));
    log.feed(recent);
    expect(all(log, "a", {}, 1000, later + 5000)).toEqual(newestFirst(recent).slice(0, 150));
  });
});
