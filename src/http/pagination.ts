import { validationError } from "../shared/errors.ts";

/**
 * Continuation tokens are opaque to callers: base64url JSON of the adapter cursor plus the scope it
 * belongs to (e.g. `apikeys:<tenantId>`), so a token from one listing is refused by another.
 * Adapters must still treat the cursor as untrusted input (they bind it to the queried partition).
 */
export function encodeContinuation(scope: string, cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  return Buffer.from(JSON.stringify({ s: scope, c: cursor }), "utf8").toString("base64url");
}

export function decodeContinuation(scope: string, token: string | undefined): string | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (v && typeof v === "object" && "s" in v && "c" in v && v.s === scope && typeof v.c === "string")
      return v.c;
  } catch {
    // fall through
  }
  throw validationError("The continuation token is invalid.");
}
