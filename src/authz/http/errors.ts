/**
 * OpenFGA's error shape at the edge: every error is `{"code": "<name>", "message": "<text>"}` with
 * the HTTP status OpenFGA uses for that code (docs/API.md, "Authorization API"). Engine errors
 * (`AuthzError`) carry their code; the platform's own `DomainError`s (routing, authentication, body
 * limit) are mapped here; anything else is a generic 500 whose cause is logged under the request id
 * and never sent.
 */
import type { ErrorRenderer } from "../../http/problem.ts";
import type { HttpResponse } from "../../http/types.ts";
import { DomainError } from "../../shared/errors.ts";
import { AuthzError } from "../errors.ts";

/** An OpenFGA-shaped error this layer raises itself (codes the engine does not produce). */
export class OpenFgaHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "OpenFgaHttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The local replica cannot answer at the requested freshness yet: retryable (the SDK retries 5xx). */
export const replicaBehind = (why: string) =>
  new OpenFgaHttpError(503, "unavailable", `${why}; retry shortly`, { "retry-after": "1" });

export function openFgaError(
  status: number,
  code: string,
  message: string,
  req: { requestId: string },
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode: status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "fga-request-id": req.requestId,
      ...headers,
    },
    body: JSON.stringify({ code, message }),
  };
}

function fromDomainError(err: DomainError, hasCredential: boolean): [number, string, string] {
  switch (err.code) {
    case "validation": {
      const details = err.errors?.map((e) => `${e.path}: ${e.message}`).join("; ");
      return [400, "validation_error", details ? `${err.detail} ${details}` : err.detail];
    }
    case "unauthenticated":
      return hasCredential
        ? [401, "unauthenticated", "unauthenticated"]
        : [401, "bearer_token_missing", "missing bearer token"];
    case "forbidden":
      // OpenFGA's HTTP encoder sends its whole auth range (1000-1999), `forbidden` included, as 401.
      return [401, "forbidden", err.detail];
    case "not_found":
      return [404, "undefined_endpoint", "Not Found"];
    case "method_not_allowed":
      return [405, "undefined_endpoint", "Method Not Allowed"];
    case "conflict":
      return [409, "Aborted", err.detail];
    case "payload_too_large":
      return [413, "exceeded_entity_limit", err.detail];
    case "unsupported_media_type":
      return [415, "validation_error", err.detail];
    case "rate_limited":
      return [429, "rate_limit_exceeded", err.detail];
    case "unavailable":
      return [503, "unavailable", err.detail];
  }
}

/** The `authz` group's renderer (an `ErrorRenderer`, like problem+json for the admin API). */
export const renderOpenFgaError: ErrorRenderer = (err, req, log) => {
  if (err instanceof AuthzError) return openFgaError(err.httpStatus, err.openfgaName, err.detail, req);
  if (err instanceof OpenFgaHttpError) {
    if (err.status >= 500) log.warn("authz request refused", { code: err.code, reason: err.message });
    return openFgaError(err.status, err.code, err.message, req, { ...err.headers });
  }
  if (err instanceof DomainError) {
    const [status, code, message] = fromDomainError(err, req.headers.authorization !== undefined);
    const headers: Record<string, string> =
      status === 401 ? { "www-authenticate": 'Bearer realm="portcullis"' } : {};
    return openFgaError(status, code, message, req, headers);
  }
  log.error("unhandled error", { err });
  return openFgaError(500, "internal_error", "Internal Server Error", req);
};
