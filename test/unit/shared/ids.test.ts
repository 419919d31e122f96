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

  it("keeps order across carries of the random part within one millisecond", () => {
    const now = 1_800_000_000_000;
    const next = monotonicUlid(() => now);
    // 5,000 ids in one millisecond: the last digit wraps every 32 ids, the one before every 1,024.
    const ids = Array.from({ length: 5000 }, () => next());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    for (const id of ids) expect(id).toMatch(ULID_RE);
    expect(new Set(ids.map((id) => id.slice(0, 10))).size).toBe(1);
    // Consecutive ids are consecutive 80-bit numbers: the random parts differ by exactly one.
    const value = (id: string) =>
      [...id.slice(10)].reduce(
        (n, ch) => n * 32n + BigInt("0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(ch)),
        0n,
      );
    for (let i = 1; i < ids.length; i++) expect(value(ids[i]!) - value(ids[i - 1]!)).toBe(1n);
  });
});
