/**
 * Public keys as JWKs (RFC 7517/7518) with RFC 7638 thumbprint `kid`s, and the node:crypto signing
 * primitive shared by the local and KMS-envelope signers.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { PublicJwk, SigningAlg } from "./model.ts";
import type { Signer } from "./ports.ts";

/** Checks that a key's type fits the algorithm (P-256 for ES256, RSA ≥ 2048 for RS256, Ed25519 for EdDSA). */
export function assertKeyFitsAlg(key: KeyObject, alg: SigningAlg): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const ok =
    (alg === "ES256" && type === "ec" && details.namedCurve === "prime256v1") ||
    (alg === "RS256" && type === "rsa" && (details.modulusLength ?? 0) >= 2048) ||
    (alg === "EdDSA" && type === "ed25519");
  if (!ok) throw new Error(`key type ${type ?? "unknown"} does not fit ${alg}`);
}

/** Only the public members of a JWK, in a fixed order (no `d`, `p`, `q`... ever). */
function publicMembers(jwk: JWK): JWK {
  switch (jwk.kty) {
    case "EC":
      return { kty: "EC", crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
    case "RSA":
      return { kty: "RSA", n: jwk.n!, e: jwk.e! };
    case "OKP":
      return { kty: "OKP", crv: jwk.crv!, x: jwk.x! };
    default:
      throw new Error(`unsupported key type ${String(jwk.kty)}`);
  }
}

/** The published JWK of a public (or private) key: public members, thumbprint `kid`, `alg`, `use`. */
export async function publicJwkOf(key: KeyObject, alg: SigningAlg): Promise<PublicJwk> {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  assertKeyFitsAlg(pub, alg);
  const base = publicMembers(pub.export({ format: "jwk" }) as JWK);
  const kid = await calculateJwkThumbprint(base, "sha256");
  return { ...base, kid, alg, use: "sig" };
}

/** SubjectPublicKeyInfo DER (what KMS `GetPublicKey`/`GenerateDataKeyPair` return) → key object. */
export const publicKeyFromSpki = (der: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });

/** PKCS#8 DER → private key object. */
export const privateKeyFromPkcs8 = (der: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });

/**
 * Signs with node:crypto in JOSE encoding: ECDSA with `dsaEncoding: "ieee-p1363"` (raw r||s),
 * RSASSA-PKCS1-v1_5 with SHA-256, Ed25519. About 3× faster than WebCrypto for ES256.
 */
export function nodeSign(alg: SigningAlg, key: KeyObject, data: Uint8Array): Uint8Array {
  switch (alg) {
    case "ES256":
      return sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return sign("sha256", data, key);
    case "EdDSA":
      return sign(null, data, key);
  }
}

/** A signer around a private key held in this process (local keys, decrypted envelope keys). */
export function inProcessSigner(alg: SigningAlg, key: KeyObject, jwk: PublicJwk): Signer {
  return {
    kid: jwk.kid,
    alg,
    publicJwk: () => jwk,
    sign: async (data) => nodeSign(alg, key, data),
  };
}
