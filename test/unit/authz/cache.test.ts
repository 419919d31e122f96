/**
 * The per-container caches of the authorization API: check results keyed by store/model/revision,
 * store watermarks (head revision, latest model) with TTL / stale-while-refresh / at-least reads,
 * the credential cache and the EMF metrics line.
 */
import { describe, expect, it } from "vitest";
import { CheckResultCache, checkKey } from "../../../src/authz/caching/check-results.ts";
import { AuthzMetrics, prefixed } from "../../../src/authz/caching/metrics.ts";
import { cachingAuthenticator } from "../../../src/authz/caching/principal-cache.ts";
import { Watermark } from "../../../src/authz/caching/watermark.ts";
import type { HttpRequest } from "../../../src/http/types.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const R1 = "01HZX8G2V3J6T5KQ8W9YB4C7D1";
const R2 = "01HZX8G2V3J6T5KQ8W9YB4C7D2";
const R3 = "01HZX8G2V3J6T5KQ8W9YB4C7D3";

describe("CheckResultCache", () => {
  const k = checkKey({ object: "d:1", relation: "r", user: "u:1" }, undefined);

  it("answers only at the revision the result was computed at; a newer revision empties the store's bucket", () => {
    const c = new CheckResultCache(100);
    c.set("s", "m", R1, k, true);
    c.set("other", "m", R1, k, false);
    expect(c.get("s", "m", R1, k)).toBe(true);
    expect(c.get("s", "m2", R1, k)).toBeUndefined();
    expect(c.get("s", "m", R2, k)).toBeUndefined(); // a write happened: invalidated
    expect(c.get("s", "m", R1, k)).toBeUndefined(); // ... and an older reader cannot bring it back
    c.set("s", "m", R1, k, true); // a late writer with an older stamp is dropped
    expect(c.get("s", "m", R2, k)).toBeUndefined();
    expect(c.get("other", "m", R1, k)).toBe(false); // other stores keep theirs
    expect(c.stats).toMatchObject({ hits: 2, invalidated: 1 });
  });

  it("keys on the request context; is bounded; can be disabled", () => {
    expect(checkKey({ object: "d:1", relation: "r", user: "u:1" }, { a: 1 })).not.toBe(k);
    const c = new CheckResultCache(2);
    for (const u of ["u:1", "u:2", "u:3"]) c.set("s", "m", R1, u, true);
    expect(c.size).toBe(2);
    expect(c.stats.evicted).toBe(1);
    expect(c.get("s", "m", R1, "u:1")).toBeUndefined();
    const off = new CheckResultCache(0);
    off.set("s", "m", R1, k, true);
    expect(off.enabled).toBe(false);
    expect(off.get("s", "m", R1, k)).toBeUndefined();
    c.forgetStore("s");
    expect(c.size).toBe(0);
  });
});

describe("Watermark", () => {
  const setup = () => {
    const clock = new ManualClock(1_000_000);
    let head = R1;
    let reads = 0;
    let release: (() => void) | undefined;
    let gate = false;
    const w = new Watermark({
      read: async () => {
        reads++;
        if (gate) await new Promise<void>((r) => (release = r));
        return head;
      },
      clock,
      ttlMs: 1000,
      maxStaleMs: 5000,
    });
    return {
      w,
      clock,
      setHead: (h: string) => (head = h),
      reads: () => reads,
      hold: () => (gate = true),
      open: () => {
        gate = false;
        release?.();
      },
    };
  };

  it("serves what it knows within the TTL, serves-and-refreshes when stale, waits when too old", async () => {
    const t = setup();
    expect(await t.w.current("s")).toBe(R1);
    expect(t.reads()).toBe(1);
    t.setHead(R2);
    expect(t.w.current("s")).toBe(R1); // fresh: synchronous, no read
    t.clock.advance(1500);
    expect(t.w.current("s")).toBe(R1); // stale: served, refresh started
    await Promise.resolve();
    await Promise.resolve();
    expect(t.reads()).toBe(2);
    expect(t.w.current("s")).toBe(R2);
    t.clock.advance(10_000);
    t.setHead(R3);
    const p = t.w.current("s");
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe(R3);
    expect(t.w.stats).toMatchObject({ staleServed: 1 });
  });

  it("atLeast reads only when it knows less; observe advances, never rewinds; reads are single-flight", async () => {
    const t = setup();
    await t.w.current("s");
    expect(t.w.atLeast("s", R1)).toBe(R1);
    t.w.observe("s", R3);
    expect(t.w.atLeast("s", R2)).toBe(R3);
    t.w.observe("s", R2);
    expect(t.w.peek("s")).toBe(R3);
    expect(t.reads()).toBe(1);
    t.clock.advance(60_000);
    t.hold();
    const a = t.w.current("s");
    const b = t.w.current("s");
    t.open();
    expect([await a, await b]).toEqual([R3, R3]); // the store said R1: known R3 is kept
    expect(t.reads()).toBe(2);
    // fresh reads even when what is known is fresh
    expect(t.w.current("s")).toBe(R3);
    expect(await t.w.fresh("s")).toBe(R3);
    expect(t.reads()).toBe(3);
  });

  it("is exact and free with a synchronous head", () => {
    let head = R1;
    const w = new Watermark({
      read: async () => "",
      readSync: () => head,
      clock: new ManualClock(),
      ttlMs: 1,
      maxStaleMs: 1,
    });
    expect(w.current("s")).toBe(R1);
    head = R2;
    expect(w.current("s")).toBe(R2);
    expect(w.atLeast("s", R3)).toBe(R2);
  });
});

describe("credential cache", () => {
  const req = (auth?: string): HttpRequest => ({
    method: "GET",
    path: "/",
    headers: auth ? { authorization: auth } : {},
    query: {},
    body: undefined,
    requestId: "r",
    sourceIp: "",
  });

  it("remembers successes for the TTL, never failures", async () => {
    const clock = new ManualClock();
    let lookups = 0;
    const a = cachingAuthenticator(
      {
        authenticate: async (r) => {
          lookups++;
          return r.headers.authorization === "Bearer good"
            ? { kind: "platform", credentialId: "x" }
            : undefined;
        },
      },
      { ttlMs: 1000, clock },
    );
    expect(await a.authenticate(req("Bearer good"))).toBeDefined();
    expect(await a.authenticate(req("Bearer good"))).toBeDefined();
    expect(lookups).toBe(1);
    expect(await a.authenticate(req("Bearer bad"))).toBeUndefined();
    expect(await a.authenticate(req("Bearer bad"))).toBeUndefined();
    expect(lookups).toBe(3);
    clock.advance(1001);
    await a.authenticate(req("Bearer good"));
    expect(lookups).toBe(4);
    await a.authenticate(req());
    expect(lookups).toBe(5);
  });
});

describe("AuthzMetrics", () => {
  it("writes counter deltas as one CloudWatch EMF line per interval", () => {
    const lines: string[] = [];
    let now = 0;
    const stats = { hits: 0, misses: 0 };
    const m = new AuthzMetrics({ intervalMs: 1000, now: () => now });
    m.register(prefixed("check_cache", stats));
    const log = createLogger({ write: (l) => lines.push(l), base: { region: "eu-west-1" } });
    stats.hits = 3;
    m.count("replica_refused");
    m.maybeFlush(log);
    expect(lines).toHaveLength(0);
    now = 1000;
    m.maybeFlush(log);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ region: "eu-west-1", check_cache_hits: 3, replica_refused: 1 });
    expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: "Portcullis/Authz",
      Dimensions: [["region"]],
    });
    stats.hits = 5;
    now = 2000;
    m.maybeFlush(log);
    expect(JSON.parse(lines[1]!)).toMatchObject({ check_cache_hits: 2 });
    expect(m.snapshot()).toMatchObject({ check_cache_hits: 5, check_cache_misses: 0, replica_refused: 1 });
  });
});
