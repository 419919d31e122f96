/**
 * A protocol-level stand-in of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`) on 127.0.0.1, for
 * tests and benches: its Extensions API part (internal extensions) and its Runtime API part (the
 * function's runtime, e.g. test/support/lambda-runtime-client.ts, which mirrors the AWS Node.js
 * runtime's loop).
 *
 * Extensions API (2020-01-01):
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
 * Runtime API (2018-06-01):
 * - `GET /2018-06-01/runtime/invocation/next`: the first call attaches a runtime (see below); blocks
 *   until an invocation is handed to the runtime; answers 200 with the event JSON as body and the
 *   headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch ms),
 *   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` (the same request id,
 *   deadline, ARN and trace id as the extensions' INVOKE event).
 * - `POST /2018-06-01/runtime/invocation/{requestId}/response`: the handler's result (JSON body),
 *   answered 202 `{"status":"OK"}`. An id that is not the invocation in progress, or was already
 *   answered, is refused with 400 (`InvalidRequestID` / `InvalidStateTransition`), as Lambda does.
 * - `POST /2018-06-01/runtime/invocation/{requestId}/error` (`Lambda-Runtime-Function-Error-Type`,
 *   body `{errorMessage, errorType, stackTrace}`): ends the invocation with that error; recorded
 *   (`runtimeErrors`) and answered 202, with the same 400 rules as `/response`.
 * - `POST /2018-06-01/runtime/init/error`: recorded (`runtimeErrors`), answered 202.
 *
 * The test plays the Lambda service: `invoke(requestId, {event})` hands an INVOKE event to every
 * registered extension and, once a runtime is attached (it called `invocation/next` at least once),
 * the event to the runtime (each now if it is waiting in `next`, else as soon as it calls `next`).
 * It resolves when Lambda would consider the invocation complete: the runtime (if attached) posted
 * the response or error for that id AND every extension called `next` again. Invocations run
 * strictly one at a time, as in one execution environment: an `invoke` made while another is in
 * progress starts when that one has ended (completed, timed out or rejected).
 *
 * Connections may be kept alive (the AWS runtime client keeps one open) and a `next` may wait for
 * as long as the test likes: the server has no request, socket or keep-alive timeouts. `close()`
 * destroys every socket (releasing the `next` polls waiting) and rejects the invocations in progress.
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
  /** Absolute deadline (epoch ms). @default now + 10 s (from the start of the invocation) */
  deadlineMs?: number;
  /** Give up waiting for the extensions and the runtime after this long (rejects). @default 30 s */
  timeoutMs?: number;
  /** The event handed to the runtime (the body of `invocation/next`). @default {} */
  event?: unknown;
}

export interface Registration {
  readonly id: string;
  readonly name: string;
  readonly events: readonly string[];
}

/** An error posted by the runtime (`invocation/{id}/error` or `init/error`). */
export interface RuntimeErrorReport {
  /** The `Lambda-Runtime-Function-Error-Type` header (e.g. `Runtime.UnhandledError`). */
  readonly type: string;
  /** The body's fields, when it is a JSON object. */
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly stackTrace?: readonly string[];
  /** The raw body. */
  readonly body: string;
}

export interface InvocationResult {
  /** `Date.now()` when the invocation was complete (the last of the runtime and the extensions). */
  readonly completedAt: number;
  /** ms from the start of the invocation to its completion. */
  readonly ms: number;
  /** An extension reported an exit error instead of calling `next` (Lambda resets the environment). */
  readonly reset: boolean;
  /** With a runtime attached: the parsed JSON body of `/response` (`null` for an empty body). */
  readonly response?: unknown;
  /** With a runtime attached: what the runtime posted to `/error` instead. */
  readonly error?: RuntimeErrorReport;
  /** With a runtime attached: `Date.now()` when the response (or error) was posted. */
  readonly respondedAt?: number;
}

export interface LambdaRuntimeStandin {
  /** `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`. */
  readonly api: string;
  readonly registrations: readonly Registration[];
  /** `init/error` and `exit/error` reports of extensions. */
  readonly errors: { kind: "init" | "exit"; id: string; type: string; body: string }[];
  /** `event/next` calls seen, per extension identifier. */
  readonly nextCalls: Map<string, number>;
  /** Open client connections (keep-alive sockets included). */
  readonly connections: number;
  /** A runtime called `runtime/invocation/next` at least once. */
  readonly runtimeAttached: boolean;
  /** `runtime/invocation/next` calls seen. */
  readonly runtimeNextCalls: number;
  /** Errors posted by the runtime: `init/error`, and `invocation/{id}/error` with its request id. */
  readonly runtimeErrors: (RuntimeErrorReport & { kind: "init" | "invocation"; requestId?: string })[];
  /** Resolves when every registered extension (at least one) is waiting in `next`. */
  waitForNext(timeoutMs?: number): Promise<void>;
  /** Resolves when a runtime is waiting in `runtime/invocation/next` with nothing handed to it. */
  waitForRuntime(timeoutMs?: number): Promise<void>;
  /**
   * Starts an invocation (after the one in progress, if any): an INVOKE event to every extension
   * and, with a runtime attached, `options.event` to the runtime. Resolves when the runtime (if
   * attached) posted its response or error and every extension called `next` again.
   */
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

/** The invocation handed (or to be handed) to the runtime, until it posts a response or error. */
interface RuntimeInvocation {
  readonly requestId: string;
  readonly deadlineMs: number;
  readonly traceId: string;
  /** The event JSON. */
  readonly body: string;
  /** Answered to a `next` call: a response or error may be posted now. */
  delivered: boolean;
  readonly done: (outcome: RuntimeOutcome) => void;
}

interface RuntimeOutcome {
  readonly response?: unknown;
  readonly error?: RuntimeErrorReport;
  readonly respondedAt: number;
}

/** An `invoke` call, running or waiting for the one in progress. */
interface Pending {
  readonly start: () => void;
  readonly fail: (e: Error) => void;
  result?: Promise<InvocationResult>;
}

const FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:standin";
const RUNTIME = "/2018-06-01/runtime";
const INVOCATION_POST = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

/** The fields of a runtime error body (`{errorMessage, errorType, stackTrace}`), as far as present. */
function errorReport(type: string, body: string): RuntimeErrorReport {
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") fields = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: only the raw body.
  }
  return {
    type,
    ...(typeof fields.errorType === "string" ? { errorType: fields.errorType } : {}),
    ...(typeof fields.errorMessage === "string" ? { errorMessage: fields.errorMessage } : {}),
    ...(Array.isArray(fields.stackTrace) ? { stackTrace: fields.stackTrace.map(String) } : {}),
    body,
  };
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
  const runtimeErrors: LambdaRuntimeStandin["runtimeErrors"] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  // Runtime API state.
  let runtimeAttached = false;
  let runtimeNextCalls = 0;
  /** The runtime's `next` call waiting for an invocation. */
  let runtimeWaiting: ServerResponse | undefined;
  /** The invocation in progress for the runtime (delivered or not yet), until it is answered. */
  let runtimeCurrent: RuntimeInvocation | undefined;
  /** Request ids already answered (the last 1000): a second answer is an invalid state transition. */
  const answered = new Set<string>();
  // One invocation at a time: the one in progress and those waiting for it.
  let current: Pending | undefined;
  const backlog: Pending[] = [];
  let closed = false;

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
  /** Answers the runtime's waiting `next` with the invocation in progress, if both are there. */
  const deliverRuntime = () => {
    const inv = runtimeCurrent;
    const res = runtimeWaiting;
    if (!inv || inv.delivered || !res || res.destroyed) return;
    runtimeWaiting = undefined;
    inv.delivered = true;
    res.writeHead(200, {
      "content-type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": inv.requestId,
      "Lambda-Runtime-Deadline-Ms": String(inv.deadlineMs),
      "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
      "Lambda-Runtime-Trace-Id": inv.traceId,
    });
    res.end(inv.body);
  };

  /** The Runtime API routes; false if `path` is not one of them. */
  const runtimeRoute = (
    method: string,
    path: string,
    headers: Record<string, unknown>,
    body: string,
    res: ServerResponse,
  ): boolean => {
    if (method === "GET" && path === `${RUNTIME}/invocation/next`) {
      runtimeAttached = true;
      runtimeNextCalls++;
      // One runtime per environment: a newer poll replaces an older one still waiting.
      if (runtimeWaiting && runtimeWaiting !== res)
        json(runtimeWaiting, 400, {
          errorMessage: "replaced by a newer next call",
          errorType: "InvalidRequest",
        });
      runtimeWaiting = res;
      res.on("close", () => {
        if (runtimeWaiting === res) runtimeWaiting = undefined;
      });
      deliverRuntime();
      return true;
    }
    const m = method === "POST" ? INVOCATION_POST.exec(path) : null;
    if (m) {
      const requestId = decodeURIComponent(m[1]!);
      const inv = runtimeCurrent;
      if (!inv || inv.requestId !== requestId || !inv.delivered) {
        if (answered.has(requestId))
          json(res, 400, {
            errorMessage: `invocation ${requestId} was already answered`,
            errorType: "InvalidStateTransition",
          });
        else json(res, 400, { errorMessage: "Invalid request ID", errorType: "InvalidRequestID" });
        return true;
      }
      runtimeCurrent = undefined;
      answered.add(requestId);
      if (answered.size > 1000) answered.delete(answered.values().next().value!);
      const respondedAt = Date.now();
      json(res, 202, { status: "OK" });
      if (m[2] === "response") {
        let response: unknown = null;
        try {
          if (body !== "") response = JSON.parse(body);
        } catch {
          response = body; // Not JSON: the raw payload.
        }
        inv.done({ response, respondedAt });
      } else {
        const error = errorReport(String(headers["lambda-runtime-function-error-type"] ?? ""), body);
        runtimeErrors.push({ kind: "invocation", requestId, ...error });
        inv.done({ error, respondedAt });
      }
      return true;
    }
    if (method === "POST" && path === `${RUNTIME}/init/error`) {
      const error = errorReport(String(headers["lambda-runtime-function-error-type"] ?? ""), body);
      runtimeErrors.push({ kind: "init", ...error });
      json(res, 202, { status: "OK" });
      return true;
    }
    return false;
  };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (path.startsWith(`${RUNTIME}/`)) {
      if (!runtimeRoute(req.method ?? "", path, req.headers, body, res))
        json(res, 404, { errorMessage: "not found", errorType: "InvalidRequest" });
      return;
    }
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
    if (req.method === "POST" && /^\/2020-01-01\/extension\/(init|exit)\/error$/.test(path)) {
      const kind = path.includes("/init/") ? "init" : "exit";
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
  // A `next` may wait indefinitely and the runtime client keeps its connection alive between
  // invocations: no request timeout, no socket inactivity timeout, no keep-alive idle cut-off
  // (close() destroys the sockets).
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 0;
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  /**
   * Hands the invocation out; `done` resolves when it is complete. `missing` says what it still
   * waits for; `abandon` drops its runtime part if still open (timed out or closed).
   */
  const begin = (requestId: string, o: InvokeOptions) => {
    const started = Date.now();
    const deadlineMs = o.deadlineMs ?? started + 10_000;
    const traceId = `Root=1-${started.toString(16)}-${randomUUID().slice(0, 24)}`;
    const body = runtimeAttached ? JSON.stringify(o.event ?? {}) : ""; // throws here if not serialisable
    const event = {
      eventType: "INVOKE",
      deadlineMs,
      requestId,
      invokedFunctionArn: FUNCTION_ARN,
      tracing: { type: "X-Amzn-Trace-Id", value: traceId },
    };
    let extensionsLeft = extensions.size;
    const all = [...extensions.values()].map(
      (ext) =>
        new Promise<boolean>((resolve) => {
          const done = (reset: boolean) => {
            extensionsLeft--;
            resolve(reset);
          };
          const item = { event, done };
          if (ext.waiting) deliver(ext, item);
          else ext.queued = item;
        }),
    );
    let inv: RuntimeInvocation | undefined;
    let outcome: RuntimeOutcome | undefined;
    const runtimePart = runtimeAttached
      ? new Promise<RuntimeOutcome>((resolve) => {
          inv = {
            requestId,
            deadlineMs,
            traceId,
            body,
            delivered: false,
            done: (r) => {
              outcome = r;
              resolve(r);
            },
          };
          runtimeCurrent = inv;
          deliverRuntime();
        })
      : undefined;
    const done = Promise.all([Promise.all(all), runtimePart]).then(
      ([resets, out]): InvocationResult => ({
        completedAt: Date.now(),
        ms: Date.now() - started,
        reset: resets.some((r) => r),
        ...(out?.response !== undefined ? { response: out.response } : {}),
        ...(out?.error ? { error: out.error } : {}),
        ...(out ? { respondedAt: out.respondedAt } : {}),
      }),
    );
    const missing = () =>
      [
        ...(runtimePart && !outcome ? ["the runtime did not post a response"] : []),
        ...(extensionsLeft > 0 ? ["extensions did not call next"] : []),
      ].join(" and ");
    const abandon = () => {
      if (inv && runtimeCurrent === inv) runtimeCurrent = undefined;
    };
    return { done, missing, abandon };
  };

  return {
    api: `127.0.0.1:${port}`,
    registrations,
    errors,
    nextCalls,
    runtimeErrors,
    get connections() {
      return sockets.size;
    },
    get runtimeAttached() {
      return runtimeAttached;
    },
    get runtimeNextCalls() {
      return runtimeNextCalls;
    },
    async waitForNext(timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (extensions.size === 0 || [...extensions.values()].some((e) => !e.waiting)) {
        if (Date.now() > until) throw new Error("no extension waiting in next");
        await later(2);
      }
    },
    async waitForRuntime(timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (!runtimeWaiting || runtimeWaiting.destroyed || runtimeCurrent) {
        if (Date.now() > until) throw new Error("no runtime waiting in next");
        await later(2);
      }
    },
    invoke(requestId, o = {}) {
      if (closed) return Promise.reject(new Error("stand-in closed"));
      if (extensions.size === 0 && !runtimeAttached)
        return Promise.reject(new Error("no extension registered"));
      let pending!: Pending;
      const result = new Promise<InvocationResult>((resolve, reject) => {
        let settled = false;
        let timer: NodeJS.Timeout | undefined;
        let abandon = () => {};
        /** Ends this invocation and starts the next one waiting. */
        const settle = (f: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          abandon();
          f();
          if (current === pending) {
            current = undefined;
            backlog.shift()?.start();
          }
        };
        pending = {
          start: () => {
            current = pending;
            let run: ReturnType<typeof begin>;
            try {
              run = begin(requestId, o);
            } catch (e) {
              settle(() => reject(e));
              return;
            }
            abandon = run.abandon;
            timer = setTimeout(
              () => settle(() => reject(new Error(`invocation ${requestId}: ${run.missing()}`))),
              o.timeoutMs ?? 30_000,
            );
            run.done.then((r) => settle(() => resolve(r)));
          },
          fail: (e) => {
            const i = backlog.indexOf(pending);
            if (i >= 0) backlog.splice(i, 1);
            settle(() => reject(e));
          },
        };
      });
      pending.result = result;
      if (current) backlog.push(pending);
      else pending.start();
      return result;
    },
    set(o) {
      opts = { ...opts, ...o };
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        // Invocations still running or waiting are rejected (handled here, so a caller that did
        // not await one gets no unhandled rejection; one that awaits it sees the error).
        for (const p of [...backlog, ...(current ? [current] : [])]) {
          p.result?.catch(() => {});
          p.fail(new Error("stand-in closed"));
        }
        runtimeWaiting = undefined;
        for (const ext of extensions.values()) ext.waiting = undefined;
        // Every socket is destroyed (waiting `next` polls included); resolves once all are closed.
        const closing = [...sockets].map((s) => new Promise((r) => s.once("close", r)));
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        server.close(() => void Promise.all(closing).then(() => resolve()));
      }),
  };
}
