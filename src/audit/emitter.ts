/**
 * The audit emitter: what decision paths call. `emit` fills in the envelope (ULID id, time,
 * region), runs the redaction guard, counts decisions and enqueues on the bus: O(1), synchronous,
 * never throws. Nothing here awaits; delivery happens in `flush` (end of invocation).
 *
 * Batched by event-loop turn (`byTurn`, the local platform's `end-of-turn` flush mode): the route
 * edge hands the emitter the work of building a request's events (`later`) instead of doing it
 * in the response path; at the end of the turn (`setImmediate`) the emitter runs the turn's work
 * and delivers its events in one batch. Doing the same work for many requests in a row, away from
 * the request path, costs about a third less than doing it request by request (docs/PERFORMANCE.md).
 */
import type { HttpRequest, Principal } from "../http/types.ts";
import type { Clock } from "../shared/clock.ts";
import type { IdGenerator } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type AuditEventInput } from "./events.ts";
import type { AuditMetrics } from "./metrics.ts";
import type { EventBus } from "./ports.ts";
import { redactInPlace } from "./redact.ts";

export interface AuditEmitterDeps {
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly region: string;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  /** Emission switched off (bench baseline, `PORTCULLIS_AUDIT=off`). @default true */
  readonly enabled?: boolean;
  /**
   * Build and deliver events at the end of each event-loop turn (a long-running server: the local
   * platform), not when the caller flushes. @default false
   */
  readonly byTurn?: boolean;
}

/** Work queued by `later` that runs at once when reached (bounds what a turn holds). */
const MAX_LATER = 512;

export class AuditEmitter {
  readonly #d: AuditEmitterDeps;
  readonly enabled: boolean;

  /** Whether events are built and delivered at the end of the event-loop turn (`later` defers). */
  readonly byTurn: boolean;
  /** Work of this turn (`later`) and the time each was queued at. */
  #later: (() => unknown)[] = [];
  #laterAt: number[] = [];
  /** Time of the work being run (its events' time), NaN outside. */
  #at = Number.NaN;
  #turnScheduled = false;
  /**
   * The end of a turn: its work run and its events delivered (the in-process bus's `flush`
   * delivers synchronously when it can).
   */
  readonly #endTurn = () => {
    try {
      this.#runLater();
      void this.#d.bus.flush();
    } finally {
      // Not before: the work's own emits must not schedule another turn.
      this.#turnScheduled = false;
    }
  };

  constructor(deps: AuditEmitterDeps) {
    this.#d = deps;
    this.enabled = deps.enabled ?? true;
    this.byTurn = deps.byTurn ?? false;
  }

  get metrics(): AuditMetrics {
    return this.#d.metrics;
  }

  get bus(): EventBus {
    return this.#d.bus;
  }

  /**
   * Enqueues one event; never throws and never blocks the caller. The input object becomes the
   * event (the envelope fields are set on it, its `request` and `detail` are redacted in place):
   * pass a fresh one. Nothing is copied on the hot path; readers get the schema's key order from
   * `inSchemaOrder` (events.ts).
   */
  emit(input: AuditEventInput): void {
    if (!this.enabled) return;
    // Batched by turn, an event emitted outside the turn's work (a sign-in, an asynchronous rule
    // settling) joins the work: events then reach the bus in the order they happened, dated and
    // numbered in that order (the worker store's ring takes them only so).
    if (this.byTurn && Number.isNaN(this.#at) && this.later(() => this.emit(input))) return;
    try {
      const d = this.#d;
      const at = input.at;
      // The input becomes the event, unless it cannot: it has a time of its own, was emitted
      // before (it has an id: emitting it again must not rewrite the event already queued), or
      // is frozen or sealed.
      const event = (
        at === undefined && !(input as { id?: string }).id && Object.isExtensible(input)
          ? input
          : copyOf(input)
      ) as AuditEvent;
      event.v = AUDIT_SCHEMA_VERSION;
      event.id = d.ids.ulid();
      event.time = this.#iso(at ?? (Number.isNaN(this.#at) ? d.clock.now() : this.#at));
      event.region = d.region;
      redactInPlace(event);
      d.metrics.countEvent(event.decision);
      d.bus.publish(event);
    } catch (err) {
      this.#d.metrics.add("AuditEmitErrors");
      this.#d.log.error("audit emit failed", { err, type: input.type });
    }
  }

  #isoMs = Number.NaN;
  #isoText = "";
  /** RFC 3339 time of `ms`, formatted once per millisecond. */
  #iso(ms: number): string {
    if (ms !== this.#isoMs) {
      this.#isoText = new Date(ms).toISOString();
      this.#isoMs = ms;
    }
    return this.#isoText;
  }

  /**
   * Runs `work` (which emits) later, at the end of this event-loop turn, when the emitter batches
   * by turn (true); else returns false and the caller runs it. Its events are dated now (if it
   * emits synchronously).
   */
  later(work: () => unknown): boolean {
    if (!this.byTurn || !this.enabled) return false;
    const n = this.#later.push(work);
    this.#laterAt.push(this.#d.clock.now());
    if (n === 1 && !this.#turnScheduled) this.#scheduleTurn();
    else if (n >= MAX_LATER) this.#runLater();
    return true;
  }

  /** Events queued on the bus plus work not run yet (`later`). */
  get pending(): number {
    return this.#later.length + this.#d.bus.pending;
  }

  #scheduleTurn(): void {
    this.#turnScheduled = true;
    setImmediate(this.#endTurn);
  }

  /** Runs the queued work, in order; a failure is logged and the rest runs. */
  #runLater(): void {
    const work = this.#later;
    const at = this.#laterAt;
    if (work.length === 0) return;
    this.#later = [];
    this.#laterAt = [];
    for (let i = 0; i < work.length; i++) {
      this.#at = at[i]!;
      try {
        const out = work[i]!();
        // An asynchronous rule emits when it settles (dated then), after this turn's delivery:
        // `emit` queues it for the next turn; `flush` waits for it.
        if (out instanceof Promise) this.#settling(out);
      } catch (err) {
        this.#failed(err);
      }
    }
    this.#at = Number.NaN;
  }

  /** Asynchronous work still running (see `flush`). */
  readonly #running = new Set<Promise<unknown>>();

  #settling(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.#failed(err));
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  #failed(err: unknown): void {
    this.#d.metrics.add("AuditEmitErrors");
    this.#d.log.error("audit event not built", { err });
  }

  /**
   * Runs the queued work, waits for the asynchronous rules among it (so their events are queued
   * too) and delivers what is queued; never rejects.
   */
  flush(options?: { readonly deadline?: number }): Promise<void> {
    this.#runLater();
    if (this.#running.size === 0) return this.#d.bus.flush(options);
    return this.#settled().then(() => this.#d.bus.flush(options));
  }

  /**
   * `flush` without a promise: runs the queued work; true when no asynchronous work is running and
   * the bus delivered what is queued synchronously (in-process, log lines), else the caller flushes.
   */
  flushSync(): boolean {
    this.#runLater();
    return this.#running.size === 0 && (this.#d.bus.flushSync?.() ?? false);
  }

  /** Waits for the asynchronous work, running what it queued (its events join the turn's work). */
  async #settled(): Promise<void> {
    while (this.#running.size > 0) {
      await Promise.allSettled([...this.#running]);
      this.#runLater();
    }
  }
}

/** The request part of the envelope: request id, source ip, user agent. */
export const requestInfo = (req: HttpRequest): NonNullable<AuditEvent["request"]> => {
  const ua = req.headers["user-agent"];
  return ua
    ? { id: req.requestId, ip: req.sourceIp, user_agent: ua }
    : { id: req.requestId, ip: req.sourceIp };
};

/**
 * A fresh copy of an input the emitter must not take over (the rare path), without `at`; `request`
 * and `detail` are copied too, as redaction writes into them.
 */
const copyOf = (input: AuditEventInput): Omit<AuditEventInput, "at"> => {
  const { at: _, ...rest } = input;
  if (rest.request) rest.request = { ...rest.request };
  if (rest.detail) rest.detail = { ...rest.detail };
  return rest;
};

/**
 * The actor of a principal: `platform:<credential>` for the platform admin; a tenant credential's
 * id as is when typed (`client:<id>`), else `apikey:<id>`; `anonymous` without one.
 */
export const actorOf = (p: Principal | undefined): string => {
  if (p === undefined) return "anonymous";
  // Principals come from the credential caches, one object per credential: the text is kept.
  let a = actors.get(p);
  if (a === undefined) {
    a =
      p.kind === "platform"
        ? `platform:${p.credentialId}`
        : p.credentialId.includes(":")
          ? p.credentialId
          : `apikey:${p.credentialId}`;
    actors.set(p, a);
  }
  return a;
};
const actors = new WeakMap<Principal, string>();

/** An emitter that drops everything (tests and code paths built without audit). */
export const noAudit: Pick<AuditEmitter, "emit"> = { emit: () => {} };

/** What decision paths depend on: `emit`, and `later` where the route edge may defer its work. */
export type AuditSink = Pick<AuditEmitter, "emit"> & Partial<Pick<AuditEmitter, "later">>;
