import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { type ApiGroup, routeMatcher } from "../shared/api-groups.ts";

/** A Lambda handler as the local server calls it (the same function AWS Lambda calls). */
export type EventHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalServerOptions {
  readonly groups: readonly ApiGroup[];
  /** Handler per group id. */
  readonly handlers: Readonly<Record<string, EventHandler>>;
  /** @default 4000 */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** Bodies above this are refused with 413 before they are read whole. */
  readonly bodyLimit: number;
}

export interface LocalServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The Lambda context of a local invocation. It has no `getRemainingTimeInMillis`: locally there is
 * no invocation deadline, so middy's early-timeout timer stays off.
 */
const lambdaContext = (requestId: string): Context =>
  ({
    awsRequestId: requestId,
    functionName: "portcullis-local",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:portcullis-local",
    memoryLimitInMB: "512",
    logGroupName: "local",
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: false,
  }) as Context;

class TooLarge extends Error {}

/** The request body, whole; `TooLarge` over `limit` bytes (declared or streamed). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) return Promise.reject(new TooLarge());
  // Listeners rather than `for await`: the async iterator costs more than the read on small bodies.
  // Anonymous callbacks only: under tsx (`npm start`, the benches) esbuild's keepNames wraps every
  // named closure in a defineProperty call.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        settled = true;
        reject(new TooLarge());
      }
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on("error", (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    // A connection closed before the end of the body (what `for await` reports as premature close).
    // 'close' also follows every complete request: no Error (and its stack trace) is made then.
    req.on("close", () => {
      if (settled) return;
      settled = true;
      reject(new Error("request closed before its body was read"));
    });
  });
}

/** The parts of a URL the event needs. */
type RequestUrl = Pick<URL, "pathname" | "search" | "searchParams">;

/** Origin-form paths the WHATWG URL parser returns unchanged: no query, dot segment, escape or special character. */
const PLAIN_PATH = /^(?:\/[\w~-][\w.~-]*)+$/;
const NO_QUERY = new URLSearchParams();

/** `new URL(target, base)` for what the event needs; skips the parser for plain paths (most requests). */
function requestUrl(target: string): RequestUrl {
  if (PLAIN_PATH.test(target)) return { pathname: target, search: "", searchParams: NO_QUERY };
  return new URL(target, "http://local");
}

/** Builds the API Gateway HTTP API (payload 2.0) event API Gateway would send for this request. */
export function eventFromRequest(
  req: IncomingMessage,
  url: RequestUrl,
  body: Buffer,
  requestId: string,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  const given = req.headers;
  for (const k of Object.keys(given)) {
    const v = given[k];
    if (v === undefined) continue;
    if (k === "cookie") {
      cookies ??= [];
      cookies.push(...String(v).split(/;\s*/));
    } else headers[k] = Array.isArray(v) ? v.join(",") : v;
  }
  const now = Date.now();
  // Built property by property (in the order API Gateway sends them) rather than with spreads of
  // optional parts: this runs for every request.
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
  } as APIGatewayProxyEventV2;
  if (cookies?.length) event.cookies = cookies;
  event.headers = headers;
  if (url.search) {
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    event.queryStringParameters = query;
  }
  event.requestContext = {
    accountId: "000000000000",
    apiId: "local",
    domainName: headers.host ?? "127.0.0.1",
    domainPrefix: "local",
    http: {
      method: (req.method ?? "GET").toUpperCase(),
      path: url.pathname,
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
      userAgent: headers["user-agent"] ?? "",
    },
    requestId,
    routeKey: "$default",
    stage: "$default",
    time: utcString(now),
    timeEpoch: now,
  };
  // As API Gateway does: text bodies as they are, anything that is not UTF-8 base64-encoded.
  if (body.length === 0) event.isBase64Encoded = false;
  else if (isUtf8(body)) {
    event.body = body.toString("utf8");
    event.isBase64Encoded = false;
  } else {
    event.body = body.toString("base64");
    event.isBase64Encoded = true;
  }
  return event;
}

/** Statuses that carry a body (and so a Content-Length); 1xx, 204 and 304 never do. */
const hasBody = (status: number) => status >= 200 && status !== 204 && status !== 304;

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}

const problemHeaders = (requestId: string) => ({
  "content-type": "application/problem+json",
  "x-request-id": requestId,
});

const problem = (status: number, code: string, title: string, detail: string, requestId: string) =>
  JSON.stringify({
    type: `urn:portcullis:problem:${code}`,
    title,
    status,
    detail,
    instance: `urn:request:${requestId}`,
  });

/**
 * The literal first path segment of a route key (`ANY /stores/{proxy+}` → `stores`), or undefined
 * when it is a parameter: a route can only match paths that start with its literal.
 */
function firstSegment(routeKey: string): string | undefined {
  const seg = routeKey.slice(routeKey.indexOf(" ") + 1).split("/")[1] ?? "";
  return /^\{\w+\+?\}$/.test(seg) ? undefined : seg;
}

/** `new Date(ms).toUTCString()`, computed once per second (its resolution). */
let utc = { second: Number.NaN, text: "" };
function utcString(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== utc.second) utc = { second, text: new Date(ms).toUTCString() };
  return utc.text;
}

/**
 * The local platform's HTTP server: each request becomes an API Gateway v2 event for the group
 * whose route matches (as API Gateway would route it) and goes to that group's Lambda handler.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const routes = options.groups.flatMap((g) =>
    g.routes.map((r) => ({ group: g.id, first: firstSegment(r), match: routeMatcher(r) })),
  );
  const server = createServer(async (req, res) => {
    const requestId = randomUUID();
    const url = requestUrl(req.url ?? "/");
    const path = url.pathname;
    const method = (req.method ?? "GET").toUpperCase();
    const slash = path.indexOf("/", 1);
    const first = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const route = routes.find((r) => (r.first === undefined || r.first === first) && r.match(method, path));
    const handler = route && options.handlers[route.group];
    if (!handler) {
      req.resume();
      send(
        res,
        404,
        problemHeaders(requestId),
        problem(404, "not_found", "Not found", "No such endpoint.", requestId),
      );
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, options.bodyLimit);
    } catch (err) {
      const tooLarge = err instanceof TooLarge;
      res.setHeader("connection", "close");
      send(
        res,
        tooLarge ? 413 : 400,
        problemHeaders(requestId),
        tooLarge
          ? problem(
              413,
              "payload_too_large",
              "Payload too large",
              `Request body exceeds ${options.bodyLimit} bytes.`,
              requestId,
            )
          : problem(400, "validation", "Invalid request", "The request body could not be read.", requestId),
      );
      req.destroy();
      return;
    }
    try {
      const result = await handler(eventFromRequest(req, url, body, requestId), lambdaContext(requestId));
      const headers: Record<string, string> = {};
      const given = result.headers ?? {};
      let framed = false;
      for (const k of Object.keys(given)) {
        headers[k] = String(given[k]);
        const name = k.toLowerCase();
        if (name === "content-length" || name === "transfer-encoding") framed = true;
      }
      if (result.cookies?.length) res.setHeader("set-cookie", result.cookies);
      const out = result.isBase64Encoded ? Buffer.from(result.body ?? "", "base64") : (result.body ?? "");
      const status = result.statusCode ?? 200;
      // The body's length rather than chunked framing, as API Gateway answers.
      if (!framed && method !== "HEAD" && hasBody(status))
        headers["content-length"] = String(typeof out === "string" ? Buffer.byteLength(out) : out.length);
      res.writeHead(status, headers);
      res.end(method === "HEAD" ? undefined : out);
    } catch {
      send(
        res,
        500,
        problemHeaders(requestId),
        problem(500, "internal", "Internal error", "The server could not complete the request.", requestId),
      );
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 4000, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
