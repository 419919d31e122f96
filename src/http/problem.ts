import { DomainError, type DomainErrorCode } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** Renders any thrown value as a response; one per protocol (problem+json, OpenFGA, OAuth, SCIM). */
export type ErrorRenderer = (err: unknown, req: HttpRequest, log: Logger) => HttpResponse;

const STATUS: Record<DomainErrorCode, number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
};

const TITLE: Record<DomainErrorCode, string> = {
  validation: "Invalid request",
  unauthenticated: "Unauthenticated",
  forbidden: "Forbidden",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  rate_limited: "Too many requests",
  unavailable: "Service unavailable",
};

/** Stable problem type URI per error code (RFC 9457 §3.1.1); documented in docs/API.md. */
export const problemType = (code: string): string => `urn:portcullis:problem:${code}`;

export const statusOf = (code: DomainErrorCode): number => STATUS[code];

export function problemResponse(
  status: number,
  body: { type: string; title: string; detail?: string; instance?: string; errors?: unknown },
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode: status,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store", ...headers },
    body: JSON.stringify({ ...body, status }),
  };
}

/**
 * problem+json renderer for Portcullis' own APIs. Known errors show their safe detail; anything
 * else is a generic 500 whose cause goes to the log under the request id, never to the caller.
 */
export const renderProblem: ErrorRenderer = (err, req, log) => {
  if (err instanceof DomainError) {
    const headers: Record<string, string> =
      err.code === "unauthenticated" ? { "www-authenticate": 'Bearer realm="portcullis"' } : {};
    return problemResponse(
      STATUS[err.code],
      {
        type: problemType(err.code),
        title: TITLE[err.code],
        detail: err.detail,
        instance: `urn:request:${req.requestId}`,
        ...(err.errors ? { errors: err.errors } : {}),
      },
      headers,
    );
  }
  log.error("unhandled error", { err });
  return problemResponse(500, {
    type: problemType("internal"),
    title: "Internal error",
    detail: "The server could not complete the request.",
    instance: `urn:request:${req.requestId}`,
  });
};
