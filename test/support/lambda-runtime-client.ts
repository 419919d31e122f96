/**
 * A minimal Lambda runtime interface client for tests and benches: it mirrors the loop of the AWS
 * Node.js runtime (aws-lambda-nodejs-runtime-interface-client) against a Runtime API, e.g. the
 * stand-in test/support/lambda-runtime-standin.ts, so a handler is driven exactly as in Lambda:
 *
 *   1. `GET /2018-06-01/runtime/invocation/next` (long poll) on ONE keep-alive connection (an
 *      `Agent` with `maxSockets: 1`, as the AWS runtime keeps a single connection);
 *   2. build the `Context` from the headers (`Lambda-Runtime-Aws-Request-Id`,
 *      `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`) and await
 *      `handler(event, context)`;
 *   3. `POST .../invocation/{id}/response` with the JSON result, or, if the handler threw,
 *      `POST .../invocation/{id}/error` with `Lambda-Runtime-Function-Error-Type:
 *      Runtime.UnhandledError` and `{errorType: err.name, errorMessage: err.message, stackTrace}`
 *      (the stack lines, as the AWS runtime sends them; nothing else of the error object);
 *   4. repeat.
 *
 * Not mirrored: callbacks (`context.done/fail/succeed` are no-ops; handlers are async), streaming,
 * client context and Cognito identity, X-Ray. The AWS runtime exits the process when the Runtime
 * API fails; here the loop ends and `failure` says why. `stop()` aborts the pending `next` (after a
 * handler in progress has ended and its result was posted) and destroys the connection.
 */
import { randomBytes } from "node:crypto";
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import type { Socket } from "node:net";
import type { Context } from "aws-lambda";
import { readBody } from "./read-body.ts";

const RUNTIME = "/2018-06-01/runtime";

export interface RuntimeClientOptions<E> {
  /** `AWS_LAMBDA_RUNTIME_API`: `host:port` of the Runtime API. */
  readonly api: string;
  readonly handler: (event: E, context: Context) => unknown;
  /** `context.functionName`. @default the function name in the invoked ARN */
  readonly functionName?: string;
}

export interface RuntimeClient {
  /** Ends the loop: aborts the pending `next`, waits for a handler in progress, closes the connection. */
  stop(): Promise<void>;
  /** Invocations handled, and those whose handler threw (posted to `/error`). */
  readonly stats: { invocations: number; errors: number };
  /** Why the loop ended without `stop()` (the Runtime API failed), if it did. */
  readonly failure: Error | undefined;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The `/error` body of a thrown value, as the AWS runtime builds it. */
function errorBody(err: unknown) {
  if (err instanceof Error)
    return { errorType: err.name, errorMessage: err.message, stackTrace: (err.stack ?? "").split("\n") };
  return { errorType: typeof err, errorMessage: String(err), stackTrace: [] };
}

export function startRuntimeClient<E = unknown>(options: RuntimeClientOptions<E>): RuntimeClient {
  const colon = options.api.lastIndexOf(":");
  const host = options.api.slice(0, colon);
  const port = Number(options.api.slice(colon + 1));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const abort = new AbortController();
  const stats = { invocations: 0, errors: 0 };
  let stopped = false;
  let failure: Error | undefined;
  /** The client's connections (one at a time), until closed. */
  const sockets = new Set<Socket>();

  const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          method,
          path,
          agent,
          headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
          // Only the long poll is aborted by stop(): a result is always posted.
          ...(method === "GET" ? { signal: abort.signal } : {}),
        },
        (res) =>
          readBody(res).then(
            (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
            reject,
          ),
      );
      req.on("error", reject);
      req.on("socket", (socket) => {
        if (sockets.has(socket)) return;
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
      });
      req.end(body);
    });

  const loop = async () => {
    while (!stopped) {
      const next = await call("GET", `${RUNTIME}/invocation/next`);
      if (next.status !== 200) throw new Error(`invocation/next: HTTP ${next.status} ${next.body}`);
      const requestId = String(next.headers["lambda-runtime-aws-request-id"] ?? "");
      const deadlineMs = Number(next.headers["lambda-runtime-deadline-ms"]);
      const arn = String(next.headers["lambda-runtime-invoked-function-arn"] ?? "");
      const functionName = options.functionName ?? arn.split(":")[6] ?? "function";
      const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
      const context: Context = {
        awsRequestId: requestId,
        getRemainingTimeInMillis: () => deadlineMs - Date.now(),
        invokedFunctionArn: arn,
        functionName,
        functionVersion: "$LATEST",
        memoryLimitInMB: "512",
        logGroupName: `/aws/lambda/${functionName}`,
        logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
        callbackWaitsForEmptyEventLoop: true,
        done: () => {},
        fail: () => {},
        succeed: () => {},
      };
      stats.invocations++;
      const path = `${RUNTIME}/invocation/${encodeURIComponent(requestId)}`;
      let post: { path: string; body: string; headers?: Record<string, string> };
      try {
        const result = await options.handler(JSON.parse(next.body) as E, context);
        // `undefined` (and other values JSON cannot hold) is the `null` result, as in Lambda.
        post = { path: `${path}/response`, body: JSON.stringify(result) ?? "null" };
      } catch (err) {
        stats.errors++;
        post = {
          path: `${path}/error`,
          body: JSON.stringify(errorBody(err)),
          headers: { "Lambda-Runtime-Function-Error-Type": "Runtime.UnhandledError" },
        };
      }
      // A refused post (e.g. the invocation timed out) is not fatal: the AWS runtime goes on too.
      await call("POST", post.path, post.body, post.headers);
    }
  };
  const running = loop().catch((e: unknown) => {
    if (!stopped) failure = e instanceof Error ? e : new Error(String(e));
  });

  return {
    stats,
    get failure() {
      return failure;
    },
    async stop() {
      stopped = true;
      abort.abort();
      await running;
      // Resolves once the connection is really closed (an aborted or destroyed socket closes a
      // tick later, after it left the agent's lists).
      const closed = [...sockets].map((socket) => new Promise((r) => socket.once("close", r)));
      agent.destroy();
      await Promise.all(closed);
    },
  };
}
