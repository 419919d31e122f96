import { describe, expect, it } from "vitest";
import { createEventRing, EventRingReader, EventRingWriter } from "../../../src/audit/adapters/event-ring.ts";
import { RecordLog } from "../../../src/audit/adapters/record-log.ts";
import { type AuditEvent, inSchemaOrder } from "../../../src/audit/events.ts";
import type { AuditFilter } from "../../../src/audit/ports.ts";
import { eventSortKey } from "../../../src/audit/query-filter.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { checkEventAt } from "../../support/audit-events.ts";

const T0 = Date.UTC(2026, 10, 29, 12);
const DAY = 86_400_000;

/** Check events whose type, actor and resource vary too (for the filters). */
const event = (tenant: string, i: number, over: Partial<AuditEvent> = {}): AuditEvent =>
  checkEventAt(tenant, i, T0, {
    type: i % 5 === 0 ? "authz.tuples.written" : "authz.check",
    actor: i % 2 ? "apikey:k1" : "client:c1",
    resource: `document:d${i % 4}`,
    ...over,
  });

/**
 * A log fed through a real ring, one block per `blockSize` events; `feed` appends more, `evicted`
 * has what the log handed over, `now` is the time blocks are appended at.
 */
function logOf(
  events: AuditEvent[],
  options: { maxEventsPerTenant?: number; blockSize?: number; now?: number } = {},
) {
  const ring = createEventRing(1 << 20);
  const w = new EventRingWriter(ring);
  const r = new EventRingReader(ring);
  const evicted: AuditEvent[] = [];
  const { blockSize = 64, now = T0, ...bounds } = options;
  const log = new RecordLog({ retentionDays: 30, ...bounds, evict: (e) => evicted.push(...e) });
  const feed = (more: AuditEvent[], at = now) => {
    for (let i = 0; i < more.length; i += blockSize) {
      for (const e of more.slice(i, i + blockSize)) expect(w.write(e)).toBe(true);
      log.append(r.take()!, at);
    }
  };
  feed(events);
  return Object.assign(log, { feed, evicted });
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
    // Visible: in the log, or handed over from a mostly hidden block (the worker's memory store):
    // the newest, with no gap, between the bound less a quarter block (the rest of a released block
    // whose start was trimmed) and 10 % over it.
    const busy = [...all(log, "busy", {}, 500), ...log.evicted.filter((e) => e.tenant === "busy")];
    expect(busy.length).toBeGreaterThanOrEqual(1000 - 1100 / 4);
    expect(busy.length).toBeLessThanOrEqual(1100);
    expect(busy.map(eventSortKey).sort().reverse()).toEqual(
      newestFirst(events.slice(5)).slice(0, busy.length).map(eventSortKey),
    );
    expect([...all(log, "quiet"), ...log.evicted.filter((e) => e.tenant === "quiet")]).toEqual(
      expect.arrayContaining(newestFirst(events.slice(0, 5))),
    );
    // Blocks under 1,024 records are joined; what is held stays near the bound.
    expect(log.size.records).toBeLessThanOrEqual(4 * 1105 + 1100);
  });

  it("does not let a quiet tenant hold a busy tenant's hidden records: a mostly hidden block hands its few visible events over", () => {
    // Every block: 100 busy events and one quiet one; busy is capped at 1,000.
    const events: AuditEvent[] = [];
    for (let b = 0; b < 200; b++) {
      for (let i = 0; i < 100; i++) events.push(event("busy", b * 101 + i));
      events.push(event(`quiet-${b % 7}`, b * 101 + 100));
    }
    const log = logOf(events, { maxEventsPerTenant: 1000, blockSize: 101 });
    const { records } = log.size;
    // Visible: 1,000 to 1,100 busy, 200 quiet; hidden held: at most three times the visible.
    expect(records).toBeLessThanOrEqual(4 * 1300 + 1024);
    // Every quiet event is still there, in the log or handed over, once.
    const quiet = events.filter((e) => e.tenant.startsWith("quiet"));
    const inLog = [0, 1, 2, 3, 4, 5, 6].flatMap((q) => all(log, `quiet-${q}`, {}, 50));
    const handed = log.evicted.filter((e) => e.tenant.startsWith("quiet"));
    expect(handed.length).toBeGreaterThan(0);
    expect([...inLog, ...handed].map((e) => e.id).sort()).toEqual(quiet.map((e) => e.id).sort());
    // Handed over are only visible events: no busy event older than the newest 1,100.
    const oldestBusy = newestFirst(events.filter((e) => e.tenant === "busy"))[1099]!;
    for (const e of log.evicted.filter((x) => x.tenant === "busy"))
      expect(eventSortKey(e) >= eventSortKey(oldestBusy)).toBe(true);
  });

  it("joins small blocks: one event per take does not make a block per event", () => {
    const events = Array.from({ length: 3000 }, (_, i) => event("a", i));
    const log = logOf(events, { blockSize: 1 });
    expect(log.size).toEqual({ records: 3000, blocks: 3 });
    expect(all(log, "a", {}, 250)).toEqual(newestFirst(events));
  });

  it("knows which events it holds (for idempotent puts)", () => {
    const events = Array.from({ length: 300 }, (_, i) => event(i % 2 ? "a" : "b", i));
    const log = logOf(events, { blockSize: 40 });
    for (const e of [events[0]!, events[137]!, events[299]!]) expect(log.has(e)).toBe(true);
    expect(log.has({ ...events[137]!, tenant: "c" })).toBe(false);
    expect(log.has({ ...events[137]!, id: ulidGenerator.ulid() })).toBe(false);
    expect(log.has(event("a", 1000))).toBe(false);
  });

  it("leaves out expired events and releases their blocks", () => {
    // Blocks of 1,100: not joined with the next.
    const old = Array.from({ length: 1100 }, (_, i) => event("a", i));
    const recent = Array.from({ length: 100 }, (_, i) => event("a", 20 * DAY + i));
    const log = logOf([], { blockSize: 1100 });
    log.feed(old);
    log.feed(recent, T0 + 20 * DAY);
    expect(all(log, "a", {}, 500, T0 + 20 * DAY)).toHaveLength(1200);
    // 30 days after the old ones: they are gone, the recent ones stay.
    const later = T0 + 30 * DAY + 1000;
    expect(all(log, "a", {}, 50, later)).toEqual(newestFirst(recent));
    expect(log.size).toEqual({ records: 100, blocks: 1 });
    expect(log.evicted).toEqual([]);
  });

  it("counts expired events out of a tenant's bound", () => {
    const log = logOf(
      Array.from({ length: 100 }, (_, i) => event("a", i)),
      { maxEventsPerTenant: 150, blockSize: 2000 },
    );
    const later = T0 + 30 * DAY + 1000;
    expect(all(log, "a", {}, 50, later)).toEqual([]);
    // 200 new ones: over 165, trimmed to the newest 150 (not fewer: the expired are not counted).
    const recent = Array.from({ length: 200 }, (_, i) => event("a", 30 * DAY + 2000 + i));
    log.feed(recent, later);
    expect(all(log, "a", {}, 1000, later + 5000)).toEqual(newestFirst(recent).slice(0, 150));
  });
});
