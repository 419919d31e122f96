/**
 * Continuing a truncated list-users result. OpenFGA silently cuts list-objects and list-users at
 * its result cap (1000) or deadline (3 s); Portcullis says so (`x-portcullis-truncated` header,
 * `truncated_by` and `continuation_token` body fields the SDK ignores) and takes the token back in
 * the request body (`continuation_token`) to return the results after the ones already sent. The
 * engine pages list-objects itself; this is the same scheme for list-users, on top of the engine.
 *
 * Token: `plc1.<model id>.<offset>.<fingerprint>`. The search is deterministic for a given store
 * state, so a continuation re-runs it with a cap of `offset + page + 1` and returns what comes after
 * `offset`; the model is pinned to the first page's, and the fingerprint (SHA-256 over the request:
 * store, object, relation, filter, contextual tuples, context) makes the token useless for any
 * other request. A cut by the deadline gets no token: the same search would stop at the same place.
 * If tuples change between pages, results may repeat or be missed, as with any offset pagination.
 */
import { createHash } from "node:crypto";
import { AuthzError } from "../errors.ts";

export const TRUNCATED_HEADER = "x-portcullis-truncated";

export interface ListContinuation {
  readonly modelId: string;
  readonly offset: number;
}

const TOKEN_RE = /^plc1\.([0-9A-HJKMNP-TV-Z]{26})\.(\d{1,9})\.([A-Za-z0-9_-]{22})$/;

/** A short hash of everything that defines the result set. */
export function fingerprint(parts: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);
}

export function encodeListContinuation(c: ListContinuation, print: string): string {
  return `plc1.${c.modelId}.${c.offset}.${print}`;
}

const invalid = () =>
  new AuthzError(
    "invalid_continuation_token",
    "Invalid continuation token: it does not belong to this request.",
  );

export function decodeListContinuation(token: string, print: string): ListContinuation {
  const m = TOKEN_RE.exec(token);
  if (!m || m[3] !== print) throw invalid();
  return { modelId: m[1]!, offset: Number(m[2]) };
}

export interface Paged<T> {
  readonly items: T[];
  readonly truncatedBy?: "max_results" | "deadline";
  /** Offset of the next page; absent when there is none to offer. */
  readonly nextOffset?: number;
}

/**
 * One page out of a search run with cap `offset + page + 1` (or the scan limit): `found` are the
 * search's results in order, `truncatedBy` what stopped the search.
 */
export function pageOf<T>(
  found: readonly T[],
  truncatedBy: "max_results" | "deadline" | undefined,
  offset: number,
  page: number,
  scanLimit: number,
): Paged<T> {
  const items = found.slice(offset, offset + page);
  const moreFound = found.length > offset + page;
  if (!moreFound && truncatedBy === undefined) return { items };
  const by = moreFound ? "max_results" : truncatedBy!;
  const next = offset + items.length;
  // A deadline cut would stop at the same place again, and the scan limit is the end: no token then.
  const canContinue = by === "max_results" && items.length > 0 && next < scanLimit;
  return canContinue ? { items, truncatedBy: by, nextOffset: next } : { items, truncatedBy: by };
}
