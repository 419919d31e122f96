/**
 * `application/x-www-form-urlencoded` request bodies of the OAuth endpoints (RFC 6749 §3.2, §4.4.2).
 * Parameters without a value count as omitted (§3.1); a parameter may appear once, except those
 * that are lists by definition (`resource`, RFC 8707; `audience`, RFC 8693).
 */
import type { HttpRequest } from "../http/types.ts";
import { invalidRequest } from "./errors.ts";

const MAX_PARAMS = 64;
const MAX_VALUE = 16 * 1024;
const LISTS = new Set(["resource", "audience"]);

/** A parsed form: single-valued access checks repetition. */
export interface Form {
  /** The value, or undefined when absent or empty; `invalid_request` when repeated. */
  get(name: string): string | undefined;
  /** Every non-empty value of a list parameter. */
  all(name: string): string[];
  has(name: string): boolean;
}

/** Parses the form body; `invalid_request` for another media type, too many or too long values. */
export function parseForm(req: HttpRequest): Form {
  if (req.method !== "POST") throw invalidRequest("Use POST.");
  const ct = req.headers["content-type"] ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct))
    throw invalidRequest("Send the parameters as application/x-www-form-urlencoded.");
  const values = new Map<string, string[]>();
  let count = 0;
  for (const [k, v] of new URLSearchParams(req.body ?? "")) {
    if (++count > MAX_PARAMS) throw invalidRequest("Too many parameters.");
    if (v.length > MAX_VALUE) throw invalidRequest("A parameter value is too long.");
    if (v === "") continue;
    const list = values.get(k);
    if (list) list.push(v);
    else values.set(k, [v]);
  }
  return {
    get(name) {
      const v = values.get(name);
      if (v && v.length > 1 && !LISTS.has(name)) throw invalidRequest(`The ${name} parameter is repeated.`);
      return v?.[0];
    },
    all: (name) => values.get(name) ?? [],
    has: (name) => values.has(name),
  };
}
