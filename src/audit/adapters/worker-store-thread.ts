/**
 * The audit store's worker thread (worker-store.ts): takes the ring's records every 10 ms and before
 * every message into a record log (kept encoded, decoded by queries: record-log.ts), keeps events
 * sent by message in a memory audit store, and answers `put` and `query` from both.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DomainError } from "../../shared/errors.ts";
import type { AuditEvent } from "../events.ts";
import { eventSortKey } from "../query-filter.ts";
import { type EventRing, EventRingReader, MAX_BLOCK_RECORDS } from "./event-ring.ts";
import { cursorAfter, keyOfCursor, MemoryAuditStore } from "./memory.ts";
import { RecordLog } from "./record-log.ts";
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
const bounds = {
  retentionDays: data.retentionDays,
  ...(data.maxEventsPerTenant !== undefined ? { maxEventsPerTenant: data.maxEventsPerTenant } : {}),
};
/** Events that came by message (the ring was full, or out of key order). */
const store = new MemoryAuditStore({ ...bounds, clock });
/** Events that came through the ring; the few left visible in a mostly hidden block move over. */
const log = new RecordLog({
  ...bounds,
  evict: (events) => store.putSync(events),
  trimmed: (tenant, oldestKey) => store.dropBefore(tenant, oldestKey),
});
const reader = new EventRingReader(data.ring);
const port = parentPort!;

/** Takes what the ring holds. */
function drain(): void {
  try {
    // Again only after a full block: what the request thread wrote meanwhile waits for the next
    // drain (a block of a few records would be joined to this one, copying it).
    let block = reader.take();
    while (block) {
      log.append(block, now);
      block = block.count === MAX_BLOCK_RECORDS ? reader.take() : undefined;
    }
  } catch (err) {
    port.postMessage({ failure: err instanceof Error ? err.message : String(err) } satisfies StoreResponse);
  }
}

/** A page of both sources, merged newest first (the memory store's cursor format: `m:<key>`). */
async function query(q: NonNullable<StoreRequest["query"]>) {
  const before = keyOfCursor(q.page.cursor);
  const { limit } = q.page;
  now = q.now;
  const kept = await store.query(q.tenant, q.filter, q.page);
  const ringed = log.query(q.tenant, q.filter, limit, before, now);
  const a = kept.items;
  const b = ringed.items;
  const items: AuditEvent[] = [];
  let i = 0;
  let j = 0;
  while (items.length < limit && (i < a.length || j < b.length)) {
    const ka = i < a.length ? eventSortKey(a[i]!) : undefined;
    const kb = j < b.length ? eventSortKey(b[j]!) : undefined;
    if (kb === undefined || (ka !== undefined && ka > kb)) items.push(a[i++]!);
    else {
      items.push(b[j++]!);
      if (ka === kb) i++; // the same event in both (never by design): once
    }
  }
  const more = kept.cursor !== undefined || ringed.more || i < a.length || j < b.length;
  return more && items.length > 0 ? { items, cursor: cursorAfter(items.at(-1)!) } : { items };
}

// Unref'd: the message port keeps the thread alive, the timer does not.
setInterval(drain, data.drainMs ?? 10).unref();

port.on("message", async (m: StoreRequest) => {
  drain();
  try {
    if (m.put) {
      // Idempotent across both: an event already taken through the ring is a duplicate.
      const fresh = m.put.filter((e) => !log.has(e));
      const put = store.putSync(fresh);
      put.duplicates += m.put.length - fresh.length;
      // Older than what the bound left of the tenant in the log: dropped as the log dropped it.
      for (const tenant of new Set(fresh.map((e) => e.tenant))) {
        const cutoff = log.cutoff(tenant);
        if (cutoff !== undefined) store.dropBefore(tenant, cutoff);
      }
      port.postMessage({ seq: m.seq, put } satisfies StoreResponse);
    } else if (m.query) {
      port.postMessage({ seq: m.seq, page: await query(m.query) } satisfies StoreResponse);
    } else port.postMessage({ seq: m.seq } satisfies StoreResponse);
  } catch (err) {
    const e: NonNullable<StoreResponse["error"]> =
      err instanceof DomainError
        ? { code: err.code, message: err.detail }
        : { code: "internal", message: err instanceof Error ? err.message : String(err) };
    port.postMessage({ seq: m.seq, error: e } satisfies StoreResponse);
  }
});
