import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { DomainError } from "../shared/errors.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

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
    const raw = event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
    if (raw.byteLength > limit)
      throw new DomainError("payload_too_large", `Request body exceeds ${limit} bytes.`);
    body = raw.toString("utf8");
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
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
  return {
    statusCode: res.statusCode,
    headers: { ...res.headers, "x-request-id": requestId },
    body: res.body ?? "",
    isBase64Encoded: false,
  };
}
