/**
 * OAuth errors (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8693 §2.2.2, RFC 8707 §2) and the one renderer
 * of the OAuth endpoints: `{error, error_description}` JSON, `no-store`, `WWW-Authenticate` on 401.
 * Anything unexpected becomes `server_error` with nothing internal in it.
 */
import type { ErrorRenderer } from "../http/problem.ts";
import type { HttpResponse } from "../http/types.ts";
import { DomainError, type DomainErrorCode } from "../shared/errors.ts";

/** Error codes of RFC 6749 §5.2, RFC 7009 §2.2.1 and RFC 8707 §2 that this server uses. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_token_type"
  | "server_error"
  | "temporarily_unavailable";

/** The `WWW-Authenticate` challenge sent with `invalid_client` (RFC 6749 §5.2, RFC 9110 §11.6.1). */
export const BASIC_CHALLENGE = 'Basic realm="portcullis", charset="UTF-8"';

/** An OAuth protocol error; `description` is shown to the client, so it must be safe. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: OAuthErrorCode, description: string, status = 400, headers: Record<string, string> = {}) {
    super(description);
    this.name = "OAuthError";
    this.code = code;
    this.description = description;
    this.status = status;
    this.headers = headers;
  }
}

/** `400 invalid_request`. */
export const invalidRequest = (d: string) => new OAuthError("invalid_request", d);
/** Client authentication failed: always 401 with a Basic challenge (RFC 6749 §5.2). */
export const invalidClient = (d = "Client authentication failed.") =>
  new OAuthError("invalid_client", d, 401, { "www-authenticate": BASIC_CHALLENGE });

const FROM_DOMAIN: Record<DomainErrorCode, [OAuthErrorCode, number]> = {
  validation: ["invalid_request", 400],
  unsupported_media_type: ["invalid_request", 400],
  not_found: ["invalid_request", 404],
  method_not_allowed: ["invalid_request", 405],
  payload_too_large: ["invalid_request", 413],
  conflict: ["invalid_request", 400],
  unauthenticated: ["invalid_client", 401],
  forbidden: ["unauthorized_client", 403],
  rate_limited: ["temporarily_unavailable", 429],
  unavailable: ["temporarily_unavailable", 503],
};

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const safeDescription = (d: string) => d.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, " ").slice(0, 300);

/** An RFC 6749 §5.2 error response (`no-store`; the description made safe). */
export function oauthErrorResponse(
  status: number,
  code: OAuthErrorCode,
  description: string,
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return {
    statusCode: status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      pragma: "no-cache",
      ...headers,
    },
    body: JSON.stringify({ error: code, error_description: safeDescription(description) }),
  };
}

/** The ErrorRenderer of the OAuth API group. */
export const renderOAuthError: ErrorRenderer = (err, req, log) => {
  if (err instanceof OAuthError)
    return oauthErrorResponse(err.status, err.code, err.description, err.headers);
  if (err instanceof DomainError) {
    const [code, status] = FROM_DOMAIN[err.code];
    const headers: Record<string, string> =
      status === 401
        ? { "www-authenticate": BASIC_CHALLENGE }
        : status === 503
          ? { "retry-after": "1" }
          : status === 405
            ? { allow: "POST" }
            : {};
    if (status >= 500) log.warn("oauth request failed", { err, request_id: req.requestId });
    return oauthErrorResponse(status, code, err.detail, headers);
  }
  log.error("unhandled error", { err, request_id: req.requestId });
  return oauthErrorResponse(500, "server_error", "The server could not complete the request.");
};
