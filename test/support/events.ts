import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";

/** An API Gateway HTTP API (payload 2.0) event, as API Gateway sends it. */
export function apiEvent(init: {
  method: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
}): APIGatewayProxyEventV2 {
  const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const headers: Record<string, string> = { "user-agent": "vitest", ...init.headers };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  const qs = new URLSearchParams(init.query ?? {}).toString();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: init.path,
    rawQueryString: qs,
    headers,
    ...(init.query ? { queryStringParameters: init.query } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: {
        method: init.method,
        path: init.path,
        protocol: "HTTP/1.1",
        sourceIp: "198.51.100.7",
        userAgent: "vitest",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined ? { isBase64Encoded: false } : { body, isBase64Encoded: false }),
  };
}

export const lambdaContext = {
  awsRequestId: "test",
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
