/**
 * Password hashing with scrypt (node:crypto; memory-hard, no native add-on). Stored as
 * `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64url>$<hash b64url>`, so parameters can be raised later
 * and old hashes still verify (and are re-hashed at the next sign-in).
 *
 * Default parameters: N = 2^17, r = 8, p = 1 (128 MiB, OWASP's scrypt recommendation), 16-byte salt,
 * 32-byte output. `ln` is configurable (`PORTCULLIS_PASSWORD_SCRYPT_LN`, 14..20); tests use a lower
 * cost to stay fast.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters. */
export interface ScryptParams {
  /** log2 of N (the CPU/memory cost). @default 17 */
  readonly ln: number;
  /** Block size. @default 8 */
  readonly r: number;
  /** Parallelism. @default 1 */
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 17, r: 8, p: 1 };
const KEY_LEN = 32;
const MAX_PASSWORD = 1024;

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  const N = 2 ** p.ln;
  return new Promise((resolve, reject) =>
    scryptCb(
      password.normalize("NFKC"),
      salt,
      KEY_LEN,
      { N, r: p.r, p: p.p, maxmem: 128 * N * p.r * p.p + 16 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** Hashes a password with fresh salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([\w-]{16,64})\$([\w-]{32,128})$/;

/** Parameters of a stored hash, or undefined when malformed. */
export function paramsOf(hash: string): ScryptParams | undefined {
  const m = FORMAT.exec(hash);
  return m ? { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) } : undefined;
}

/** Constant-time check of a password against a stored hash; false for malformed hashes. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = FORMAT.exec(hash);
  if (!m || password.length > MAX_PASSWORD) return false;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return false;
  const expected = Buffer.from(m[5]!, "base64url");
  const key = await scrypt(password, Buffer.from(m[4]!, "base64url"), params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Whether a stored hash uses weaker parameters than `target` (re-hash at next sign-in). */
export function needsRehash(hash: string, target: ScryptParams): boolean {
  const p = paramsOf(hash);
  return !p || p.ln < target.ln || p.r < target.r || p.p < target.p;
}
