/**
 * ECDSA signature encodings. KMS (and OpenSSL by default) return ASN.1 DER
 * `SEQUENCE { INTEGER r, INTEGER s }`; JWS wants the fixed-size concatenation `r || s`
 * (RFC 7518 §3.4). Parsing is strict: malformed input throws, never yields a wrong signature.
 */

/** Octet length of r and s for each JWS ECDSA algorithm. */
export const ECDSA_SIZE = { ES256: 32, ES384: 48, ES512: 66 } as const;

function readLength(der: Uint8Array, at: number): [length: number, next: number] {
  const first = der[at];
  if (first === undefined) throw new Error("DER: truncated length");
  if (first < 0x80) return [first, at + 1];
  const n = first & 0x7f;
  if (n === 0 || n > 2) throw new Error("DER: unsupported length form");
  let len = 0;
  for (let i = 1; i <= n; i++) {
    const b = der[at + i];
    if (b === undefined) throw new Error("DER: truncated length");
    len = (len << 8) | b;
  }
  if (len < 0x80) throw new Error("DER: non-minimal length");
  return [len, at + 1 + n];
}

function readInteger(der: Uint8Array, at: number, size: number): [value: Uint8Array, next: number] {
  if (der[at] !== 0x02) throw new Error("DER: expected INTEGER");
  const [len, start] = readLength(der, at + 1);
  const end = start + len;
  if (len === 0 || end > der.length) throw new Error("DER: bad INTEGER length");
  let bytes = der.subarray(start, end);
  if (bytes[0]! & 0x80) throw new Error("DER: negative INTEGER");
  if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) throw new Error("DER: non-minimal INTEGER");
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  if (bytes.length > size) throw new Error("DER: INTEGER too large");
  const out = new Uint8Array(size);
  out.set(bytes, size - bytes.length);
  return [out, end];
}

/** DER ECDSA signature → JOSE `r||s` with `size` octets each (32 for ES256). */
export function derToJose(der: Uint8Array, size: number): Uint8Array {
  if (der[0] !== 0x30) throw new Error("DER: expected SEQUENCE");
  const [len, start] = readLength(der, 1);
  if (start + len !== der.length) throw new Error("DER: trailing or missing bytes");
  const [r, afterR] = readInteger(der, start, size);
  const [s, afterS] = readInteger(der, afterR, size);
  if (afterS !== der.length) throw new Error("DER: trailing bytes in SEQUENCE");
  if (r.every((b) => b === 0) || s.every((b) => b === 0)) throw new Error("DER: zero r or s");
  const out = new Uint8Array(size * 2);
  out.set(r, 0);
  out.set(s, size);
  return out;
}

function encodeInteger(raw: Uint8Array): Uint8Array {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const body = raw.subarray(i);
  const pad = body[0]! & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/** JOSE `r||s` → DER (what KMS would return); used by tests and the KMS stand-in. */
export function joseToDer(sig: Uint8Array): Uint8Array {
  if (sig.length % 2 !== 0 || sig.length === 0) throw new Error("JOSE signature has odd length");
  const half = sig.length / 2;
  const r = encodeInteger(sig.subarray(0, half));
  const s = encodeInteger(sig.subarray(half));
  const len = r.length + s.length;
  const head = len < 0x80 ? [0x30, len] : [0x30, 0x81, len];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  out.set(r, head.length);
  out.set(s, head.length + r.length);
  return out;
}
