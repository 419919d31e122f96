/**
 * Consistency tokens (docs/CONSISTENCY.md). A write answers with one (header
 * `x-portcullis-consistency-token`, and `consistency_token` in the body); a query that sends it back
 * in the same header is answered from state at least as fresh as that write.
 *
 * Format: `pct1.<store id>.<region>.<revision>.<model id>`
 * - `store id`: the store written; a token is refused on any other store;
 * - `region`: where the write committed (its replica is the one that surely has it);
 * - `revision`: the store's changelog revision (ULID) after the write, empty if the store had none;
 * - `model id`: the newest authorization model the writer knew of (set by model writes), or empty.
 *
 * Callers treat tokens as opaque. They are not signed: a forged token can only make its own
 * request slower or refused (a future revision waits and then gets 503), never answer with stale
 * data, and it is bound to a store the caller may already use.
 */
import { AuthzError } from "../errors.ts";

export const CONSISTENCY_TOKEN_HEADER = "x-portcullis-consistency-token";

export interface ConsistencyToken {
  readonly storeId: string;
  readonly region: string;
  /** Changelog revision (ULID, compared as a string); `""` = the store's initial state. */
  readonly revision: string;
  /** Newest model id (ULID) the writer knew of; `""` = none. */
  readonly modelId: string;
}

const ULID = "[0-9A-HJKMNP-TV-Z]{26}";
const TOKEN_RE = new RegExp(`^pct1\\.(${ULID})\\.([a-z0-9-]{1,32})\\.(${ULID}|)\\.(${ULID}|)$`);

export function encodeConsistencyToken(t: ConsistencyToken): string {
  return `pct1.${t.storeId}.${t.region}.${t.revision}.${t.modelId}`;
}

const invalid = (why: string) => new AuthzError("validation_error", `invalid consistency token: ${why}`);

/** Parses a token for `storeId`; malformed or foreign tokens are 400 `validation_error`. */
export function decodeConsistencyToken(token: string, storeId: string): ConsistencyToken {
  const m = TOKEN_RE.exec(token.trim());
  if (!m) throw invalid("malformed");
  if (m[1] !== storeId) throw invalid("it was issued for another store");
  return { storeId, region: m[2]!, revision: m[3]!, modelId: m[4]! };
}

/** The later of two ULID-ordered values (`""` is the earliest). */
export const later = (a: string, b: string): string => (a >= b ? a : b);
