/**
 * The EventBridge event bus: events are queued in memory and sent with `PutEvents` at flush (the end
 * of each Lambda invocation, or in the background once `autoFlushAt` events are queued). Batches
 * hold at most 10 entries and 256 KB; only the entries EventBridge reports as failed are retried,
 * with exponential backoff and jitter; after `maxAttempts` (or past the invocation deadline) they
 * are spilled to the dead-letter destination (SQS). Nothing is dropped silently: every outcome is
 * counted (delivered, failed entries, retries, spilled, spill failures), and an event that even the
 * dead-letter queue refused is written to the log in full, at error level.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/logger.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditMetrics } from "../metrics.ts";
import type { EventBus } from "../ports.ts";

/** EventBridge limits of one `PutEvents` request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** `source` of audit events on the bus (the EventBridge rule matches on it). */
export const AUDIT_SOURCE = "portcullis.audit";

/** Where undeliverable events go; returns the events it could not take. */
export interface DeadLetterSink {
  send(events: readonly AuditEvent[], reason: string): Promise<AuditEvent[]>;
}

export interface EventBridgeBusOptions {
  readonly client: EventBridgeClient;
  /** Name or ARN of the bus. */
  readonly eventBusName: string;
  readonly deadLetters: DeadLetterSink;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  /** Attempts per entry before it is spilled. @default 4 */
  readonly maxAttempts?: number;
  /** First retry delay; doubles each attempt, full jitter. @default 50 */
  readonly baseDelayMs?: number;
  /** @default 1000 */
  readonly maxDelayMs?: number;
  /** Concurrent `PutEvents` requests per flush. @default 8 */
  readonly concurrency?: number;
  /** Queue length that starts a background flush (long-running processes); 0 = only explicit flushes. @default 0 */
  readonly autoFlushAt?: number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Timeout of one `PutEvents` request of a flush with a deadline. @default EVENTBRIDGE_REQUEST_TIMEOUT_MS */
  readonly requestTimeoutMs?: number;
}

const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

/** An entry as PutEvents sends it, and its size as EventBridge counts it. */
function toEntry(e: AuditEvent, bus: string): { entry: PutEventsRequestEntry; size: number } {
  const detail = JSON.stringify(e);
  const entry: PutEventsRequestEntry = {
    Source: AUDIT_SOURCE,
    DetailType: e.type,
    Detail: detail,
    EventBusName: bus,
    Time: new Date(e.time),
  };
  // EventBridge counts Time as 14 bytes plus the UTF-8 bytes of Source, DetailType and Detail.
  return { entry, size: 14 + utf8(AUDIT_SOURCE) + utf8(e.type) + utf8(detail) };
}

/** Splits events into `PutEvents` batches (≤ 10 entries and ≤ 256 KB each). */
export function batchesOf(
  events: readonly AuditEvent[],
  bus: string,
): { batches: { events: AuditEvent[]; entries: PutEventsRequestEntry[] }[]; oversized: AuditEvent[] } {
  const batches: { events: AuditEvent[]; entries: PutEventsRequestEntry[] }[] = [];
  const oversized: AuditEvent[] = [];
  let cur = { events: [] as AuditEvent[], entries: [] as PutEventsRequestEntry[] };
  let bytes = 0;
  for (const e of events) {
    const { entry, size } = toEntry(e, bus);
    if (size > PUT_EVENTS_MAX_BYTES) {
      oversized.push(e);
      continue;
    }
    if (cur.entries.length === PUT_EVENTS_MAX_ENTRIES || bytes + size > PUT_EVENTS_MAX_BYTES) {
      batches.push(cur);
      cur = { events: [], entries: [] };
      bytes = 0;
    }
    cur.events.push(e);
    cur.entries.push(entry);
    bytes += size;
  }
  if (cur.entries.length > 0) batches.push(cur);
  return { batches, oversized };
}

export class EventBridgeEventBus implements EventBus {
  #queue: AuditEvent[] = [];
  readonly #inflight = new Set<Promise<void>>();
  readonly #o: EventBridgeBusOptions;
  readonly #maxAttempts: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: EventBridgeBusOptions) {
    this.#o = options;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get pending(): number {
    return this.#queue.length;
  }

  publish(event: AuditEvent): void {
    this.#queue.push(event);
    const at = this.#o.autoFlushAt ?? 0;
    if (at > 0 && this.#queue.length >= at) this.#track(this.#deliver(this.#take(), undefined));
  }

  async flush(options: { readonly deadline?: number } = {}): Promise<void> {
    if (this.#queue.length === 0 && this.#inflight.size === 0) return;
    this.#track(this.#deliver(this.#take(), options.deadline));
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  #take(): AuditEvent[] {
    const q = this.#queue;
    this.#queue = [];
    return q;
  }

  #track(p: Promise<void>): void {
    const guarded = p.catch((err) => this.#o.log.error("audit flush failed", { err }));
    this.#inflight.add(guarded);
    void guarded.finally(() => this.#inflight.delete(guarded));
  }

  async #deliver(events: AuditEvent[], deadline: number | undefined): Promise<void> {
    if (events.length === 0) return;
    const { batches, oversized } = batchesOf(events, this.#o.eventBusName);
    if (oversized.length > 0) await this.#spill(oversized, "entry exceeds 256 KB");
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        await this.#sendBatch(b.events, b.entries, deadline);
      }
    };
    const n = Math.min(this.#o.concurrency ?? 8, batches.length);
    await Promise.all(Array.from({ length: n }, worker));
  }

  #backoff(attempt: number): number {
    const base = this.#o.baseDelayMs ?? 50;
    const cap = Math.min(this.#o.maxDelayMs ?? 1000, base * 2 ** (attempt - 1));
    return Math.random() * cap;
  }

  async #sendBatch(
    events: AuditEvent[],
    entries: PutEventsRequestEntry[],
    deadline: number | undefined,
  ): Promise<void> {
    const m = this.#o.metrics;
    let pending = events;
    let pendingEntries = entries;
    let lastError = "unknown";
    for (let attempt = 1; attempt <= this.#maxAttempts && pending.length > 0; attempt++) {
      if (attempt > 1) {
        const delay = this.#backoff(attempt - 1);
        if (deadline !== undefined && this.#o.clock.now() + delay > deadline) {
          lastError = "deadline";
          break;
        }
        m.add("AuditRetries", pending.length);
        await this.#sleep(delay);
      }
      let results: { ErrorCode?: string | undefined }[];
      try {
        // With a deadline (a Lambda invocation) a hung request fails in time to be spilled before
        // the audit extension's cutoff; without one (long-running processes, bursts) it may queue.
        const out = await this.#o.client.send(
          new PutEventsCommand({ Entries: pendingEntries }),
          deadline === undefined
            ? {}
            : {
                // Up to the request timeout, and never past 150 ms after the deadline.
                requestTimeout: Math.min(
                  this.#o.requestTimeoutMs ?? EVENTBRIDGE_REQUEST_TIMEOUT_MS,
                  Math.max(50, deadline - Date.now() + 150),
                ),
              },
        );
        results = out.Entries ?? [];
      } catch (err) {
        lastError = (err as { name?: string }).name ?? "error";
        m.add("AuditEntriesFailed", pending.length);
        this.#o.log.warn("audit PutEvents failed", { err, entries: pending.length, attempt });
        continue;
      }
      const failed: AuditEvent[] = [];
      const failedEntries: PutEventsRequestEntry[] = [];
      const now = this.#o.clock.now();
      pending.forEach((e, i) => {
        const r = results[i];
        // A missing result is a failure too: never assume delivery.
        if (!r || r.ErrorCode) {
          lastError = r?.ErrorCode ?? "missing result";
          failed.push(e);
          failedEntries.push(pendingEntries[i]!);
        } else {
          m.add("AuditEventsDelivered");
          m.lag(now - Date.parse(e.time));
        }
      });
      if (failed.length > 0) m.add("AuditEntriesFailed", failed.length);
      pending = failed;
      pendingEntries = failedEntries;
    }
    if (pending.length > 0) await this.#spill(pending, lastError);
  }

  #spill(events: AuditEvent[], reason: string): Promise<void> {
    return spillEvents(this.#o, events, reason);
  }
}

/**
 * Sends undeliverable events to the dead-letter destination, counted (`AuditEventsSpilled`). What
 * it refuses too is counted (`AuditSpillFailures`, alarmed) and written to the log at error level,
 * in full (the last copy of the event), never silently dropped. Never rejects.
 */
export async function spillEvents(
  o: { readonly deadLetters: DeadLetterSink; readonly metrics: AuditMetrics; readonly log: Logger },
  events: readonly AuditEvent[],
  reason: string,
): Promise<void> {
  let refused: readonly AuditEvent[];
  try {
    refused = await o.deadLetters.send(events, reason);
  } catch (err) {
    o.log.error("audit spill failed", { err });
    refused = events;
  }
  o.metrics.add("AuditEventsSpilled", events.length - refused.length);
  if (refused.length > 0) {
    o.metrics.add("AuditSpillFailures", refused.length);
    for (const event of refused) o.log.error("audit event not delivered", { reason, event });
  }
}

/**
 * Longest time one `PutEvents` request of a flush with a deadline (a Lambda invocation) may take,
 * connection included, before it fails as `TimeoutError` (then the bus retries it, or spills its
 * events past the deadline). A request also never runs past 150 ms after the bus deadline
 * (`deadlineMs` − 300 ms), well before the audit extension's cutoff (`deadlineMs` − 50 ms): a call
 * hanging at the deadline has failed, and its events are spilled, before the environment may be
 * frozen. In-region `PutEvents` normally answers in 5–30 ms (a cold TLS connection: ~100 ms).
 * Flushes without a deadline (long-running processes, where bursts queue requests for longer) have
 * no request timeout.
 */
export const EVENTBRIDGE_REQUEST_TIMEOUT_MS = 1000;

/**
 * An EventBridge client for the bus (`endpoint`: tests' stand-in). Retries are the bus's own: one
 * SDK attempt per `send` (an SDK retry of a timed-out request would double the time it holds the
 * flush; the bus retries with backoff, never past the deadline).
 */
export function createEventBridgeClient(
  options: { region?: string; endpoint?: string } = {},
): EventBridgeClient {
  return new EventBridgeClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          region: options.region ?? "us-east-1",
          credentials: { accessKeyId: "local", secretAccessKey: "local" },
        }
      : {}),
    maxAttempts: 1,
    // Per-request `requestTimeout`s (flushes with a deadline) throw instead of only warning.
    requestHandler: { throwOnRequestTimeout: true },
  });
}
