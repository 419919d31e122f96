/**
 * Timestamp and duration parsing with Go's rules, since OpenFGA converts context values with
 * `time.Parse(time.RFC3339, s)` and `time.ParseDuration(s)`.
 */

// YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM), upper-case T and Z only (as Go's RFC 3339 parser).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp into a `Date`; undefined when malformed or out of range.
 * A JS `Date` has millisecond precision, so sub-millisecond digits are truncated.
 */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  const time = d.getTime() - offsetMinutes * 60_000;
  return Number.isFinite(time) ? new Date(time) : undefined;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const UNIT_NANOS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const COMPONENT = /(\d*)(?:\.(\d*))?([^\d.]+)/y;
const MAX_INT64 = (1n << 63n) - 1n;

/**
 * Parses a Go duration string (`1h30m`, `1.5h`, `-300ms`, `1µs`, `0`) into signed nanoseconds;
 * undefined when malformed or outside int64 nanoseconds (about ±292 years), as in Go.
 */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") return undefined;
  let total = 0n;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < s.length) {
    const at = COMPONENT.lastIndex;
    const m = COMPONENT.exec(s);
    if (m === null || m.index !== at) return undefined;
    const whole = m[1]!;
    // Digits past nanosecond precision cannot change the result; Go ignores them too.
    const frac = (m[2] ?? "").slice(0, 18);
    if ((whole === "" && frac === "") || whole.length > 20) return undefined;
    const unit = UNIT_NANOS[m[3]!];
    if (unit === undefined) return undefined;
    let nanos = BigInt(whole === "" ? "0" : whole) * unit;
    if (frac !== "") nanos += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    total += nanos;
    if (total > MAX_INT64 + 1n) return undefined;
  }
  if (!negative && total > MAX_INT64) return undefined;
  return negative ? -total : total;
}
