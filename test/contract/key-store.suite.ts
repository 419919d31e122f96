/**
 * The KeyStore contract: every adapter runs this suite, and any difference between them is a bug.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/model.ts";
import type { KeyStore } from "../../src/keys/ports.ts";
import { DomainError } from "../../src/shared/errors.ts";

/** Makes an EMPTY store for one test. */
export type MakeKeyStore = () => KeyStore | Promise<KeyStore>;

let n = 0;
function key(
  state: KeyRecord["state"],
  material: KeyRecord["material"] = { kind: "local", privateKey: "cHJpdg" },
): KeyRecord {
  n += 1;
  const kid = `kid-${n}-${Math.random().toString(36).slice(2)}`;
  return {
    kid,
    alg: "ES256",
    state,
    publicJwk: { kty: "EC", crv: "P-256", x: "eA", y: "eQ", kid, alg: "ES256", use: "sig" },
    material,
    createdAt: 1_700_000_000_000 + n,
    ...(state === "current" ? { activatedAt: 1_700_000_000_500 } : {}),
  };
}

const byKid = (a: KeyRecord, b: KeyRecord) => (a.kid < b.kid ? -1 : 1);

export function describeKeyStore(name: string, make: MakeKeyStore): void {
  describe(`KeyStore contract (${name})`, () => {
    it("starts empty at version 0", async () => {
      const s = await make();
      expect(await s.load()).toEqual({ version: 0, keys: [] });
    });

    it("commits keys and returns them as written, for every kind of key material", async () => {
      const s = await make();
      const keys = [
        key("current"),
        key("next", { kind: "kms", keyId: "mrk-0123456789abcdef0123456789abcdef" }),
        key("previous", { kind: "kms-envelope", wrappingKeyId: "alias/wrap", ciphertext: "Y2lwaGVy" }),
      ];
      const prev = keys[2]!;
      keys[2] = { ...prev, deactivatedAt: 1_700_000_001_000 };
      expect(await s.commit(0, keys)).toBe(1);
      const loaded = await s.load();
      expect(loaded.version).toBe(1);
      expect([...loaded.keys].sort(byKid)).toEqual([...keys].sort(byKid));
    });

    it("replaces keys by kid and keeps the others", async () => {
      const s = await make();
      const a = key("current");
      const b = key("next");
      await s.commit(0, [a, b]);
      const retired: KeyRecord = { ...a, state: "retired", retiredAt: 1_800_000_000_000 };
      expect(await s.commit(1, [retired])).toBe(2);
      const loaded = await s.load();
      expect([...loaded.keys].sort(byKid)).toEqual([retired, b].sort(byKid));
    });

    it("refuses a commit based on a stale version with a conflict, changing nothing", async () => {
      const s = await make();
      await s.commit(0, [key("current")]);
      const before = await s.load();
      for (const stale of [0, 2]) {
        const e = await s.commit(stale, [key("next")]).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(DomainError);
        expect((e as DomainError).code).toBe("conflict");
      }
      expect(await s.load()).toEqual(before);
    });

    it("lets exactly one of concurrent commits on the same version win", async () => {
      const s = await make();
      await s.commit(0, [key("current")]);
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => s.commit(1, [key("next")])));
      expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
      const loaded = await s.load();
      expect(loaded.version).toBe(2);
      expect(loaded.keys.length).toBe(2);
    });

    it("returns copies: changing a loaded record does not change the store", async () => {
      const s = await make();
      await s.commit(0, [key("current")]);
      const loaded = await s.load();
      (loaded.keys[0] as { state: string }).state = "retired";
      expect((await s.load()).keys[0]!.state).toBe("current");
    });
  });
}
