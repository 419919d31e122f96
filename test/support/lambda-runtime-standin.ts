/**
 * A protocol-level stand-in of the Lambda Extensions API (the extension endpoints of the Runtime
 * API, `AWS_LAMBDA_RUNTIME_API`), on 127.0.0.1, for tests and benches of internal extensions:
 *
 * - `POST /2020-01-01/extension/register` (`Lambda-Extension-Name`, body `{"events":[...]}`):
 *   answers 200 with a `Lambda-Extension-Identifier` header and `{functionName, functionVersion,
 *   handler}`; an internal extension asking for `SHUTDOWN` is refused (400), as Lambda does not send
 *   it to internal extensions. `registerStatus` / `registerDelayMs` simulate failures and slowness.
 * - `GET /2020-01-01/extension/event/next` (`Lambda-Extension-Identifier`): blocks until the test
 *   calls {@link LambdaRuntimeStandin.invoke}; answers the INVOKE event JSON (`eventType`,
 *   `deadlineMs`, `requestId`, `invokedFunctionArn`, `tracing`) and a `Lambda-Extension-Event-Identifier`
 *   header. Unknown identifier: 403. Calling it again means "done with the previous event".
 * - `POST /2020-01-01/extension/init/error` and `/exit/error` (`Lambda-Extension-Identifier`,
 *   `Lambda-Extension-Function-Error-Type`): recorded, answered 202 `{"status":"OK"}`. After an exit
 *   error Lambda resets the execution environment: an invocation still waiting for that extension
 *   ends then (its result has `reset: true`) instead of at its timeout.
 *
 * The test plays the Lambda service: `invoke(requestId)` hands an INVOKE event to every registered
 * extension (now if it is waiting in `next`, else as soon as it calls `next`) and resolves when all
 * of them called `next` again, i.e. when Lambda would consider the invocation complete.
 */
import { randomUUID } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readBody } from "./read-body.ts";

export interface LambdaRuntimeStandinOptions {
  /** Status of the register answer (non-2xx: no identifier). @default 200 */
  registerStatus?: number;
  /** Time before the register answer. @default 0 */
  registerDelayMs?: number;
  /** Status of `event/next` answers (non-2xx simulates a broken environment). @default 200 */
  nextStatus?: number;
  /**
   * `event/next` calls are cut off (socket destroyed, no answer) as if they never reached Lambda:
   * a network error for the extension, and the previous invocation is not completed. @default false
   */
  nextNetworkError?: boolean;
}

export interface InvokeOptions {
  /** Absolute deadline (epoch ms). @default now + 10 s */
  deadlineMs?: number;
  /** Give up waiting for the extensions after this long (rejects). @default 30 s */
  timeoutMs?: number;
}

export interface Registration {
  readonly id: string;
  readonly name: string;
  readonly events: readonly string[];
}

export interface InvocationResult {
  /** `Date.now()` when the last extension called `next` again. */
  readonly completedAt: number;
  /** ms from `invoke` to completion. */
  readonly ms: number;
  /** An extension reported an exit error instead of calling `next` (Lambda resets the environment). */
  readonly reset: boolean;
}

export interface LambdaRuntimeStandin {
  /** `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`. */
  readonly api: string;
  readonly registrations: readonly Registration[];
  /** `init/error` and `exit/error` reports. */
  readonly errors: { kind: "init" | "exit"; id: string; type: string; body: string }[];
  /** `event/next` calls seen, per extension identifier. */
  readonly nextCalls: Map<string, number>;
  /** Open client connections (keep-alive sockets included). */
  readonly connections: number;
  /** Resolves when every registered extension (at least one) is waiting in `next`. */
  waitForNext(timeoutMs?: number): Promise<void>;
  /** Sends an INVOKE event; resolves when every extension called `next` again. */
  invoke(requestId: string, options?: InvokeOptions): Promise<InvocationResult>;
  set(options: LambdaRuntimeStandinOptions): void;
  close(): Promise<void>;
}

interface Extension extends Registration {
  /** The `next` call waiting for an event. */
  waiting?: ServerResponse;
  /** An event handed out before the extension was waiting, and its completion. */
  queued?: { event: Record<string, unknown>; done: (reset: boolean) => void };
  /** Completes the delivered invocation for this extension on its next `next` (or exit error). */
  onNext?: (reset: boolean) => void;
}

export async function startLambdaRuntimeStandin(
  options: LambdaRuntimeStandinOptions = {},
): Promise<LambdaRuntimeStandin> {
  let opts = {
    registerStatus: 200,
    registerDelayMs: 0,
    nextStatus: 200,
    nextNetworkError: false,
    ...options,
  };
  const extensions = new Map<string, Extension>();
  const registrations: Registration[] = [];
  const errors: LambdaRuntimeStandin["errors"] = [];
  const nextCalls = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const deliver = (
    ext: Extension,
    item: { event: Record<string, unknown>; done: (reset: boolean) => void },
  ) => {
    const res = ext.waiting!;
    ext.waiting = undefined;
    ext.onNext = item.done;
    json(res, 200, item.event, { "lambda-extension-event-identifier": randomUUID() });
  };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? "").split("?")[0];
    const id = String(req.headers["lambda-extension-identifier"] ?? "");
    if (req.method === "POST" && path === "/2020-01-01/extension/register") {
      if (opts.registerDelayMs > 0) await later(opts.registerDelayMs);
      const name = req.headers["lambda-extension-name"];
      if (typeof name !== "string" || name === "")
        return json(res, 400, {
          errorMessage: "missing Lambda-Extension-Name",
          errorType: "Extension.Invalid",
        });
      let events: string[];
      try {
        events = (JSON.parse(body) as { events?: string[] }).events ?? [];
      } catch {
        return json(res, 400, { errorMessage: "malformed body", errorType: "Extension.Invalid" });
      }
      if (events.includes("SHUTDOWN"))
        return json(res, 400, {
          errorMessage: "internal extensions cannot register for SHUTDOWN",
          errorType: "Extension.InvalidEventType",
        });
      if (opts.registerStatus < 200 || opts.registerStatus >= 300)
        return json(res, opts.registerStatus, { errorMessage: "injected", errorType: "Extension.Unknown" });
      const ext: Extension = { id: randomUUID(), name, events };
      extensions.set(ext.id, ext);
      registrations.push({ id: ext.id, name, events });
      return json(
        res,
        200,
        { functionName: "standin", functionVersion: "$LATEST", handler: "index.handler" },
        { "lambda-extension-identifier": ext.id },
      );
    }
    const ext = extensions.get(id);
    if (!ext) return json(res, 403, { errorMessage: "unknown extension", errorType: "Extension.Forbidden" });
    if (req.method === "GET" && path === "/2020-01-01/extension/event/next") {
      nextCalls.set(id, (nextCalls.get(id) ?? 0) + 1);
      if (opts.nextNetworkError) {
        req.socket.destroy();
        return;
      }
      // This call ends the previous invocation for this extension (even when it is refused below).
      const done = ext.onNext;
      ext.onNext = undefined;
      done?.(false);
      if (opts.nextStatus !== 200)
        return json(res, opts.nextStatus, { errorMessage: "injected", errorType: "Extension.Unknown" });
      ext.waiting = res;
      res.on("close", () => {
        if (ext.waiting === res) ext.waiting = undefined;
      });
      if (ext.queued) {
        const item = ext.queued;
        ext.queued = undefined;
        deliver(ext, item);
      }
      return;
    }
    if (req.method === "POST" && /^\/2020-01-01\/extension\/(init|exit)\/error$/.test(path ?? "")) {
      const kind = path!.includes("/init/") ? "init" : "exit";
      errors.push({
        kind,
        id,
        type: String(req.headers["lambda-extension-function-error-type"] ?? ""),
        body,
      });
      json(res, 202, { status: "OK" });
      // Lambda resets the environment: the invocation in progress ends now.
      const done = ext.onNext;
      ext.onNext = undefined;
      if (kind === "exit") done?.(true);
      return;
    }
    return json(res, 404, { errorMessage: "not found", errorType: "InvalidRequest" });
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    api: `127.0.0.1:${port}`,
    registrations,
    errors,
    nextCalls,
    get connections() {
      return sockets.size;
    },
    async waitForNext(timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (extensions.size === 0 || [...extensions.values()].some((e) => !e.waiting)) {
        if (Date.now() > until) throw new Error("no extension waiting in next");
        await later(2);
      }
    },
    invoke(requestId, o = {}) {
      if (extensions.size === 0) return Promise.reject(new Error("no extension registered"));
      const started = Date.now();
      const event = {
        eventType: "INVOKE",
        deadlineMs: o.deadlineMs ?? started + 10_000,
        requestId,
        invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:standin",
        tracing: {
          type: "X-Amzn-Trace-Id",
          value: `Root=1-${started.toString(16)}-${randomUUID().slice(0, 24)}`,
        },
      };
      const all = [...extensions.values()].map(
        (ext) =>
          new Promise<boolean>((resolve) => {
            const item = { event, done: resolve };
            if (ext.waiting) deliver(ext, item);
            else ext.queued = item;
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`invocation ${requestId}: extensions did not call next`)),
          o.timeoutMs ?? 30_000,
        );
      });
      return Promise.race([Promise.all(all), timeout])
        .then((resets) => ({
          completedAt: Date.now(),
          ms: Date.now() - started,
          reset: resets.some((r) => r),
        }))
        .finally(() => clearTimeout(timer));
    },
    set(o) {
      opts = { ...opts, ...o };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
