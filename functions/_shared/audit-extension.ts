/**
 * The audit extension: flushes an invocation's audit events AFTER the response went out, still
 * inside the invocation, through the Lambda Extensions API as an internal (in-process) extension.
 *
 * Lambda ends an invocation (and may freeze the environment) only when the runtime AND every
 * registered extension have called `next`. The runtime posts the handler's response as soon as the
 * handler resolves; this extension calls `/extension/event/next` only after it flushed the events of
 * that invocation. So the response never waits for `PutEvents`, and events never wait in a frozen
 * environment: the flush is billed time of the same invocation.
 *
 * Per invocation (INVOKE event of request R, deadline D = `deadlineMs` − `reserveMs`):
 *   1. wait for the middleware's "handler of R done" signal (functions/_shared/audit-middleware.ts,
 *      `after`/`onError`; R is `context.awsRequestId`), at most until D (the runtime may have
 *      crashed); the signal may come before the event. Invocations never overlap in one
 *      environment, so a signal for another id is taken too (logged once) rather than waiting to D;
 *   2. yield one macrotask so the runtime posts the response first;
 *   3. flush the emitter with deadline D (retries stop and events are spilled at D), then the EMF
 *      line, at most until D (a PutEvents still in flight at D is awaited by the next flush);
 *   4. call `next`.
 *
 * Registration happens at cold start, in the module init of the function entry (the bundles are ESM:
 * top-level await, which the Node.js runtime awaits before it asks for the first invocation, so the
 * registration is part of the Init phase as the Extensions API requires). It is bounded by
 * `registerTimeoutMs` (1 s); any failure (non-2xx, network error, no identifier, timeout) logs one
 * warning and leaves the extension inactive: the middleware then flushes inside each invocation, as
 * before. A registration answered only after the timeout starts a passive loop (it calls `next` on
 * every event without waiting for handler signals) so Lambda never waits for an extension nobody
 * drives. If `next` itself keeps failing, the extension reports `/extension/exit/error` and goes
 * inactive (the middleware flushes again).
 *
 * Verified against the protocol stand-in test/support/lambda-runtime-standin.ts only, until the
 * first deploy (docs/AUDIT.md "Delivery").
 */
import { Agent, type ClientRequest, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AuditFlushMode } from "../../src/audit/settings.ts";
import { type AuditFlushOptions, flushAuditUntil, type HandlerDoneSink } from "./audit-middleware.ts";

/** `Lambda-Extension-Name` of the extension. */
export const AUDIT_EXTENSION_NAME = "portcullis-audit";
const API = "/2020-01-01/extension";

export interface AuditExtensionOptions extends AuditFlushOptions {
  /** `AWS_LAMBDA_RUNTIME_API`: `host:port` of the Runtime and Extensions APIs. */
  readonly runtimeApi: string;
  /** @default AUDIT_EXTENSION_NAME */
  readonly name?: string;
  /** Time allowed for the registration before falling back to in-invocation flushes. @default 1000 */
  readonly registerTimeoutMs?: number;
  /** Deadline of an INVOKE event without a usable `deadlineMs`, from its arrival. @default 3000 */
  readonly defaultDeadlineMs?: number;
}

/**
 * - `active`: registered; the middleware signals, the extension flushes after the response.
 * - `fallback`: registration failed or timed out; the middleware flushes.
 * - `passive`: registered after the timeout; calls `next` on each event, the middleware flushes.
 * - `failed`: `next` failed for good (exit error reported); the middleware flushes.
 * - `stopped`: {@link AuditExtension.stop} was called.
 */
export type AuditExtensionState = "registering" | "active" | "fallback" | "passive" | "failed" | "stopped";

/** The INVOKE (or SHUTDOWN) event of `/extension/event/next`. */
export interface ExtensionEvent {
  readonly eventType: string;
  readonly deadlineMs?: number;
  readonly requestId?: string;
  readonly invokedFunctionArn?: string;
  readonly tracing?: unknown;
}

interface ApiResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Completed handler signals kept for an INVOKE event that arrives after them (bounded). */
const MAX_EARLY_SIGNALS = 32;
/** Consecutive network failures of `next` before the extension gives up. */
const MAX_NEXT_FAILURES = 5;

export class AuditExtension implements HandlerDoneSink {
  readonly #o: AuditExtensionOptions;
  readonly #host: string;
  readonly #port: number;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });
  #state: AuditExtensionState = "registering";
  #id: string | undefined;
  #loop: Promise<void> | undefined;
  /** The request in flight (the long-poll `next`, or the registration): aborted by `stop`. */
  readonly #requests = new Set<ClientRequest>();
  /** Handler-done signals not yet matched with an INVOKE event. */
  readonly #early = new Set<string>();
  #waiting: { readonly requestId: string; readonly resolve: (signalled: boolean) => void } | undefined;
  /** Pending sleeps: `stop` ends them all. */
  readonly #sleeps = new Set<() => void>();
  /** Counters for tests, the bench and logs. */
  readonly stats = { invocations: 0, signalTimeouts: 0, flushTimeouts: 0, nextFailures: 0, idMismatches: 0 };

  constructor(options: AuditExtensionOptions) {
    this.#o = options;
    const url = new URL(`http://${options.runtimeApi}`);
    this.#host = url.hostname.replace(/^\[|\]$/g, "");
    this.#port = Number(url.port || 80);
  }

  get state(): AuditExtensionState {
    return this.#state;
  }

  /** Whether the middleware should signal instead of flushing. */
  get active(): boolean {
    return this.#state === "active";
  }

  /** The handler of Lambda request `requestId` is done (middleware `after`/`onError`). */
  handlerDone(requestId: string): void {
    const w = this.#waiting;
    if (w) {
      // Lambda runs one invocation at a time per environment: a signal while waiting is this
      // invocation's. A different id is accepted too (see #mismatch) rather than wait to the deadline.
      if (w.requestId !== requestId) this.#mismatch(w.requestId, requestId);
      this.#waiting = undefined;
      w.resolve(true);
      return;
    }
    this.#early.add(requestId);
    if (this.#early.size > MAX_EARLY_SIGNALS) {
      const oldest = this.#early.values().next().value;
      if (oldest !== undefined) this.#early.delete(oldest);
    }
  }

  /**
   * Registers with the Extensions API (at most `registerTimeoutMs`) and starts the event loop.
   * Resolves with the resulting state; never rejects.
   */
  async register(): Promise<AuditExtensionState> {
    const timeoutMs = this.#o.registerTimeoutMs ?? 1000;
    const attempt = this.#call(
      "POST",
      `${API}/register`,
      { "Lambda-Extension-Name": this.#o.name ?? AUDIT_EXTENSION_NAME },
      {
        events: ["INVOKE"],
      },
    ).then(
      (res) => {
        const id = res.headers["lambda-extension-identifier"];
        if (res.status < 200 || res.status >= 300) return { error: `HTTP ${res.status}`, id: undefined };
        if (typeof id !== "string" || id === "")
          return { error: "no Lambda-Extension-Identifier", id: undefined };
        return { error: undefined, id };
      },
      (err: unknown) => ({ error: (err as Error).message ?? String(err), id: undefined }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const first = await Promise.race([attempt, timedOut]);
    clearTimeout(timer);
    if (this.#state === "stopped") return this.#state;
    if (first === "timeout") {
      this.#state = "fallback";
      this.#o.log.warn(
        "audit extension registration timed out; audit events are flushed inside each invocation",
        {
          timeout_ms: timeoutMs,
        },
      );
      // Lambda may still register it: then drive it passively, or Lambda would wait for its `next`.
      void attempt.then((late) => {
        if (late.id === undefined || this.#state !== "fallback") return;
        this.#id = late.id;
        this.#state = "passive";
        this.#o.log.warn("audit extension registered after the timeout; running passively");
        this.#loop = this.#run();
      });
      return this.#state;
    }
    if (first.id === undefined) {
      this.#state = "fallback";
      this.#o.log.warn(
        "audit extension registration failed; audit events are flushed inside each invocation",
        {
          reason: first.error,
        },
      );
      return this.#state;
    }
    this.#id = first.id;
    this.#state = "active";
    this.#loop = this.#run();
    return this.#state;
  }

  /** Stops the loop (tests, benches): aborts the pending `next`; the middleware flushes again. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    for (const r of this.#requests) r.destroy();
    this.#requests.clear();
    for (const wake of [...this.#sleeps]) wake();
    this.#waiting?.resolve(false);
    this.#waiting = undefined;
    await this.#loop;
    this.#agent.destroy();
  }

  get #running(): boolean {
    return this.#state === "active" || this.#state === "passive";
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      let res: ApiResponse;
      try {
        // Signals from before this point belong to finished invocations (or to calls outside Lambda).
        this.#early.clear();
        res = await this.#call("GET", `${API}/event/next`, { "Lambda-Extension-Identifier": this.#id! });
      } catch (err) {
        if (!this.#running) return;
        this.stats.nextFailures++;
        if (++failures >= MAX_NEXT_FAILURES) return this.#fail("Extension.NextFailed", err);
        this.#o.log.warn("audit extension: next failed; retrying", { err, attempt: failures });
        await this.#sleep(Math.min(1000, 10 * 2 ** failures)).done;
        continue;
      }
      if (!this.#running) return;
      // 403 / 500: "non-recoverable state, the extension should exit promptly".
      if (res.status < 200 || res.status >= 300)
        return this.#fail("Extension.NextFailed", new Error(`next answered HTTP ${res.status}`));
      failures = 0;
      let event: ExtensionEvent;
      try {
        event = JSON.parse(res.body) as ExtensionEvent;
      } catch (err) {
        this.#o.log.error("audit extension: malformed event", { err });
        continue;
      }
      if (event.eventType === "INVOKE") await this.#invoke(event);
      else if (event.eventType === "SHUTDOWN") {
        await this.#flush(this.#deadlineOf(event));
        this.#state = "stopped";
        return;
      }
    }
  }

  async #invoke(event: ExtensionEvent): Promise<void> {
    this.stats.invocations++;
    const deadline = this.#deadlineOf(event);
    if (this.#state === "active") {
      const requestId = typeof event.requestId === "string" ? event.requestId : "";
      const signalled = await this.#handlerFinished(requestId, deadline);
      if (!this.#running) return;
      if (!signalled) {
        this.stats.signalTimeouts++;
        this.#o.log.warn(
          "audit extension: no end-of-handler signal before the deadline; flushing what is queued",
          {
            aws_request_id: requestId,
          },
        );
      }
    }
    // One macrotask: the runtime posts the response before the flush takes the event loop.
    await new Promise<void>((r) => setImmediate(r));
    await this.#flush(deadline);
  }

  /** Flushes until `deadline` at the latest; a flush still running then continues in the background. */
  async #flush(deadline: number): Promise<void> {
    const flushed = flushAuditUntil(this.#o, deadline).then(() => true);
    const left = deadline - Date.now();
    const timer = this.#sleep(left);
    const done = await Promise.race([flushed, timer.done.then(() => false)]);
    timer.wake();
    if (!done && this.#running) {
      this.stats.flushTimeouts++;
      this.#o.log.warn(
        "audit flush still running at the invocation deadline; it completes in a later invocation",
        {
          pending: this.#o.emitter.bus.pending,
        },
      );
    }
  }

  /** Resolves true on the handler's signal for `requestId`, false at `deadline` (or on stop). */
  async #handlerFinished(requestId: string, deadline: number): Promise<boolean> {
    if (this.#early.size > 0) {
      // The handler finished before the INVOKE event reached the extension.
      const exact = this.#early.has(requestId);
      const other = exact ? undefined : [...this.#early].at(-1);
      this.#early.clear();
      if (other !== undefined) this.#mismatch(requestId, other);
      return true;
    }
    let signalled = false;
    const sleep = this.#sleep(deadline - Date.now());
    this.#waiting = {
      requestId,
      resolve: (s) => {
        signalled = s;
        sleep.wake();
      },
    };
    await sleep.done;
    if (this.#waiting?.requestId === requestId) this.#waiting = undefined;
    return signalled;
  }

  /**
   * The handler's `context.awsRequestId` is expected to equal the INVOKE event's `requestId` (both
   * the Lambda request id). Should they ever differ, matching strictly would hold every invocation
   * until its deadline; the signal is taken by order instead, and the difference logged once.
   */
  #mismatch(expected: string, got: string): void {
    this.stats.idMismatches++;
    if (this.stats.idMismatches === 1)
      this.#o.log.error("audit extension: handler signal for another request id than the INVOKE event", {
        invoke_request_id: expected,
        handler_request_id: got,
      });
  }

  #deadlineOf(event: ExtensionEvent): number {
    const d =
      typeof event.deadlineMs === "number" && Number.isFinite(event.deadlineMs)
        ? event.deadlineMs
        : Date.now() + (this.#o.defaultDeadlineMs ?? 3000);
    return d - (this.#o.reserveMs ?? 300);
  }

  async #fail(type: string, err: unknown): Promise<void> {
    this.#state = "failed";
    this.#o.log.error("audit extension stopped; audit events are flushed inside each invocation again", {
      err,
    });
    try {
      await this.#call(
        "POST",
        `${API}/exit/error`,
        { "Lambda-Extension-Identifier": this.#id!, "Lambda-Extension-Function-Error-Type": type },
        { errorMessage: (err as Error)?.message ?? String(err), errorType: type },
        1000,
      );
    } catch {
      // nothing more to do: the error is logged
    }
  }

  /** A sleep `stop` (or `wake`) can end early. */
  #sleep(ms: number): { readonly done: Promise<void>; readonly wake: () => void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), Math.max(0, ms));
      wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      this.#sleeps.add(wake);
    });
    return { done, wake };
  }

  /** One Extensions API call; no timeout unless given (`next` blocks until the next event). */
  #call(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<ApiResponse> {
    return new Promise<ApiResponse>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(
        {
          host: this.#host,
          port: this.#port,
          method,
          path,
          agent: this.#agent,
          headers: {
            ...headers,
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            this.#requests.delete(req);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            });
          });
          res.on("error", (err) => {
            this.#requests.delete(req);
            reject(err);
          });
        },
      );
      this.#requests.add(req);
      req.on("error", (err) => {
        this.#requests.delete(req);
        reject(err);
      });
      if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
      req.end(payload);
    });
  }
}

/**
 * Registers the audit extension (resolves after at most `registerTimeoutMs`; never rejects).
 * The result is inactive (`fallback`) when registration did not succeed.
 */
export async function startAuditExtension(options: AuditExtensionOptions): Promise<AuditExtension> {
  const ext = new AuditExtension(options);
  await ext.register();
  return ext;
}

/**
 * The extension a Lambda function entry should run: only with `PORTCULLIS_AUDIT_FLUSH=after-response`
 * (src/audit/settings.ts), inside Lambda (`AWS_LAMBDA_RUNTIME_API`) and with audit on; else undefined
 * (the middleware flushes inside each invocation).
 */
export async function auditExtensionFor(
  flush: AuditFlushOptions,
  mode: AuditFlushMode,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Pick<AuditExtensionOptions, "registerTimeoutMs" | "name">> = {},
): Promise<AuditExtension | undefined> {
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  if (mode !== "after-response" || !runtimeApi || !flush.emitter.enabled) return undefined;
  try {
    return await startAuditExtension({ ...flush, ...overrides, runtimeApi });
  } catch (err) {
    // e.g. a malformed AWS_LAMBDA_RUNTIME_API: never let audit break the function.
    flush.log.warn("audit extension not started; audit events are flushed inside each invocation", { err });
    return undefined;
  }
}
