/**
 * The KeyProvider contract (local keys, KMS, KMS envelope): every key a provider creates signs
 * JWS that jose verifies with the published JWK, under a stable RFC 7638 `kid`.
 */
import { calculateJwkThumbprint, compactVerify, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import type { KeyRecord, NewKey, SigningAlg } from "../../src/keys/model.ts";
import type { KeyProvider } from "../../src/keys/ports.ts";

/** Makes a provider (a fresh one per call: signers are cached per provider). */
export type MakeKeyProvider = () => KeyProvider | Promise<KeyProvider>;

const record = (k: NewKey): KeyRecord => ({ ...k, state: "current", createdAt: 0, activatedAt: 0 });
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString("base64url");

async function signJws(p: KeyProvider, k: NewKey, payload: string): Promise<string> {
  const signer = await p.signer(record(k));
  const input = `${b64(JSON.stringify({ alg: k.alg, kid: k.kid, typ: "JWT" }))}.${b64(payload)}`;
  return `${input}.${b64(await signer.sign(Buffer.from(input)))}`;
}

export function describeKeyProvider(name: string, make: MakeKeyProvider, algs: readonly SigningAlg[]): void {
  describe(`KeyProvider contract (${name})`, () => {
    it.each(algs)("creates %s keys whose signatures jose verifies with the published JWK", async (alg) => {
      const p = await make();
      const k = await p.create(alg);
      expect(k.alg).toBe(alg);
      expect(k.publicJwk).toMatchObject({ kid: k.kid, alg, use: "sig" });
      for (const m of ["d", "p", "q", "dp", "dq", "qi"]) expect(k.publicJwk).not.toHaveProperty(m);
      const { kid: _kid, alg: _alg, use: _use, ...members } = k.publicJwk;
      expect(await calculateJwkThumbprint(members, "sha256")).toBe(k.kid);
      const jws = await signJws(p, k, `hello ${alg}`);
      const r = await compactVerify(jws, await importJWK(k.publicJwk, alg));
      expect(Buffer.from(r.payload).toString()).toBe(`hello ${alg}`);
      expect(r.protectedHeader.kid).toBe(k.kid);
    });

    it("signs from a fresh provider (another container) with the stored record alone", async () => {
      const k = await (await make()).create(algs[0]!);
      const jws = await signJws(await make(), k, "from another container");
      await expect(compactVerify(jws, await importJWK(k.publicJwk, k.alg))).resolves.toBeTruthy();
    });

    it("signs long inputs (over 4 KiB) correctly", async () => {
      const alg = algs.includes("ES256") ? "ES256" : algs[0]!;
      const p = await make();
      const k = await p.create(alg);
      const jws = await signJws(p, k, "x".repeat(6000));
      await expect(compactVerify(jws, await importJWK(k.publicJwk, alg))).resolves.toBeTruthy();
    });

    it("bootstraps at least a current key", async () => {
      const keys = await (await make()).bootstrap(algs[0]!);
      expect(keys.length).toBeGreaterThanOrEqual(1);
      expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
    });

    it("refuses to sign with a record whose material belongs to another provider", async () => {
      const p = await make();
      const k = await p.create(algs[0]!);
      const other: KeyRecord = { ...record(k), kid: "other", material: { kind: "kms", keyId: "x" } };
      const wrong =
        k.material.kind === "kms"
          ? { ...other, material: { kind: "local" as const, privateKey: "" } }
          : other;
      await expect(p.signer(wrong)).rejects.toThrow();
    });
  });
}
