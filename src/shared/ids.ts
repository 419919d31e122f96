import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { monotonicFactory } from "ulid";

/** Id generator, injectable for deterministic tests. */
export interface IdGenerator {
  /** A new ULID (26 chars, Crockford base32, time-ordered). */
  ulid(): string;
}

const monotonic = monotonicFactory();
export const ulidGenerator: IdGenerator = { ulid: () => monotonic() };

export const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** A URL-safe random secret with `prefix` so leaked keys are recognisable by scanners. */
export function newSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString("base64url")}`;
}

/**
 * Hash of a high-entropy secret (API key, client secret, refresh token) for storage and lookup.
 * SHA-256 is right here: the inputs are 256-bit random values, so a slow KDF adds nothing but
 * latency. Passwords (low entropy) use a memory-hard KDF elsewhere.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
