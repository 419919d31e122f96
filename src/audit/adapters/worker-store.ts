/**
 * The local platform's audit store, kept off the request thread: a worker thread
 * (worker-store-thread.ts) fed through a ring in shared memory (event-ring.ts). The request thread
 * pays for writing an event into the ring (~1 µs), not for storing it: storing is what the audit
 * writer Lambda does in AWS, away from the functions that decide. The worker keeps the ring's
 * records as they are, in blocks a query decodes (record-log.ts: ~0.5 µs per event in all, where
 * keeping them as objects cost ~2 µs, most of it the collector copying them). Events that do not
 * fit the ring (full, a field too long for it, or earlier in sort-key order than the last one
 * written) go by message instead, into a memory audit store in the worker; queries merge the two.
 * Nothing is dropped.
 *
 * `enqueue` is what the in-process bus calls. The worker takes the ring's records every few
 * milliseconds and before it handles any message, so a `query` sent after `enqueue` sees those
 * events. There is no backpressure: the worker takes an event in well under a microsecond where a
 * request takes 10 µs or more, so it keeps up unless starved of CPU for long, when the ring fills
 * and messages queue. Should the worker fail, the store carries on in this thread, empty: what the
 * worker held is gone (logged).
 */
import { Worker } from "node:worker_threads";
import { type Clock, isoTime } from "../../shared/clock.ts";
import { DomainError, type DomainErrorCode } from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditFilter, AuditPage, AuditStore } from "../ports.ts";
import { createEventRing, EventRingWriter } from "./event-ring.ts";
import { MemoryAuditStore } from "./memory.ts";

/** A message to the worker: one of `put`, `query`, or neither (a barrier: answered once drained). */
export interface StoreRequest {
  readonly seq: number;
  readonly put?: readonly AuditEvent[];
  readonly query?: {
    readonly tenant: string;
    readonly filter: AuditFilter;
    readonly page: { readonly limit: number; readonly cursor?: string };
    /** The store's clock at the query (epoch ms). */
    readonly now: number;
  };
}

export interface StoreResponse {
  readonly seq?: number;
  readonly put?: { written: number; duplicates: number };
  readonly page?: AuditPage;
  readonly error?: { code: DomainErrorCode | "internal"; message: string };
  /** The ring could not be drained (a bug): what the worker said. */
  readonly failure?: string;
}

type Pending = { resolve: (r: StoreResponse) => void; reject: (e: Error) => void };

/** Starts the worker (worker-store-boot.mjs registers tsx, then loads worker-store-thread.ts). */
const startWorker = (workerData: unknown): Worker =>
  new Worker(new URL("./worker-store-boot.mjs", import.meta.url), { workerData });

export class WorkerAuditStore implements AuditStore {
  readonly #writer: EventRingWriter;
  readonly #worker: Worker;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  /** The store of this thread, once the worker has failed. */
  #fallback: MemoryAuditStore | undefined;
  readonly #options: { retentionDays: number; clock: Clock; maxEventsPerTenant?: number };
  #closed = false;
  /** Sort key (time, id) of the last event written into the ring. */
  #lastTime = "";
  #lastId = "";
  #byMessage = 0;
  /** Latest time the ring takes (a minute past the clock, as of the last event beyond it). */
  #horizon = "";

  /**
   * @param options.ringUnits size of the ring in UTF-16 units (a few hundred bytes per event);
   *   @default 4 Mi (8 MiB)
   * @param options.drainMs how often the worker drains the ring besides before each message
   *   @default 10
   */
  constructor(options: {
    retentionDays: number;
    clock: Clock;
    log: Logger;
    maxEventsPerTenant?: number;
    ringUnits?: number;
    drainMs?: number;
  }) {
    const { log, ringUnits, drainMs, ...storeOptions } = options;
    this.#options = storeOptions;
    this.#log = log;
    const ring = createEventRing(ringUnits);
    this.#writer = new EventRingWriter(ring);
    this.#worker = startWorker({
      ring,
      retentionDays: options.retentionDays,
      ...(options.maxEventsPerTenant !== undefined ? { maxEventsPerTenant: options.maxEventsPerTenant } : {}),
      ...(drainMs !== undefined ? { drainMs } : {}),
    });
    this.#worker.unref();
    this.#worker.on("message", (m: StoreResponse) => this.#answer(m));
    this.#worker.on("error", (err) => this.#failed(err));
    this.#worker.on("exit", (code) => {
      if (!this.#closed) this.#failed(new Error(`audit store worker exited (${code})`));
    });
  }

  /** Hands events to the worker (the ring, else a message); synchronous, never throws. */
  enqueue(events: readonly AuditEvent[]): void {
    if (this.#closed) {
      this.#lost(events, new Error("audit store closed"));
      return;
    }
    if (this.#fallback) {
      this.#fallback.putSync(events);
      return;
    }
    const rest: AuditEvent[] = [];
    for (const e of events) {
      // The ring carries events in sort-key order only (the worker keeps them as they come):
      // one with an earlier time or id than the last goes by message.
      // An event dated more than a minute ahead of the clock would hold back every later one:
      // it goes by message too.
      const { time, id } = e;
      if (time > this.#horizon) this.#horizon = isoTime(this.#options.clock.now() + 60_000);
      if (
        time <= this.#horizon &&
        (time > this.#lastTime || (time === this.#lastTime && id > this.#lastId))
      ) {
        if (this.#writer.write(e)) {
          this.#lastTime = time;
          this.#lastId = id;
          continue;
        }
      }
      rest.push(e);
    }
    if (rest.length === 0) return;
    this.#byMessage += rest.length;
    void this.#request({ put: rest }).catch((err) => this.#lost(rest, err));
  }

  /** Events `enqueue` sent by message (the ring full, a field too long, out of key order). */
  get sentByMessage(): number {
    return this.#byMessage;
  }

  async put(events: readonly AuditEvent[]): Promise<{ written: number; duplicates: number }> {
    if (this.#fallback) return this.#fallback.putSync(events);
    return (await this.#request({ put: events })).put!;
  }

  async query(
    tenant: string,
    filter: AuditFilter,
    page: { readonly limit: number; readonly cursor?: string },
  ): Promise<AuditPage> {
    if (this.#fallback) return this.#fallback.query(tenant, filter, page);
    // Retention is judged by this store's clock, not the worker's.
    return (await this.#request({ query: { tenant, filter, page, now: this.#options.clock.now() } })).page!;
  }

  /** Resolves once everything enqueued before it is stored. */
  async settled(): Promise<void> {
    if (!this.#fallback) await this.#request({});
  }

  /** Stops the worker (what it held is gone, as with any memory store); pending requests fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectPending(new Error("audit store closed"));
    await this.#worker.terminate();
  }

  #request(r: Omit<StoreRequest, "seq">): Promise<StoreResponse> {
    if (this.#closed) return Promise.reject(new Error("audit store closed"));
    const seq = ++this.#seq;
    return new Promise<StoreResponse>((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      // Referenced while an answer is awaited: a process whose only work left is this waits for it.
      if (this.#pending.size === 1) this.#worker.ref();
      try {
        this.#worker.postMessage({ ...r, seq } satisfies StoreRequest);
      } catch (err) {
        this.#settle(seq);
        reject(err);
      }
    }).then((m) => {
      if (m.error)
        throw m.error.code === "internal"
          ? new Error(m.error.message)
          : new DomainError(m.error.code, m.error.message);
      return m;
    });
  }

  #answer(m: StoreResponse): void {
    if (m.failure !== undefined) {
      this.#log.error("audit store worker could not store events", { reason: m.failure });
      return;
    }
    if (m.seq === undefined) return;
    this.#settle(m.seq)?.resolve(m);
  }

  /** Takes a pending request off the list (the worker is unreferenced again when none is left). */
  #settle(seq: number): Pending | undefined {
    const p = this.#pending.get(seq);
    this.#pending.delete(seq);
    if (this.#pending.size === 0) this.#worker.unref();
    return p;
  }

  #rejectPending(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#worker.unref();
    for (const p of pending) p.reject(err);
  }

  #failed(err: unknown): void {
    if (this.#fallback) return;
    this.#log.error(
      "audit store worker failed; its events are gone, storing in the request thread from now on",
      {
        err,
        eventsLostInRing: !this.#writer.empty(),
      },
    );
    this.#fallback = new MemoryAuditStore(this.#options);
    this.#rejectPending(new Error("audit store worker failed"));
  }

  #lost(events: readonly AuditEvent[], err: unknown): void {
    if (this.#fallback) {
      this.#fallback.putSync(events);
      return;
    }
    for (const event of events) this.#log.error("audit event not stored", { err, event });
  }
}
