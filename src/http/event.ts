import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { DomainError } from "../shared/errors.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const SURROGATE = /[\uD800-\uDFFF]/;

const tooLarge = (limit: number) =>
  new DomainError("payload_too_large", `Request body exceeds ${limit} bytes.`);

/**
 * API Gateway HTTP API (payload 2.0) event → HttpRequest. Header names are lowercased (API Gateway
 * already does; the local server too). Throws `payload_too_large` over `bodyLimit` bytes.
 */
export function requestFromEvent(
  event: APIGatewayProxyEventV2,
  options: { bodyLimit?: number; requestId?: string } = {},
): HttpRequest {
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  let body: string | undefined;
  if (event.body !== undefined && event.body !== null) {
    if (event.isBase64Encoded) {
      const raw = Buffer.from(event.body, "base64");
      if (raw.byteLength > limit) throw tooLarge(limit);
      body = raw.toString("utf8");
    } else {
      // Text bodies: measured without encoding them; only text with surrogates takes the UTF-8 round
      // trip, which turns lone surrogates into U+FFFD (for any other text it is the identity).
      if (Buffer.byteLength(event.body, "utf8") > limit) throw tooLarge(limit);
      body = SURROGATE.test(event.body) ? Buffer.from(event.body, "utf8").toString("utf8") : event.body;
    }
  }
  const headers: Record<string, string> = {};
  const h = event.headers ?? {};
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (v !== undefined) headers[k.toLowerCase()] = v;
  }
  // Payload 2.0 moves request cookies out of the headers into `cookies`; handlers read one header.
  if (event.cookies?.length) headers.cookie = event.cookies.join("; ");
  const query: Record<string, string> = {};
  const q = event.queryStringParameters;
  if (q) {
    for (const k of Object.keys(q)) {
      const v = q[k];
      if (v !== undefined) query[k] = v;
    }
  }
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    headers,
    query,
    body,
    requestId: options.requestId ?? event.requestContext.requestId,
    sourceIp: event.requestContext.http.sourceIp,
  };
}

export function resultFromResponse(res: HttpResponse, requestId: string): APIGatewayProxyStructuredResultV2 {
  // `{ ...res.headers, "x-request-id": requestId }`, copied by a loop (cheaper than the spread here).
  // A `set-cookie` header goes to `cookies`, where payload 2.0 expects response cookies.
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  const given = res.headers;
  if (given) {
    for (const k of Object.keys(given)) {
      if (k === "set-cookie") cookies = [given[k]!];
      else headers[k] = given[k]!;
    }
  }
  headers["x-request-id"] = requestId;
  return {
    statusCode: res.statusCode,
    headers,
    ...(cookies ? { cookies } : {}),
    body: res.body ?? "",
    isBase64Encoded: false,
  };
}
