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
 * Per invocation (INVOKE event of request R with `deadlineMs`; D = `deadlineMs` − `reserveMs` (300),
 * C = `deadlineMs` − `cutoffMs` (50)):
 *   1. wait for the middleware's "handler of R done" signal (functions/_shared/audit-middleware.ts,
 *      `after`/`onError`; R is `context.awsRequestId`, which in Lambda equals the INVOKE event's
 *      `requestId`), at most until D (the runtime may have crashed, or the handler runs into its
 *      timeout); the signal may come before the event. Matching is strict: a signal for another id
 *      is never taken for R (a stale one would end R before its handler did, and the next one
 *      too, and so on); ids whose wait ended at D are remembered (bounded) and their late signals
 *      ignored; at the INVOKE event, early signals for other ids are discarded;
 *   2. yield one macrotask so the runtime posts the response first;
 *   3. flush the emitter with the bus deadline D (no retry starts after D, the rest is spilled),
 *      then the EMF line; wait for deliveries still in flight until C at the latest. A `PutEvents`
 *      of a flush with a deadline and a `SendMessageBatch` time out after 150 ms
 *      (src/audit/adapters/), so a call hanging at D has failed and its events are spilled before C; what is still in flight at C (e.g. the
 *      spill queue hangs too) is logged and counted (`eventsInFlightAtCutoff`) and completes, or is
 *      spilled, when the environment runs again;
 *   4. call `next`.
 *
 * Registration happens at cold start, in the module init of the function entry (the bundles are ESM:
 * top-level await, which the Node.js runtime awaits before it asks for the first invocation, so the
 * registration is part of the Init phase as the Extensions API requires). It is bounded by
 * `registerTimeoutMs` (1 s); any failure (non-2xx, network error, no identifier, timeout) logs one
 * warning and leaves the extension inactive: the middleware then flushes inside each invocation, as
 * before. A registration answered only after the timeout starts a passive loop: it only calls `next`
 * on every event (no waiting, no flush, no EMF line; the middleware flushes inside the invocation)
 * so Lambda never waits for an extension nobody drives. If `next` itself keeps failing (non-2xx, or
 * five network errors in a row, retried within the current invocation's time), the extension
 * reports `/extension/exit/error`, after which Lambda resets the execution environment.
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
  /**
   * Time kept back from `deadlineMs` at which the extension stops waiting for deliveries in flight
   * and calls `next` (the bus stops retrying earlier, at `deadlineMs` − `reserveMs`). @default 50
   */
  readonly cutoffMs?: number;
}

/**
 * - `active`: registered; the middleware signals, the extension flushes after the response.
 * - `fallback`: registration failed or timed out; the middleware flushes.
 * - `passive`: registered after the timeout; only calls `next` on each event, the middleware flushes.
 * - `failed`: `next` failed for good (exit error reported, Lambda resets the environment); the
 *   middleware flushes until then.
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
/** Request ids of completed invocations whose late (or repeated) signals are ignored (bounded). */
const MAX_PAST_REQUESTS = 64;
/** Consecutive network failures of `next` before the extension gives up. */
const MAX_NEXT_FAILURES = 5;

/** Adds `key` to a bounded insertion-ordered map, dropping the oldest entry beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

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
  /** Handler-done signals that came before their INVOKE event (value unused). */
  readonly #early = new Map<string, true>();
  /** Invocations already completed: request id → whether its wait ended without the signal. */
  readonly #past = new Map<string, boolean>();
  #waiting: { readonly requestId: string; readonly resolve: (signalled: boolean) => void } | undefined;
  /** Cutoff (epoch ms) of the invocation the pending `next` completes; undefined before the first. */
  #completing: number | undefined;
  /** Pending sleeps: `stop` ends them all. */
  readonly #sleeps = new Set<() => void>();
  /** Counters for tests, the bench and logs. */
  readonly stats = {
    invocations: 0,
    signalTimeouts: 0,
    /** Signals of invocations that had already ended without them (ignored). */
    lateSignals: 0,
    flushTimeouts: 0,
    /** Events still being delivered (or spilled) when invocations reached their cutoff. */
    eventsInFlightAtCutoff: 0,
    nextFailures: 0,
    idMismatches: 0,
  };

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
    if (w?.requestId === requestId) {
      this.#waiting = undefined;
      w.resolve(true);
      return;
    }
    if (this.#past.has(requestId)) {
      // The invocation already ended (its wait reached the deadline, or this is a repeated signal):
      // its events are queued and go with the next flush; the signal must not end another invocation.
      if (this.#past.get(requestId)) this.stats.lateSignals++;
      return;
    }
    if (w) {
      // Invocations never overlap: while R runs, a signal for another, unknown id is never R's.
      this.#mismatch(w.requestId, requestId);
      return;
    }
    // The handler finished before the INVOKE event reached the extension.
    remember(this.#early, requestId, true, MAX_EARLY_SIGNALS);
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
        if (this.#state !== "fallback") return;
        if (late.id === undefined) return this.#release();
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
      this.#release();
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
    this.#release();
  }

  /** Closes the idle keep-alive socket(s): nothing more will be sent to the Extensions API. */
  #release(): void {
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
        res = await this.#call("GET", `${API}/event/next`, { "Lambda-Extension-Identifier": this.#id! });
      } catch (err) {
        if (!this.#running) return;
        this.stats.nextFailures++;
        if (++failures >= MAX_NEXT_FAILURES) return this.#fail("Extension.NextFailed", err);
        this.#o.log.warn("audit extension: next failed; retrying", { err, attempt: failures });
        // The invocation this `next` completes must not run into its timeout: the remaining
        // attempts share the time left before its cutoff.
        let delay = Math.min(1000, 10 * 2 ** failures);
        if (this.#completing !== undefined)
          delay = Math.min(delay, (this.#completing - Date.now()) / (MAX_NEXT_FAILURES - failures));
        await this.#sleep(delay).done;
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
        if (this.#state === "active") {
          const deadlineMs = this.#deadlineMsOf(event);
          await this.#flush(deadlineMs - this.#reserveMs, deadlineMs - this.#cutoffMs);
        }
        this.#state = "stopped";
        return;
      }
    }
  }

  get #reserveMs(): number {
    return this.#o.reserveMs ?? 300;
  }

  get #cutoffMs(): number {
    return Math.min(this.#o.cutoffMs ?? 50, this.#reserveMs);
  }

  async #invoke(event: ExtensionEvent): Promise<void> {
    this.stats.invocations++;
    const deadlineMs = this.#deadlineMsOf(event);
    this.#completing = deadlineMs - this.#cutoffMs;
    // Passive: only `next` (the middleware flushes inside the invocation, see `active`).
    if (this.#state !== "active") return;
    const requestId = typeof event.requestId === "string" ? event.requestId : "";
    const deadline = deadlineMs - this.#reserveMs;
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
    // One macrotask: the runtime posts the response before the flush takes the event loop.
    await new Promise<void>((r) => setImmediate(r));
    await this.#flush(deadline, this.#completing);
  }

  /**
   * Flushes with the bus deadline `deadline` (retries stop, the rest is spilled), waiting for it
   * until `cutoff` at the latest; a flush still running then continues in the background.
   */
  async #flush(deadline: number, cutoff: number): Promise<void> {
    const flushed = flushAuditUntil(this.#o, deadline).then(() => true);
    const timer = this.#sleep(cutoff - Date.now());
    const done = await Promise.race([flushed, timer.done.then(() => false)]);
    timer.wake();
    if (!done && this.#running) {
      const inFlight = this.#eventsInFlight();
      this.stats.flushTimeouts++;
      this.stats.eventsInFlightAtCutoff += inFlight;
      this.#o.log.warn(
        "audit flush still running at the invocation cutoff; events in flight complete or are spilled when the environment runs again",
        {
          in_flight: inFlight,
          queued: this.#o.emitter.bus.pending,
        },
      );
    }
  }

  /**
   * Events handed to the bus and not yet settled: emitted, minus delivered, spilled, refused by the
   * dead-letter queue (logged in full) and still queued.
   */
  #eventsInFlight(): number {
    const t = this.#o.emitter.metrics.totals;
    const settled = t.AuditEventsDelivered + t.AuditEventsSpilled + t.AuditSpillFailures;
    return Math.max(0, t.AuditEventsEmitted - settled - this.#o.emitter.bus.pending);
  }

  /** Resolves true on the handler's signal for `requestId`, false at `deadline` (or on stop). */
  async #handlerFinished(requestId: string, deadline: number): Promise<boolean> {
    const early = this.#early.delete(requestId);
    // Early signals for other ids belong to no invocation that is still to come.
    for (const other of this.#early.keys()) this.#mismatch(requestId, other);
    this.#early.clear();
    if (early) {
      remember(this.#past, requestId, false, MAX_PAST_REQUESTS);
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
    // From now on a signal for `requestId` is late (or repeated): it ends no other invocation.
    remember(this.#past, requestId, !signalled, MAX_PAST_REQUESTS);
    return signalled;
  }

  /**
   * The handler's `context.awsRequestId` equals the INVOKE event's `requestId` in Lambda (both the
   * Lambda request id). A signal for an id that is neither the current invocation's nor a past one
   * is ignored (logged once, counted): taking it for the current invocation would let it end
   * before its handler did.
   */
  #mismatch(expected: string, got: string): void {
    this.stats.idMismatches++;
    if (this.stats.idMismatches === 1)
      this.#o.log.error("audit extension: handler signal for another request id than the INVOKE event", {
        invoke_request_id: expected,
        handler_request_id: got,
      });
  }

  #deadlineMsOf(event: ExtensionEvent): number {
    return typeof event.deadlineMs === "number" && Number.isFinite(event.deadlineMs)
      ? event.deadlineMs
      : Date.now() + (this.#o.defaultDeadlineMs ?? 3000);
  }

  async #fail(type: string, err: unknown): Promise<void> {
    this.#state = "failed";
    this.#o.log.error(
      "audit extension stopped (exit error reported: Lambda resets the environment); audit events are flushed inside each invocation until then",
      {
        err,
      },
    );
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
    this.#release();
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
