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

const SURROGATE = /[\uD800-\uDFFF]/;

/** One name or value: `+` is a space, then percent-decoding; undefined when an escape is malformed. */
function decode(s: string): string | undefined {
  const t = s.includes("+") ? s.replace(/\+/g, " ") : s;
  if (!t.includes("%")) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    return undefined;
  }
}

/**
 * The name/value pairs of a urlencoded body, exactly as `new URLSearchParams(body)` yields them,
 * without its iterator and the UTF-8 round trip: well-formed escapes of valid UTF-8 decode alike
 * either way. A malformed escape (which URLSearchParams keeps literally, or turns into U+FFFD) or a
 * surrogate in the body hands the whole body to URLSearchParams.
 */
function pairs(body: string): Iterable<[string, string]> {
  if (SURROGATE.test(body)) return new URLSearchParams(body);
  const out: [string, string][] = [];
  // URLSearchParams drops one leading "?": so does this (the fallbacks get the body as given).
  const text = body.charCodeAt(0) === 63 ? body.slice(1) : body;
  for (const part of text.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = decode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? "" : decode(part.slice(eq + 1));
    if (k === undefined || v === undefined) return new URLSearchParams(body);
    out.push([k, v]);
  }
  return out;
}

/**
 * A form parameter as the endpoints read it (same pairs, repetition refused), for code that must
 * agree with them without failing: undefined when absent, repeated or unparseable.
 */
export function formParam(body: string | undefined, name: string): string | undefined {
  let found: string | undefined;
  for (const [k, v] of pairs(body ?? "")) {
    if (k !== name || v === "") continue;
    if (found !== undefined) return undefined;
    found = v;
  }
  return found;
}

/** Parses the form body; `invalid_request` for another media type, too many or too long values. */
export function parseForm(req: HttpRequest): Form {
  if (req.method !== "POST") throw invalidRequest("Use POST.");
  const ct = req.headers["content-type"] ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct))
    throw invalidRequest("Send the parameters as application/x-www-form-urlencoded.");
  const values = new Map<string, string[]>();
  let count = 0;
  for (const [k, v] of pairs(req.body ?? "")) {
    if (++count > MAX_PARAMS) throw invalidRequest("Too many parameters.");
    if (v.length > MAX_VALUE) throw invalidRequest("A parameter value is too long.");
    if (v === "") continue;
    const list = values.get(k);
    if (list) list.push(v);
    else values.set(k, [v]);
  }
  return new ParsedForm(values);
}

/** A Form over the parsed values (a class: no closures per request). */
class ParsedForm implements Form {
  readonly #values: Map<string, string[]>;
  constructor(values: Map<string, string[]>) {
    this.#values = values;
  }
  get(name: string): string | undefined {
    const v = this.#values.get(name);
    if (v && v.length > 1 && !LISTS.has(name)) throw invalidRequest(`The ${name} parameter is repeated.`);
    return v?.[0];
  }
  all(name: string): string[] {
    return this.#values.get(name) ?? [];
  }
  has(name: string): boolean {
    return this.#values.has(name);
  }
}
