/**
 * The redaction guard: no secret, token or password ever leaves in an audit event. Applied by the
 * emitter to every event before it is queued: detail keys that name a secret are dropped, and any
 * string that looks like a credential (JWT, API key, admin key, PEM, bearer header) is replaced.
 * Also caps field lengths so one event always fits a `PutEvents` entry.
 */
import type { AuditEvent } from "./events.ts";

/** Placeholder of a redacted value. */
export const REDACTED = "[redacted]";

/** Detail keys that name secrets (`client_secret`, `password`, `access_token`, `authorization`...). */
export const SECRET_KEY_RE =
  /secret|passw|pwd|token|authorization|cookie|assertion|private|credential|api_?key/i;

/** Detail keys that match {@link SECRET_KEY_RE} but hold no secret. */
const SAFE_KEYS = new Set(["token_type", "token_type_hint", "api_key_id", "credential_kind"]);

/**
 * Whether a detail key names a secret, remembered per key: detail keys are the rules' own few
 * names, so the regex runs once per name (bounded, should any ever come from input).
 */
const secretKeys = new Map<string, boolean>();
const namesSecret = (k: string): boolean => {
  let v = secretKeys.get(k);
  if (v === undefined) {
    v = SECRET_KEY_RE.test(k) && !SAFE_KEYS.has(k);
    if (secretKeys.size < 1024) secretKeys.set(k, v);
  }
  return v;
};

/** Values that are credentials whatever their key: JWTs, `pcl_`/`pca_` keys, PEM blocks, bearer headers. */
export const SECRET_VALUE_RES: readonly RegExp[] = [
  /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*/,
  /\bpc[la]_[A-Za-z0-9_-]{16,}/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/i,
];

/**
 * Shortest text any pattern above matches (`pcl_` + 16 characters; a JWT needs 24, a bearer
 * header 22, a PEM header 27): shorter strings are skipped without a regex. Most fields of a
 * decision (relations, object ids, ips, "no path") are shorter. Lower it with any new pattern.
 */
export const MIN_SECRET_LENGTH = 20;

/** Cheap pre-check: every pattern above contains one of these. */
const MAYBE_SECRET = /eyJ|pc[la]_|-----BEGIN|bearer|basic/i;

const looksSecret = (s: string): boolean => {
  if (s.length < MIN_SECRET_LENGTH || !MAYBE_SECRET.test(s)) return false;
  for (const re of SECRET_VALUE_RES) if (re.test(s)) return true;
  return false;
};

const cap = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

const clean = (s: string, max: number): string => (looksSecret(s) ? REDACTED : cap(s, max));

/** Longest `reason` kept; longer explanation paths are cut (marked with `…`). */
export const MAX_REASON = 2048;

/**
 * Removes secrets and caps fields of an event the caller owns, in place, including its `request`
 * and `detail` objects (the emitter's hot path: no copy, one cheap regex test per string field in
 * the common case).
 */
export function redactInPlace(e: AuditEvent): AuditEvent {
  e.actor = clean(e.actor, 512);
  e.resource = clean(e.resource, 512);
  e.action = clean(e.action, 256);
  if (e.subject !== undefined) e.subject = clean(e.subject, 512);
  if (e.reason !== undefined) e.reason = clean(e.reason, MAX_REASON);
  if (e.consistency_token !== undefined) e.consistency_token = clean(e.consistency_token, 512);
  const r = e.request;
  if (r) {
    if (r.id !== undefined) r.id = cap(r.id, 256);
    if (r.ip !== undefined) r.ip = cap(r.ip, 64);
    if (r.user_agent !== undefined) r.user_agent = clean(r.user_agent, 512);
  }
  const detail = e.detail;
  if (detail) {
    let n = 0;
    for (const k in detail) {
      const v = detail[k]!;
      const secretKey = namesSecret(k);
      // Past the 32nd key or naming a secret: dropped. An over-long key: re-added capped.
      if (++n > 32 || secretKey || k.length > 64) {
        delete detail[k];
        if (n <= 32 && !secretKey) detail[cap(k, 64)] = typeof v === "string" ? clean(v, 1024) : v;
        continue;
      }
      if (typeof v === "string") detail[k] = clean(v, 1024);
    }
  }
  return e;
}

/** Returns a copy of the event with secrets removed and fields capped. */
export const redactEvent = (e: AuditEvent): AuditEvent =>
  redactInPlace({
    ...e,
    ...(e.request ? { request: { ...e.request } } : {}),
    ...(e.detail ? { detail: { ...e.detail } } : {}),
  });

/**
 * Paths of string values in `value` (any JSON) that look like credentials, or keys that name a
 * secret with a non-empty value: what tests scan emitted events with. Empty = clean.
 */
export function findSecrets(value: unknown, path = ""): string[] {
  if (typeof value === "string") return looksSecret(value) ? [path || "/"] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecrets(v, `${path}/${i}`));
  if (value && typeof value === "object") {
    const found: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEY_RE.test(k) && !SAFE_KEYS.has(k) && k !== "consistency_token" && v !== REDACTED)
        found.push(`${path}/${k}`);
      found.push(...findSecrets(v, `${path}/${k}`));
    }
    return found;
  }
  return [];
}
