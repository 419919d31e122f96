import { describe, expect, it } from "vitest";
import { MemorySignInStore } from "../../../src/sessions/adapters/memory.ts";
import { SessionService } from "../../../src/sessions/service.ts";
import { ACCOUNT_LIMITS, LoginThrottle, lockSeconds } from "../../../src/sessions/throttle.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";

const make = (active = new Set(["u1"])) => {
  const clock = new ManualClock();
  const store = new MemorySignInStore();
  const sessions = new SessionService({
    store,
    clock,
    ids: ulidGenerator,
    defaults: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 },
    userIsActive: async (_t, u) => active.has(u),
  });
  return { clock, store, sessions, active };
};

describe("SessionService", () => {
  it("resolves the cookie only with the right secret", async () => {
    const { sessions } = make();
    const { session, cookie } = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    expect((await sessions.resolve(cookie))?.id).toBe(session.id);
    expect(await sessions.resolve(`${session.id}.${"A".repeat(43)}`)).toBeUndefined();
    expect(await sessions.resolve("garbage")).toBeUndefined();
    expect(await sessions.resolve(undefined)).toBeUndefined();
  });

  it("slides the idle timeout on use but never past the absolute timeout", async () => {
    const { sessions, clock } = make();
    const { cookie } = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    for (let i = 0; i < 6; i++) {
      clock.advance(500_000);
      expect(await sessions.resolve(cookie), `step ${i}`).toBeDefined();
    }
    clock.advance(700_000); // 3,700 s: past the absolute hour, though used 500 s ago
    expect(await sessions.resolve(cookie)).toBeUndefined();
  });

  it("expires after the idle timeout without use", async () => {
    const { sessions, clock } = make();
    const { cookie, session } = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    clock.advance(600_000);
    expect(await sessions.resolve(cookie)).toBeUndefined();
    // Refresh tokens only need the absolute lifetime.
    expect(await sessions.activeForTokens(session.id)).toBeDefined();
  });

  it("per-tenant policy, revocation of one or all, disabled users", async () => {
    const { sessions, active } = make();
    await sessions.setPolicy("t1", { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 120 });
    const a = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    expect(a.session.absoluteExpiresAt - a.session.createdAt).toBe(120_000);
    const b = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    expect((await sessions.list("t1", "u1")).length).toBe(2);
    await expect(sessions.revoke("t1", "u2", a.session.id)).rejects.toMatchObject({ code: "not_found" });
    await sessions.revoke("t1", "u1", a.session.id);
    expect(await sessions.resolve(a.cookie)).toBeUndefined();
    expect(await sessions.revokeAll("t1", "u1")).toBe(1);
    expect(await sessions.resolve(b.cookie)).toBeUndefined();
    const c = await sessions.create("t1", "u1", { amr: ["pwd"], acr: "a" });
    active.delete("u1");
    expect(await sessions.resolve(c.cookie)).toBeUndefined();
    await expect(
      sessions.setPolicy("t1", { idleTimeoutSeconds: 10, absoluteTimeoutSeconds: 5 }),
    ).rejects.toMatchObject({ code: "validation" });
  });
});

describe("LoginThrottle", () => {
  it("backs off exponentially after the free failures, per account and per IP", async () => {
    expect([1, 4, 5, 6, 7, 20].map((f) => lockSeconds(f, ACCOUNT_LIMITS))).toEqual([0, 0, 2, 4, 8, 900]);
    const clock = new ManualClock();
    const t = new LoginThrottle({ store: new MemorySignInStore(), clock });
    for (let i = 0; i < 4; i++) expect(await t.failed("t1", "a@b.co", "10.0.0.1")).toBe(0);
    expect(await t.failed("t1", "A@B.co", "10.0.0.1")).toBe(2000);
    expect(await t.retryAfterMs("t1", "a@b.co", "10.0.0.2")).toBe(2000);
    expect(await t.retryAfterMs("t1", "other@b.co", "10.0.0.2")).toBe(0);
    clock.advance(2000);
    expect(await t.retryAfterMs("t1", "a@b.co", "10.0.0.1")).toBe(0);
    await t.succeeded("t1", "a@b.co");
    expect(await t.failed("t1", "a@b.co", "10.0.0.1")).toBe(0);
    // Per IP: 20 failures across accounts lock the IP.
    const ip = new LoginThrottle({ store: new MemorySignInStore(), clock });
    for (let i = 0; i < 19; i++) await ip.failed("t1", `u${i}@b.co`, "10.9.9.9");
    expect(await ip.failed("t1", "x@b.co", "10.9.9.9")).toBe(2000);
    expect(await ip.retryAfterMs("t1", "fresh@b.co", "10.9.9.9")).toBe(2000);
  });
});
