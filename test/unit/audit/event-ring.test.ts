import { describe, expect, it } from "vitest";
import {
  createEventRing,
  EventRingReader,
  EventRingWriter,
  forEachRecord,
  type RecordBlock,
} from "../../../src/audit/adapters/event-ring.ts";
import { type AuditEvent, inSchemaOrder } from "../../../src/audit/events.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";

let n = 0;
function check(over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return {
    v: 1,
    id: ulidGenerator.ulid(),
    time: new Date(Date.UTC(2026, 10, 29, 12, 0, 0, n)).toISOString(),
    tenant: "t-1",
    type: "authz.check",
    actor: "apikey:k1",
    subject: `user:u${n % 7}`,
    resource: `document:d${n % 13}`,
    action: "viewer",
    decision: n % 2 ? "allow" : "deny",
    reason: n % 2 ? "document:d1#viewer <- user:u1" : "no path",
    region: "local",
    request: { id: `req-${n}`, ip: "127.0.0.1", user_agent: "bench" },
    latency_ms: 0.012 + (n % 5) / 1000,
    model_id: "m-1",
    detail: { store_id: "s-1" },
    ...over,
  };
}

/** Every event written since the last take, decoded from the blocks taken. */
function drain(r: EventRingReader): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let b = r.take(); b; b = r.take()) forEachRecord(b, (state) => out.push(state.event()));
  return out;
}

/** Writes every event (expecting room) and reads them back. */
function roundTrip(events: AuditEvent[], units = 1 << 20): AuditEvent[] {
  const ring = createEventRing(units);
  const w = new EventRingWriter(ring);
  const r = new EventRingReader(ring);
  for (const e of events) expect(w.write(e)).toBe(true);
  return drain(r);
}

describe("event ring", () => {
  it("gives back every field of every event, keys in the schema's order", () => {
    const events = [
      check(),
      check(),
      // Fields that change back and forth, go absent and come back.
      check({ subject: undefined, reason: undefined, consistency_token: "rev-7" }),
      check({ request: undefined, latency_ms: undefined, detail: undefined }),
      check({ request: {} }),
      check({ request: { id: "only-id" }, detail: { store_id: "s-2", correlation_id: "c1" } }),
      check({ detail: { store_id: "s-2", correlation_id: "c1" } }),
      check({ detail: { store_id: "s-2" } }),
      check({ detail: { n: 3, ok: true, none: null } }),
      check({ type: "token.issued", decision: "success", action: "issue", model_id: undefined }),
      // Not Latin-1, astral and lone surrogates, separators and quotes.
      check({ resource: "document:résumé-日本-😀\ud800", reason: 'a"b\\c\n\u001f\uffff' }),
      // Latencies that are not whole microseconds, big ones, zero.
      check({ latency_ms: 0.0001234 }),
      check({ latency_ms: 123456.789 }),
      check({ latency_ms: 5e6 }),
      check({ latency_ms: 0 }),
      check({ tenant: "t-2", actor: "client:c", region: "eu-west-1" }),
    ];
    const back = roundTrip(events);
    expect(back).toEqual(events.map((e) => inSchemaOrder(e)));
    for (let i = 0; i < back.length; i++)
      expect(Object.keys(back[i]!)).toEqual(Object.keys(inSchemaOrder(events[i]!)));
  });

  it("hands each reader its own detail object", () => {
    const [a, b] = roundTrip([check(), check()]);
    expect(a!.detail).toEqual(b!.detail);
    expect(a!.detail).not.toBe(b!.detail);
  });

  it("wraps around and refuses what does not fit, losing nothing and corrupting nothing", () => {
    const ring = createEventRing(6000, 48);
    const w = new EventRingWriter(ring);
    const r = new EventRingReader(ring);
    const written: AuditEvent[] = [];
    const read: AuditEvent[] = [];
    let refused = 0;
    for (let round = 0; round < 200; round++) {
      // Write until full, drain part of the time: every position of the ring gets used.
      for (let k = 0; k < ((round % 7) + 1) * 6; k++) {
        const e = check({ reason: "x".repeat((round * 37 + k * 11) % 40) });
        if (w.write(e)) written.push(e);
        else refused++;
      }
      if (round % 3 !== 1) read.push(...drain(r));
    }
    read.push(...drain(r));
    expect(refused).toBeGreaterThan(0);
    expect(read).toEqual(written.map((e) => inSchemaOrder(e)));
    expect(w.empty()).toBe(true);
  });

  it("refuses a field too long for a record; the events after it still come back whole", () => {
    const ring = createEventRing(1 << 20);
    const w = new EventRingWriter(ring);
    const a = check();
    // Given up at `reason`, after the fields before it were compared with a's.
    const b = check({ tenant: "t-9", reason: "y".repeat(9000) });
    const c = { ...b, reason: "short" };
    const d = check({ detail: { big: "z".repeat(9000) } });
    expect(w.write(a)).toBe(true);
    expect(w.write(b)).toBe(false);
    expect(w.write(c)).toBe(true);
    expect(w.write(d)).toBe(false);
    expect(w.write(a)).toBe(true);
    expect(drain(new EventRingReader(ring))).toEqual([a, c, a].map((e) => inSchemaOrder(e)));
  });

  it("gives up an event it cannot write (not a string, a detail JSON cannot hold) without corrupting the next", () => {
    const ring = createEventRing(1 << 20);
    const w = new EventRingWriter(ring);
    const a = check();
    const b = check({ tenant: "t-bad", subject: null as unknown as string });
    const c = check({ tenant: "t-bad", detail: { n: 1n as unknown as number } });
    const d = check({ tenant: "t-bad", resource: 42 as unknown as string });
    const e = { ...a, id: ulidGenerator.ulid(), tenant: "t-bad" };
    expect(w.write(a)).toBe(true);
    expect(w.write(b)).toBe(false);
    expect(w.write(c)).toBe(false);
    expect(w.write(d)).toBe(false);
    expect(w.write(e)).toBe(true);
    expect(drain(new EventRingReader(ring))).toEqual([a, e].map((x) => inSchemaOrder(x)));
  });

  it("takes records as blocks that read back as the events written, across blocks and the wrap", () => {
    const ring = createEventRing(6000, 48);
    const w = new EventRingWriter(ring);
    const r = new EventRingReader(ring);
    const written: AuditEvent[] = [];
    const blocks: RecordBlock[] = [];
    for (let round = 0; round < 120; round++) {
      for (let k = 0; k < ((round % 5) + 1) * 5; k++) {
        const e = check({
          tenant: `t-${(round + k) % 3}`,
          reason: "x".repeat((round * 37 + k * 11) % 40),
          ...(k % 4 === 0 ? { detail: { store_id: `s-${round}` } } : {}),
          ...(k % 6 === 0 ? { latency_ms: 1.2345678 } : {}),
        });
        if (w.write(e)) written.push(e);
      }
      if (round % 3 !== 1) {
        const b = r.take();
        if (b) blocks.push(b);
      }
    }
    const rest = r.take();
    if (rest) blocks.push(rest);
    expect(r.take()).toBeUndefined();
    expect(w.empty()).toBe(true);
    const read: AuditEvent[] = [];
    let i = 0;
    for (const b of blocks) {
      const first = written[i]!;
      expect(b.firstKey).toBe(`${first.time}#${first.id}`);
      forEachRecord(b, (state, k) => {
        read.push(state.event());
        expect(b.tenantNames[b.tenants[k]!]).toBe(written[i + k]!.tenant);
      });
      i += b.count;
      const last = written[i - 1]!;
      expect(b.lastKey).toBe(`${last.time}#${last.id}`);
      expect(b.lastTime).toBe(last.time);
    }
    expect(read).toEqual(written.map((e) => inSchemaOrder(e)));
  });

  it("takes every kind of field as drain gives it back", () => {
    const ring = createEventRing(1 << 20);
    const w = new EventRingWriter(ring);
    const r = new EventRingReader(ring);
    const events = [
      check(),
      check({ subject: undefined, reason: undefined, consistency_token: "rev-7", v: undefined }),
      check({ request: undefined, latency_ms: undefined, detail: undefined }),
      check({ resource: "document:résumé-日本-😀\ud800", latency_ms: 0.0001234, tenant: "t-2" }),
      check({ detail: { n: 3, ok: true, none: null }, latency_ms: 5e6 }),
    ];
    for (const e of events.slice(0, 2)) expect(w.write(e)).toBe(true);
    const first = r.take()!;
    for (const e of events.slice(2)) expect(w.write(e)).toBe(true);
    const second = r.take()!;
    const read: AuditEvent[] = [];
    for (const b of [first, second]) forEachRecord(b, (state) => read.push(state.event()));
    expect(read).toEqual(events.map((e) => inSchemaOrder(e)));
    expect(second.tenantNames).toEqual(["t-1", "t-2"]);
  });

  it("takes at most 4,096 records per block; the rest in the next", () => {
    const ring = createEventRing(4 << 20);
    const w = new EventRingWriter(ring);
    const r = new EventRingReader(ring);
    const written = Array.from({ length: 5000 }, () => check());
    for (const e of written) expect(w.write(e)).toBe(true);
    const a = r.take()!;
    const b = r.take()!;
    expect([a.count, b.count, r.take()]).toEqual([4096, 904, undefined]);
    const read: AuditEvent[] = [];
    for (const x of [a, b]) forEachRecord(x, (state) => read.push(state.event()));
    expect(read).toEqual(written.map((e) => inSchemaOrder(e)));
  });
});
