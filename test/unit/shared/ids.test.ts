import { decodeTime } from "ulid";
import { describe, expect, it } from "vitest";
import { monotonicUlid, ULID_RE } from "../../../src/shared/ids.ts";

describe("monotonicUlid", () => {
  it("encodes the time as the ulid package decodes it, with 80 random bits", () => {
    let now = Date.UTC(2026, 10, 29, 12, 0, 0, 123);
    const next = monotonicUlid(() => now);
    const a = next();
    expect(a).toMatch(ULID_RE);
    expect(decodeTime(a)).toBe(now);
    now = 2 ** 48 - 1; // the largest time a ULID holds
    const max = next();
    expect(max.slice(0, 10)).toBe("7ZZZZZZZZZ");
    expect(decodeTime(max)).toBe(now);
    // Random parts of different milliseconds differ (80 bits: a collision would be a bug).
    const parts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      now = 1_700_000_000_000 + i;
      parts.add(next().slice(10));
    }
    expect(parts.size).toBe(200);
  });

  it("increments within one millisecond and when the clock goes back, so ids stay ordered", () => {
    let now = 1_800_000_000_000;
    const next = monotonicUlid(() => now);
    const ids = [next(), next(), next()];
    now -= 5; // clock stepped back
    ids.push(next());
    now += 10;
    ids.push(next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // Same millisecond: same time part, random part + 1.
    expect(ids[1]!.slice(0, 10)).toBe(ids[0]!.slice(0, 10));
    expect(decodeTime(ids[3]!)).toBe(1_800_000_000_000);
    expect(decodeTime(ids[4]!)).toBe(now);
  });
});
