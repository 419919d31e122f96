/**
 * ECDSA P-256 signing over a precomputed SHA-256 digest, for the KMS stand-in's `MessageType:
 * DIGEST` (node:crypto always hashes the input itself). Plain BigInt affine arithmetic: slow
 * (milliseconds) and not constant time — test support only, never for real keys.
 */
import { type KeyObject, randomBytes } from "node:crypto";

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Point {
  readonly x: bigint;
  readonly y: bigint;
}

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(p: Point | undefined, q: Point | undefined): Point | undefined {
  if (!p) return q;
  if (!q) return p;
  if (p.x === q.x && mod(p.y + q.y, P) === 0n) return undefined;
  const l =
    p.x === q.x && p.y === q.y
      ? mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P)
      : mod((q.y - p.y) * inv(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}

function mul(k: bigint, p: Point): Point | undefined {
  let r: Point | undefined;
  let q: Point | undefined = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

const toInt = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`);
const toBytes = (v: bigint) => Buffer.from(v.toString(16).padStart(64, "0"), "hex");

/** Signs a 32-byte digest with a P-256 private key; returns JOSE `r||s`. */
export function p256SignDigest(key: KeyObject, digest: Uint8Array): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "P-256" || !jwk.d) throw new Error("not a P-256 private key");
  const d = toInt(Buffer.from(jwk.d, "base64url"));
  const e = toInt(digest);
  for (;;) {
    const k = mod(toInt(randomBytes(40)), N - 1n) + 1n;
    const R = mul(k, G);
    if (!R) continue;
    const r = mod(R.x, N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (e + r * d), N);
    if (s === 0n) continue;
    return Buffer.concat([toBytes(r), toBytes(s)]);
  }
}
