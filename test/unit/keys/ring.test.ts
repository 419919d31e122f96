import { describe, expect, it } from "vitest";
import { LocalKeyProvider } from "../../../src/keys/adapters/local.ts";
import { MemoryKeyStore } from "../../../src/keys/adapters/memory.ts";
import type { KeyRecord } from "../../../src/keys/model.ts";
import { KeyRing } from "../../../src/keys/ring.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { DomainError } from "../../../src/shared/errors.ts";

const MIN = 60_000;

function setup(options: { publish?: number; cache?: number } = {}) {
  const clock = new ManualClock();
  const store = new MemoryKeyStore();
  const ring = new KeyRing({
    store,
    provider: new LocalKeyProvider(),
    clock,
    publishBeforeUseMs: options.publish ?? 10 * MIN,
    cacheTtlMs: options.cache ?? MIN,
    maxTokenLifetimeMs: 60 * MIN,
    clockSkewMs: MIN,
  });
  return { clock, store, ring };
}

const states = (keys: readonly KeyRecord[]) => Object.fromEntries(keys.map((k) => [k.kid, k.state]));
const rejectsWith = async (p: Promise<unknown>, code: string) =>
  expect(p).rejects.toSatisfy((e) => e instanceof DomainError && e.code === code);

describe("KeyRing", () => {
  it("bootstraps an empty ring on first signing: one current key and one published next key", async () => {
    const { ring } = setup();
    const signer = await ring.signer();
    const keys = await ring.list();
    expect(keys.map((k) => k.state).sort()).toEqual(["current", "next"]);
    expect(signer.kid).toBe(keys.find((k) => k.state === "current")!.kid);
    const jwks = await ring.jwks();
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(keys.map((k) => k.kid).sort());
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(k).not.toHaveProperty("d");
    }
  });

  it("does not bootstrap for verification or JWKS reads", async () => {
    const { ring } = setup();
    expect((await ring.jwks()).keys).toEqual([]);
    expect(await ring.verificationKey("nope")).toBeUndefined();
    expect(await ring.list()).toEqual([]);
  });

  it("refuses to promote a next key before it has been published long enough, unless forced", async () => {
    const { ring, clock } = setup();
    await ring.initialize();
    await rejectsWith(ring.rotate(), "conflict");
    clock.advance(10 * MIN);
    const r = await ring.rotate();
    expect(r.action).toBe("promoted");
    const forced = await ring.rotate({ force: true });
    expect(forced.action).toBe("promoted");
  });

  it("rotates next → current → previous and publishes a fresh next; the JWKS keeps the previous key", async () => {
    const { ring, clock } = setup();
    await ring.initialize();
    const [cur, nxt] = ["current", "next"].map((s) =>
      (ring.list() as Promise<KeyRecord[]>).then((l) => l.find((k) => k.state === s)!),
    );
    const c0 = (await cur)!;
    const n0 = (await nxt)!;
    clock.advance(10 * MIN);
    await ring.rotate();
    const after = states(await ring.list());
    expect(after[c0.kid]).toBe("previous");
    expect(after[n0.kid]).toBe("current");
    expect(Object.values(after).sort()).toEqual(["current", "next", "previous"]);
    expect((await ring.signer()).kid).toBe(n0.kid);
    expect((await ring.jwks()).keys.map((k) => k.kid)).toContain(c0.kid);
  });

  it("publishes only a next key when the ring has none (KMS bootstrap with one key)", async () => {
    const { ring, store, clock } = setup();
    const only = await new LocalKeyProvider().create("ES256");
    await store.commit(0, [{ ...only, state: "current", createdAt: clock.now(), activatedAt: clock.now() }]);
    const r = await ring.rotate();
    expect(r.action).toBe("published");
    expect(states(await ring.list())[only.kid]).toBe("current");
    expect((await ring.signer()).kid).toBe(only.kid);
  });

  it("retires previous keys only after the longest token lifetime plus skew; never the current key", async () => {
    const { ring, clock } = setup();
    await ring.initialize();
    clock.advance(10 * MIN);
    await ring.rotate();
    const prev = (await ring.list()).find((k) => k.state === "previous")!;
    expect(await ring.retire()).toEqual([]);
    await rejectsWith(ring.retire({ kid: prev.kid }), "conflict");
    clock.advance(61 * MIN - 1);
    expect(await ring.retire()).toEqual([]);
    clock.advance(1);
    expect((await ring.retire()).map((k) => k.kid)).toEqual([prev.kid]);
    expect((await ring.jwks()).keys.map((k) => k.kid)).not.toContain(prev.kid);
    expect(await ring.verificationKey(prev.kid)).toBeUndefined();
    const current = (await ring.list()).find((k) => k.state === "current")!;
    await rejectsWith(ring.retire({ kid: current.kid, force: true }), "conflict");
    await rejectsWith(ring.retire({ kid: "unknown" }), "not_found");
  });

  it("retires a previous key early when forced (compromise), and a next key at any time", async () => {
    const { ring, clock } = setup();
    await ring.initialize();
    clock.advance(10 * MIN);
    await ring.rotate();
    const list = await ring.list();
    const prev = list.find((k) => k.state === "previous")!;
    const next = list.find((k) => k.state === "next")!;
    expect((await ring.retire({ kid: prev.kid, force: true })).length).toBe(1);
    expect((await ring.retire({ kid: next.kid })).length).toBe(1);
    expect((await ring.jwks()).keys.length).toBe(1);
  });

  it("serves the cached ring within the TTL and follows another container's rotation afterwards", async () => {
    const { ring, store, clock } = setup({ publish: 0 });
    const other = new KeyRing({
      store,
      provider: new LocalKeyProvider(),
      clock,
      publishBeforeUseMs: 0,
      maxTokenLifetimeMs: 60 * MIN,
      cacheTtlMs: MIN,
    });
    const first = (await ring.signer()).kid;
    await other.rotate();
    expect((await ring.signer()).kid).toBe(first); // cached
    clock.advance(MIN);
    await ring.signer(); // stale: served once more while reloading in the background
    await new Promise((r) => setTimeout(r, 10));
    expect((await ring.signer()).kid).not.toBe(first);
  });

  it("reloads once on an unknown kid (a key another container just created), at most every 5 s", async () => {
    const { ring, store, clock } = setup({ publish: 0, cache: 10 * MIN });
    const other = new KeyRing({
      store,
      provider: new LocalKeyProvider(),
      clock,
      publishBeforeUseMs: 0,
      maxTokenLifetimeMs: 60 * MIN,
    });
    await ring.signer();
    await other.rotate();
    const fresh = (await store.load()).keys.find((k) => k.state === "next")!;
    expect(await ring.verificationKey(fresh.kid)).toMatchObject({ kid: fresh.kid });
    await other.rotate();
    const newer = (await store.load()).keys.find((k) => k.state === "next")!;
    clock.advance(1000);
    expect(await ring.verificationKey(newer.kid)).toBeUndefined(); // throttled
    clock.advance(5000);
    expect(await ring.verificationKey(newer.kid)).toMatchObject({ kid: newer.kid });
  });

  it("lets only one of two concurrent rotations win", async () => {
    const { ring, store, clock } = setup({ publish: 0 });
    await ring.initialize();
    const other = new KeyRing({
      store,
      provider: new LocalKeyProvider(),
      clock,
      publishBeforeUseMs: 0,
      maxTokenLifetimeMs: MIN,
    });
    const results = await Promise.allSettled([ring.rotate(), other.rotate()]);
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
    const keys = await ring.list();
    expect(keys.filter((k) => k.state === "current").length).toBe(1);
  });

  it.each(["RS256", "EdDSA"] as const)("signs with %s keys", async (alg) => {
    const ring = new KeyRing({
      store: new MemoryKeyStore(),
      provider: new LocalKeyProvider(),
      clock: new ManualClock(),
      alg,
      maxTokenLifetimeMs: MIN,
    });
    const signer = await ring.signer();
    expect(signer.alg).toBe(alg);
    expect(signer.publicJwk().kty).toBe(alg === "RS256" ? "RSA" : "OKP");
  });
});
