/**
 * The in-process event bus of the local platform: queued events go straight into the audit store
 * (what the EventBridge rule and the audit writer do in AWS). Same contract as the EventBridge bus:
 * `publish` only enqueues, `flush` never rejects.
 */
import type { Logger } from "../../shared/logger.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditMetrics } from "../metrics.ts";
import type { AuditStore, EventBus } from "../ports.ts";

const DONE: Promise<void> = Promise.resolve();

export class InProcessEventBus implements EventBus {
  #queue: AuditEvent[] = [];
  readonly #store: AuditStore;
  readonly #metrics: AuditMetrics;
  readonly #log: Logger;
  #inflight: Promise<void> = DONE;

  constructor(deps: { store: AuditStore; metrics: AuditMetrics; log: Logger }) {
    this.#store = deps.store;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
  }

  get pending(): number {
    return this.#queue.length;
  }

  publish(event: AuditEvent): void {
    this.#queue.push(event);
  }

  flushSync(): boolean {
    // A store that takes a batch synchronously (the memory store; the worker store's ring): no
    // promise chain per request. Only when no asynchronous put is in flight, so events are stored
    // in the order they were flushed.
    const store = this.#store;
    if (this.#inflight !== DONE || !(store.enqueue || store.putSync)) return false;
    if (this.#queue.length === 0) return true;
    const batch = this.#queue;
    this.#queue = [];
    try {
      if (store.enqueue) store.enqueue(batch);
      else store.putSync!(batch);
      this.#metrics.add("AuditEventsDelivered", batch.length);
    } catch (err) {
      this.#failed(batch, err);
    }
    return true;
  }

  flush(): Promise<void> {
    if (this.flushSync()) return DONE;
    if (this.#queue.length === 0) return this.#inflight;
    const batch = this.#queue;
    this.#queue = [];
    // Serialised, so a flush returns only once everything queued before it is stored.
    this.#inflight = this.#inflight.then(async () => {
      try {
        await this.#store.put(batch);
        this.#metrics.add("AuditEventsDelivered", batch.length);
      } catch (err) {
        this.#failed(batch, err);
      }
    });
    const mine = this.#inflight;
    void mine.then(() => {
      if (this.#inflight === mine) this.#inflight = DONE;
    });
    return mine;
  }

  #failed(batch: readonly AuditEvent[], err: unknown): void {
    this.#metrics.add("AuditSpillFailures", batch.length);
    for (const event of batch) this.#log.error("audit event not stored", { err, event });
  }
}
