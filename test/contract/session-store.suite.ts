/**
 * The sign-in store contract (sessions, codes, refresh-token families, login transactions,
 * failed-login counters, consents): every adapter runs this suite; any difference is a bug.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AuthorizationCode,
  familyRef,
  type RefreshFamily,
  type Session,
} from "../../src/sessions/model.ts";
import type { SignInStore } from "../../src/sessions/ports.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";

export type MakeSignInStore = () => SignInStore | Promise<SignInStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);
const rid = () => randomBytes(12).toString("base64url");

function session(tenantId: string, userId: string, extra: Partial<Session> = {}): Session {
  return {
    id: ulidGenerator.ulid(),
    tenantId,
    userId,
    secretHash: rid(),
    createdAt: T0,
    authTime: T0,
    amr: ["pwd"],
    acr: "urn:portcullis:acr:pwd",
    lastSeenAt: T0,
    idleExpiresAt: T0 + 3600_000,
    absoluteExpiresAt: T0 + 86400_000,
    ...extra,
  };
}

export function describeSignInStore(name: string, make: MakeSignInStore): void {
  describe(`SignInStore contract: ${name}`, () => {
    it("sessions: create, get, touch, list per user, revoke (tenant-checked)", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      const a = session(t, "u1");
      const b = session(t, "u1");
      await s.createSession(a);
      await s.createSession(b);
      await s.createSession(session(t, "u2"));
      await expect(s.createSession(a)).rejects.toMatchObject({ code: "conflict" });
      expect(await s.getSession(a.id)).toEqual(a);
      await s.touchSession(a.id, T0 + 10, T0 + 7200_000);
      expect(await s.getSession(a.id)).toMatchObject({ lastSeenAt: T0 + 10, idleExpiresAt: T0 + 7200_000 });
      expect((await s.listUserSessions(t, "u1")).map((x) => x.id)).toEqual([a.id, b.id]);
      expect(await s.revokeSession(ulidGenerator.ulid(), a.id, T0 + 20)).toBe(false);
      expect(await s.revokeSession(t, a.id, T0 + 20)).toBe(true);
      expect(await s.revokeSession(t, a.id, T0 + 30)).toBe(true);
      expect((await s.getSession(a.id))?.revokedAt).toBe(T0 + 20);
      // A revoked session no longer slides.
      await s.touchSession(a.id, T0 + 40, T0 + 9000_000);
      expect((await s.getSession(a.id))?.lastSeenAt).toBe(T0 + 10);
      expect(await s.getSession(ulidGenerator.ulid())).toBeUndefined();
      expect(await s.getSessionPolicy(t)).toBeUndefined();
      await s.putSessionPolicy(t, { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 });
      expect(await s.getSessionPolicy(t)).toEqual({ idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 });
    });

    it("codes: redeemed once with what it issues recorded atomically, replay sees it, expiry honoured", async () => {
      const s = await make();
      const code: AuthorizationCode = {
        codeHash: rid(),
        tenantId: "t",
        clientId: "c",
        redirectUri: "https://rp.example.com/cb",
        codeChallenge: rid(),
        scope: ["openid"],
        nonce: "n",
        sessionId: "s",
        userId: "u",
        authTime: T0,
        amr: ["pwd"],
        acr: "a",
        expiresAt: T0 + 60_000,
      };
      await s.createCode(code);
      await expect(s.createCode(code)).rejects.toMatchObject({ code: "conflict" });
      const results = await Promise.all([
        s.redeemCode(code.codeHash, T0 + 1, { jti: "j1", jtiExpiresAt: T0 + 600_000, familyId: "f1" }),
        s.redeemCode(code.codeHash, T0 + 1, { jti: "j2", jtiExpiresAt: T0 + 600_000, familyId: "f2" }),
      ]);
      const winners = results.filter((r) => r?.first);
      expect(winners.length).toBe(1);
      const won = winners[0]!.code;
      expect(won.redeemedAt).toBe(T0 + 1);
      expect([
        ["j1", "f1"],
        ["j2", "f2"],
      ]).toContainEqual([won.issuedJti, won.issuedFamilyId]);
      // The loser (and any later replay) sees the winner's identifiers, never its own.
      const loser = results.find((r) => r && !r.first)!.code;
      expect([loser.issuedJti, loser.issuedFamilyId]).toEqual([won.issuedJti, won.issuedFamilyId]);
      const again = await s.redeemCode(code.codeHash, T0 + 2, { jti: "j3", jtiExpiresAt: T0 + 1 });
      expect(again?.first).toBe(false);
      expect(again?.code).toMatchObject({
        issuedJti: won.issuedJti,
        issuedJtiExpiresAt: T0 + 600_000,
        issuedFamilyId: won.issuedFamilyId,
        redeemedAt: T0 + 1,
      });
      const issue = { jti: "j4", jtiExpiresAt: T0 + 1 };
      // Once redeemed, a replay is reported after the code's expiry too (its tokens still live),
      // until the access token has expired (the default of `retainUntil`).
      expect(await s.redeemCode(code.codeHash, T0 + 60_000, issue)).toMatchObject({
        first: false,
        code: { issuedJti: won.issuedJti, issuedFamilyId: won.issuedFamilyId },
      });
      expect(await s.redeemCode(code.codeHash, T0 + 599_999, issue)).toMatchObject({ first: false });
      expect(await s.redeemCode(code.codeHash, T0 + 600_000, issue)).toBeUndefined();
      expect(await s.redeemCode(rid(), T0, issue)).toBeUndefined();
      // An unredeemed code is dead at its expiry.
      const late = { ...code, codeHash: rid() };
      await s.createCode(late);
      expect(await s.redeemCode(late.codeHash, T0 + 60_000, issue)).toBeUndefined();
      // `retainUntil` (the refresh family's lifetime) keeps the replay detectable longer.
      const kept = { ...code, codeHash: rid() };
      await s.createCode(kept);
      await s.redeemCode(kept.codeHash, T0 + 1, {
        jti: "j6",
        jtiExpiresAt: T0 + 600_000,
        familyId: "f6",
        retainUntil: T0 + 30 * 86400_000,
      });
      expect(await s.redeemCode(kept.codeHash, T0 + 29 * 86400_000, issue)).toMatchObject({
        first: false,
        code: { issuedJti: "j6", issuedFamilyId: "f6" },
      });
      expect(await s.redeemCode(kept.codeHash, T0 + 30 * 86400_000, issue)).toBeUndefined();
      // Without a family id, none is recorded.
      const plain = { ...code, codeHash: rid() };
      await s.createCode(plain);
      const p1 = await s.redeemCode(plain.codeHash, T0 + 1, { jti: "j5", jtiExpiresAt: T0 + 9 });
      expect(p1?.code.issuedJti).toBe("j5");
      expect(p1?.code.issuedFamilyId).toBeUndefined();
    });

    it("refresh families: compare-and-swap rotation, revocation stops rotation", async () => {
      const s = await make();
      const f: RefreshFamily = {
        id: rid(),
        tenantId: "t",
        clientId: "c",
        userId: "u",
        sessionId: "s",
        scope: ["openid", "offline_access"],
        authTime: T0,
        amr: ["pwd"],
        acr: "a",
        currentHash: "h0",
        generation: 0,
        createdAt: T0,
        expiresAt: T0 + 86400_000,
      };
      await s.createFamily(f);
      expect(await s.rotateFamily(f.id, "h0", "h1", T0)).toBe(true);
      expect(await s.rotateFamily(f.id, "h0", "hX", T0)).toBe(false);
      expect(await s.getFamily(f.id)).toMatchObject({ currentHash: "h1", generation: 1 });
      const both = await Promise.all([
        s.rotateFamily(f.id, "h1", "h2a", T0),
        s.rotateFamily(f.id, "h1", "h2b", T0),
      ]);
      expect(both.filter(Boolean).length).toBe(1);
      expect(await s.isFamilyRevoked(familyRef(f.id), T0)).toBe(false);
      await s.revokeFamily(f.id, T0 + 5);
      await s.revokeFamily(f.id, T0 + 9);
      // Access tokens of the family carry familyRef(id): they are revoked with it.
      expect(await s.isFamilyRevoked(familyRef(f.id), T0 + 10)).toBe(true);
      expect(await s.isFamilyRevoked(f.id, T0 + 10)).toBe(false);
      const cur = await s.getFamily(f.id);
      expect(cur?.revokedAt).toBe(T0 + 5);
      expect(await s.rotateFamily(f.id, cur!.currentHash, "h3", T0)).toBe(false);
      expect(await s.getFamily(rid())).toBeUndefined();
      await expect(s.createFamily(f)).rejects.toMatchObject({ code: "conflict" });
    });

    it("refresh families: an id revoked before it exists is born revoked; listed per user and client", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      const fam = (id: string, clientId: string, userId = "u"): RefreshFamily => ({
        id,
        tenantId: t,
        clientId,
        userId,
        sessionId: "s",
        scope: ["openid", "offline_access"],
        authTime: T0,
        amr: ["pwd"],
        acr: "a",
        currentHash: `h-${id}`,
        generation: 0,
        createdAt: T0,
        expiresAt: T0 + 86400_000,
      });
      const early = rid();
      await s.revokeFamily(early, T0 + 3);
      expect(await s.getFamily(early)).toBeUndefined();
      expect(await s.isFamilyRevoked(familyRef(early), T0 + 3)).toBe(true);
      await s.createFamily(fam(early, "c1"));
      const born = await s.getFamily(early);
      expect(born).toMatchObject({ id: early, currentHash: `h-${early}`, revokedAt: T0 + 3 });
      expect(await s.rotateFamily(early, `h-${early}`, "next", T0)).toBe(false);
      const live = rid();
      await s.createFamily(fam(live, "c1"));
      expect((await s.getFamily(live))?.revokedAt).toBeUndefined();
      await s.createFamily(fam(rid(), "c2"));
      await s.createFamily(fam(rid(), "c1", "other"));
      // The index may lag a moment (DynamoDB GSI).
      await expect
        .poll(async () => (await s.listUserFamilies(t, "u", "c1")).map((f) => f.id).sort())
        .toEqual([early, live].sort());
      expect((await s.listUserFamilies(t, "u", "c1")).find((f) => f.id === early)?.revokedAt).toBe(T0 + 3);
      expect(await s.listUserFamilies(t, "nobody", "c1")).toEqual([]);
      // Without a client: the user's families with every client, no one else's.
      await expect
        .poll(async () => (await s.listUserFamilies(t, "u")).map((f) => f.clientId).sort())
        .toEqual(["c1", "c1", "c2"]);
      expect(await s.listUserFamilies(t, "nobody")).toEqual([]);
    });

    it("consents: grant adds scopes atomically, get, list per user, delete", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      expect(await s.getConsent(t, "u", "c1")).toBeUndefined();
      const first = await s.grantConsent(t, "u", "c1", ["openid", "email"], T0);
      expect(first).toEqual({
        tenantId: t,
        userId: "u",
        clientId: "c1",
        scopes: ["email", "openid"],
        createdAt: T0,
        updatedAt: T0,
      });
      await Promise.all([
        s.grantConsent(t, "u", "c1", ["profile"], T0 + 5),
        s.grantConsent(t, "u", "c1", ["offline_access", "openid"], T0 + 5),
      ]);
      expect(await s.getConsent(t, "u", "c1")).toEqual({
        ...first,
        scopes: ["email", "offline_access", "openid", "profile"],
        updatedAt: T0 + 5,
      });
      await s.grantConsent(t, "u", "c0", [], T0 + 6);
      expect((await s.getConsent(t, "u", "c0"))?.scopes).toEqual([]);
      await s.grantConsent(t, "u2", "c1", ["openid"], T0);
      await s.grantConsent(ulidGenerator.ulid(), "u", "c1", ["openid"], T0);
      expect((await s.listConsents(t, "u")).map((c) => c.clientId)).toEqual(["c0", "c1"]);
      expect(await s.deleteConsent(t, "u", "c1")).toBe(true);
      expect(await s.deleteConsent(t, "u", "c1")).toBe(false);
      expect(await s.getConsent(t, "u", "c1")).toBeUndefined();
      expect((await s.listConsents(t, "u")).map((c) => c.clientId)).toEqual(["c0"]);
      expect((await s.getConsent(t, "u2", "c1"))?.scopes).toEqual(["openid"]);
    });

    it("consents per client, across tenants and users (what deleting a client removes)", async () => {
      const s = await make();
      const client = `pcc_${ulidGenerator.ulid()}`;
      const [t1, t2] = [ulidGenerator.ulid(), ulidGenerator.ulid()];
      await s.grantConsent(t1, "u1", client, ["openid"], T0);
      await s.grantConsent(t1, "u2", client, ["email"], T0);
      await s.grantConsent(t2, "u1", client, ["openid"], T0);
      await s.grantConsent(t1, "u1", `pcc_${ulidGenerator.ulid()}`, ["openid"], T0);
      const key = (c: { tenantId: string; userId: string }) => `${c.tenantId}/${c.userId}`;
      // The index may lag a moment (DynamoDB GSI).
      await expect
        .poll(async () => (await s.listClientConsents(client)).map(key).sort())
        .toEqual([`${t1}/u1`, `${t1}/u2`, `${t2}/u1`].sort());
      expect((await s.listClientConsents(client)).find((c) => c.userId === "u2")?.scopes).toEqual(["email"]);
      await s.deleteConsent(t1, "u2", client);
      await expect
        .poll(async () => (await s.listClientConsents(client)).map(key).sort())
        .toEqual([`${t1}/u1`, `${t2}/u1`].sort());
      expect(await s.listClientConsents(`pcc_${ulidGenerator.ulid()}`)).toEqual([]);
    });

    it("interactions expire; throttle counters count, expire and clear", async () => {
      const s = await make();
      const id = rid();
      await s.putInteraction({
        id,
        tenantId: "t",
        clientId: "c",
        csrf: "x",
        params: { state: "s" },
        expiresAt: T0 + 1000,
      });
      expect((await s.getInteraction(id, T0))?.params).toEqual({ state: "s" });
      expect(await s.getInteraction(id, T0 + 1000)).toBeUndefined();
      await s.deleteInteraction(id);
      expect(await s.getInteraction(id, T0)).toBeUndefined();

      const k = `acct:${rid()}`;
      const policy = (f: number) => ({ lockedUntil: T0 + f * 1000, expiresAt: T0 + 60_000 });
      expect(await s.getThrottle(k, T0)).toBeUndefined();
      expect(await s.recordFailure(k, T0, policy)).toEqual({
        failures: 1,
        lockedUntil: T0 + 1000,
        expiresAt: T0 + 60_000,
      });
      await Promise.all([s.recordFailure(k, T0, policy), s.recordFailure(k, T0, policy)]);
      expect((await s.getThrottle(k, T0))?.failures).toBe(3);
      // Expired counters start again.
      expect(
        (await s.recordFailure(k, T0 + 60_000, (f) => ({ lockedUntil: 0, expiresAt: T0 + 120_000 + f })))
          ?.failures,
      ).toBe(1);
      await s.clearThrottle(k);
      expect(await s.getThrottle(k, T0)).toBeUndefined();
    });

    it("window counters: atomic under concurrency, one window per key, a stale window resets once", async () => {
      const s = await make();
      const k = `email:ip:${rid()}`;
      const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
      const burst = await Promise.all(range(50).map(() => s.hitWindow(k, T0, 60_000)));
      expect(burst.map((c) => c.count).sort((a, b) => a - b)).toEqual(range(50));
      expect(new Set(burst.map((c) => c.windowEndsAt))).toEqual(new Set([T0 + 60_000]));
      // Later in the window: the same window, which never slides.
      expect(await s.hitWindow(k, T0 + 59_999, 60_000)).toEqual({ count: 51, windowEndsAt: T0 + 60_000 });
      // The window is over: concurrent hits open exactly one new window and count in it.
      const next = await Promise.all(range(20).map(() => s.hitWindow(k, T0 + 60_000, 30_000)));
      expect(next.map((c) => c.count).sort((a, b) => a - b)).toEqual(range(20));
      expect(new Set(next.map((c) => c.windowEndsAt))).toEqual(new Set([T0 + 90_000]));
      // A long-stale counter (TTL not yet applied) resets too.
      expect(await s.hitWindow(k, T0 + 86400_000, 1000)).toEqual({ count: 1, windowEndsAt: T0 + 86401_000 });
      // Seen through getThrottle like a failure counter; cleared like one.
      expect((await s.getThrottle(k, T0 + 86400_000))?.failures).toBe(1);
      await s.clearThrottle(k);
      expect(await s.hitWindow(k, T0 + 86400_500, 1000)).toEqual({ count: 1, windowEndsAt: T0 + 86401_500 });
    });
  });
}
