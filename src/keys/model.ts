/**
 * Signing keys: value types. A key moves through `next → current → previous → retired`:
 * `next` is published in the JWKS but does not sign yet, `current` signs, `previous` stays published
 * until every token it signed has expired, `retired` is no longer published. See
 * docs/runbooks/key-rotation.md for the timing rules.
 */
import type { JWK } from "jose";

/** JWS algorithms our keys sign with (RFC 7518 §3.1; EdDSA = Ed25519, RFC 8037). */
export type SigningAlg = "ES256" | "RS256" | "EdDSA";

/** Every supported algorithm. */
export const SIGNING_ALGS: readonly SigningAlg[] = ["ES256", "RS256", "EdDSA"];

/** Lifecycle state of a signing key. */
export type KeyState = "next" | "current" | "previous" | "retired";

/** Where the private key lives: this process, inside KMS, or KMS-wrapped in the table. */
export type KeySource = "local" | "kms" | "kms-envelope";

/** How to reach the private key; never rendered by any API. */
export type KeyMaterial =
  /** Local key (embedded mode): base64url PKCS#8 DER. Development only; refused in AWS. */
  | { readonly kind: "local"; readonly privateKey: string }
  /** Asymmetric KMS key (multi-region key id, so every region resolves its own replica). */
  | { readonly kind: "kms"; readonly keyId: string }
  /** KMS `GenerateDataKeyPair` private key, encrypted under `wrappingKeyId` (base64 ciphertext). */
  | { readonly kind: "kms-envelope"; readonly wrappingKeyId: string; readonly ciphertext: string };

/** A public JWK as published in the JWKS: `kid` is its RFC 7638 thumbprint. */
export type PublicJwk = JWK & { readonly kid: string; readonly alg: SigningAlg; readonly use: "sig" };

/** One signing key as stored. */
export interface KeyRecord {
  /** RFC 7638 SHA-256 thumbprint of the public key: the same in every region for a multi-region key. */
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly state: KeyState;
  readonly publicJwk: PublicJwk;
  readonly material: KeyMaterial;
  /** Epoch ms: when the key was created and first published (as `next` or `current`). */
  readonly createdAt: number;
  /** Epoch ms: when it became `current`. */
  readonly activatedAt?: number;
  /** Epoch ms: when it became `previous` (stopped signing). */
  readonly deactivatedAt?: number;
  /** Epoch ms: when it was retired (unpublished). */
  readonly retiredAt?: number;
}

/** The stored key ring: every key plus a version for optimistic concurrency. */
export interface KeyRingSnapshot {
  /** 0 for an empty ring; each commit increments it. */
  readonly version: number;
  readonly keys: readonly KeyRecord[];
}

/** A key as created by a provider, before it gets a state. */
export interface NewKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly publicJwk: PublicJwk;
  readonly material: KeyMaterial;
}

/** Where a key's private key lives. */
export const sourceOf = (k: { material: KeyMaterial }): KeySource => k.material.kind;

/** Keys a JWKS publishes: next, current and previous. */
export const isPublished = (k: KeyRecord): boolean => k.state !== "retired";
