import { hash, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";

/** Id generator, injectable for deterministic tests. */
export interface IdGenerator {
  /** A new ULID (26 chars, Crockford base32, time-ordered). */
  ulid(): string;
}

const B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * Monotonic ULIDs (spec: github.com/ulid/spec): 48-bit ms time, 80 random bits; ids of one
 * millisecond increment the random part, so they sort in creation order. Written here rather than
 * taken from `ulid`'s `monotonicFactory`, which makes one `crypto` call per character: the audit
 * hot path mints an id per decision, and this draws randomness from a pooled buffer (16 ids per
 * refill) and reuses the encoded time within a millisecond.
 */
export function monotonicUlid(now: () => number = Date.now): () => string {
  const pool = Buffer.allocUnsafe(160);
  let poolAt = pool.length;
  let lastMs = -1;
  let timePart = "";
  /** The 16 random base32 digits (5 bits each) of the last id. */
  const digits = new Uint8Array(16);
  /** Time part and the first 15 random digits, as text: ids of one millisecond differ mostly in the last. */
  let head = "";
  const encodeHead = (): void => {
    let out = timePart;
    for (let i = 0; i < 15; i++) out += B32[digits[i]!];
    head = out;
  };
  return () => {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      let t = ms;
      let tp = "";
      for (let i = 0; i < 10; i++) {
        tp = B32[t % 32] + tp;
        t = Math.floor(t / 32);
      }
      timePart = tp;
      if (poolAt + 10 > pool.length) {
        randomFillSync(pool);
        poolAt = 0;
      }
      // 80 random bits → 16 digits of 5 bits (two digits per 10-bit pair of bytes halves).
      for (let i = 0; i < 16; i += 8) {
        const b = poolAt;
        poolAt += 5;
        digits[i] = pool[b]! >> 3;
        digits[i + 1] = ((pool[b]! & 7) << 2) | (pool[b + 1]! >> 6);
        digits[i + 2] = (pool[b + 1]! >> 1) & 31;
        digits[i + 3] = ((pool[b + 1]! & 1) << 4) | (pool[b + 2]! >> 4);
        digits[i + 4] = ((pool[b + 2]! & 15) << 1) | (pool[b + 3]! >> 7);
        digits[i + 5] = (pool[b + 3]! >> 2) & 31;
        digits[i + 6] = ((pool[b + 3]! & 3) << 3) | (pool[b + 4]! >> 5);
        digits[i + 7] = pool[b + 4]! & 31;
      }
      encodeHead();
      return head + B32[digits[15]!];
    }
    // Same (or an earlier: clock went back) millisecond: increment the random part.
    let i = 15;
    while (i >= 0 && digits[i] === 31) digits[i--] = 0;
    if (i < 0) {
      // Stay at the maximum: every further id of this millisecond fails too (none repeats).
      digits.fill(31);
      throw new Error("ULID random part overflow within one millisecond");
    }
    digits[i]!++;
    if (i < 15) encodeHead();
    return head + B32[digits[15]!];
  };
}

const monotonic = monotonicUlid();
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
  return hash("sha256", secret, "base64url");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
