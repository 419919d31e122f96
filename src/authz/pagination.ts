/**
 * Opaque continuation tokens: base64url JSON around the adapter's cursor plus the parameters the
 * token is bound to. Malformed tokens → 2007; page sizes outside 1–100 → 2039.
 */
import { AuthzError, invalidContinuationToken } from "./errors.ts";

const TOKEN_RE = /^[A-Za-z0-9_-]+={0,2}$/;
const MAX_TOKEN_BYTES = 5120;

export interface TokenBody {
  /** Adapter cursor. */
  readonly c: string;
  /** Bound filter (e.g. the ReadChanges type, the Read filter). */
  readonly f?: string;
}

export function encodeToken(body: TokenBody): string {
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
}

export function decodeToken(token: string | undefined): TokenBody | undefined {
  if (token === undefined || token === "") return undefined;
  if (typeof token !== "string" || token.length > MAX_TOKEN_BYTES || !TOKEN_RE.test(token)) {
    throw invalidContinuationToken();
  }
  try {
    const body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (typeof body !== "object" || body === null) throw new Error("not an object");
    const { c, f } = body as { c?: unknown; f?: unknown };
    if (typeof c !== "string" || (f !== undefined && typeof f !== "string")) throw new Error("bad fields");
    return f === undefined ? { c } : { c, f };
  } catch {
    throw invalidContinuationToken();
  }
}

export function pageSize(value: number | undefined, max = 100, fallback = 50): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AuthzError("page_size_invalid", `page_size must be between 1 and ${max}`);
  }
  return value;
}
