/**
 * The audit store's worker thread (worker-store.ts): owns a memory audit store, drains the event
 * ring into it every 10 ms and before every message, and answers `put` and `query`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DomainError } from "../../shared/errors.ts";
import { type EventRing, EventRingReader } from "./event-ring.ts";
import { MemoryAuditStore } from "./memory.ts";
import type { StoreRequest, StoreResponse } from "./worker-store.ts";

const data = workerData as {
  ring: EventRing;
  retentionDays: number;
  maxEventsPerTenant?: number;
  drainMs?: number;
};
/** Retention is judged by the main store's clock: each query carries its time. */
let now = Date.now();
const clock = { now: () => now };
const store = new MemoryAuditStore({
  retentionDays: data.retentionDays,
  clock,
  ...(data.maxEventsPerTenant !== undefined ? { maxEventsPerTenant: data.maxEventsPerTenant } : {}),
});
const reader = new EventRingReader(data.ring);
const port = parentPort!;

/** Stores what the ring holds. */
function drain(): void {
  try {
    const events = reader.drain();
    if (events.length > 0) store.putSync(events);
  } catch (err) {
    port.postMessage({ failure: err instanceof Error ? err.message : String(err) } satisfies StoreResponse);
  }
}

// Unref'd: the message port keeps the thread alive, the timer does not.
setInterval(drain, data.drainMs ?? 10).unref();

port.on("message", async (m: StoreRequest) => {
  drain();
  try {
    if (m.put) {
      port.postMessage({ seq: m.seq, put: store.putSync(m.put) } satisfies StoreResponse);
    } else if (m.query) {
      now = m.query.now;
      const page = await store.query(m.query.tenant, m.query.filter, m.query.page);
      port.postMessage({ seq: m.seq, page } satisfies StoreResponse);
    } else port.postMessage({ seq: m.seq } satisfies StoreResponse);
  } catch (err) {
    const e: NonNullable<StoreResponse["error"]> =
      err instanceof DomainError
        ? { code: err.code, message: err.detail }
        : { code: "internal", message: err instanceof Error ? err.message : String(err) };
    port.postMessage({ seq: m.seq, error: e } satisfies StoreResponse);
  }
});
