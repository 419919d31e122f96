/**
 * IP addresses and CIDR prefixes for the `ipaddress` condition parameter type, following Go's
 * `net/netip` parsing rules (which OpenFGA uses): dotted-quad IPv4 without leading zeros, RFC 4291
 * IPv6 text (with `::`, an embedded IPv4 tail and an optional `%zone`), and `addr/bits` prefixes
 * without zones or non-canonical bit counts.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are unmapped to IPv4 on both sides of `in_cidr`,
 * so `::ffff:10.0.0.1` is in `10.0.0.0/8` and `10.0.0.1` is in `::ffff:10.0.0.0/104`.
 */

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6), already unmapped. */
export class IPAddress {
  readonly bytes: Uint8Array;
  /** IPv6 scope zone (`fe80::1%eth0`), or "" when absent. A zoned address is in no prefix. */
  readonly zone: string;

  constructor(bytes: Uint8Array, zone = "") {
    this.bytes = bytes;
    this.zone = zone;
  }

  /** Whether this address lies in `cidr`; throws {@link MalformedCidrError} for a bad prefix. */
  inCidr(cidr: string): boolean {
    const prefix = cachedCidr(cidr);
    if (prefix === undefined) throw new MalformedCidrError(cidr);
    if (this.zone !== "" || prefix.bytes.length !== this.bytes.length) return false;
    return prefixMatches(this.bytes, prefix.bytes, prefix.bits);
  }

  equals(other: IPAddress): boolean {
    if (this.zone !== other.zone || this.bytes.length !== other.bytes.length) return false;
    return prefixMatches(this.bytes, other.bytes, this.bytes.length * 8);
  }

  toString(): string {
    if (this.bytes.length === 4) return this.bytes.join(".");
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((this.bytes[i]! << 8) | this.bytes[i + 1]!).toString(16));
    return groups.join(":") + (this.zone === "" ? "" : `%${this.zone}`);
  }
}

/** The CIDR string given to `in_cidr` could not be parsed. */
export class MalformedCidrError extends Error {
  constructor(cidr: string) {
    super(`'${cidr.length > 64 ? `${cidr.slice(0, 64)}…` : cidr}' is a malformed CIDR string`);
    this.name = "MalformedCidrError";
  }
}

export interface CidrPrefix {
  /** 4 or 16 bytes (unmapped when the prefix is an IPv4-mapped one of at least 96 bits). */
  readonly bytes: Uint8Array;
  readonly bits: number;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 is unmapped); undefined when malformed. */
export function parseIPAddress(text: string): IPAddress | undefined {
  if (text.includes(":")) {
    const zoneAt = text.indexOf("%");
    const zone = zoneAt < 0 ? "" : text.slice(zoneAt + 1);
    if (zoneAt >= 0 && zone === "") return undefined;
    const bytes = parseIPv6(zoneAt < 0 ? text : text.slice(0, zoneAt));
    if (bytes === undefined) return undefined;
    return isV4Mapped(bytes) ? new IPAddress(bytes.slice(12)) : new IPAddress(bytes, zone);
  }
  const bytes = parseIPv4(text);
  return bytes === undefined ? undefined : new IPAddress(bytes);
}

/** Parses `addr/bits`; undefined when malformed (including zones and non-canonical bits). */
export function parseCidr(text: string): CidrPrefix | undefined {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return undefined;
  const bitsText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const addrText = text.slice(0, slash);
  if (addrText.includes("%")) return undefined;
  if (!addrText.includes(":")) {
    const bytes = parseIPv4(addrText);
    return bytes === undefined || bits > 32 ? undefined : { bytes, bits };
  }
  const bytes = parseIPv6(addrText);
  if (bytes === undefined || bits > 128) return undefined;
  if (isV4Mapped(bytes) && bits >= 96) return { bytes: bytes.slice(12), bits: bits - 96 };
  return { bytes, bits };
}

/** CIDRs usually come from stored tuples, so the same few strings recur: keep their parse. */
const cidrCache = new Map<string, CidrPrefix | null>();
const CIDR_CACHE_SIZE = 1024;

function cachedCidr(text: string): CidrPrefix | undefined {
  let prefix = cidrCache.get(text);
  if (prefix === undefined) {
    prefix = parseCidr(text) ?? null;
    if (cidrCache.size >= CIDR_CACHE_SIZE) cidrCache.clear();
    if (text.length <= 64) cidrCache.set(text, prefix);
  }
  return prefix ?? undefined;
}

function prefixMatches(addr: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (addr[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[whole]! ^ prefix[whole]!) & mask) === 0;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

const IPV4_FIELD = /^(0|[1-9][0-9]{0,2})$/;

function parseIPv4(text: string): Uint8Array | undefined {
  const fields = text.split(".");
  if (fields.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const f = fields[i]!;
    if (!IPV4_FIELD.test(f)) return undefined;
    const n = Number(f);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1]!, true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const count = head.length + tail.length;
  // Without `::` exactly 16 bytes are needed; with it, `::` must stand for at least one zero group.
  if (halves.length === 1 ? count !== 16 : count > 14) return undefined;
  const out = new Uint8Array(16);
  out.set(head, 0);
  out.set(tail, 16 - tail.length);
  return out;
}

/** Colon-separated hex groups as bytes; an IPv4 tail is allowed only at the very end. */
function parseGroups(text: string, mayEndWithV4: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const bytes: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && mayEndWithV4 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (v4 === undefined) return undefined;
      bytes.push(...v4);
      continue;
    }
    if (!HEX_GROUP.test(part)) return undefined;
    const n = Number.parseInt(part, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}
