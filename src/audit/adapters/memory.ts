/**
 * In-memory audit store (`npm start`, tests): events per tenant sorted by time and id (appended,
 * read backwards for newest first), idempotent by id (a redelivered event finds its own key), with the same retention and filter semantics as the DynamoDB adapter. A long-running local
 * platform keeps at most `maxEventsPerTenant` events per tenant (oldest dropped first), so memory
 * stays bounded under load.
 */
import type { Clock } from "../../shared/clock.ts";
import { validationError } from "../../shared/errors.ts";
import { type AuditEvent, inSchemaOrder } from "../events.ts";
import type { AuditFilter, AuditPage, AuditStore } from "../ports.ts";
import { eventSortKey, expiresAt, lowerBound, matches } from "../query-filter.ts";

/** Whether `a` sorts before `b` within a tenant: by time, then id (the order of `eventSortKey`). */
const before = (a: AuditEvent, b: AuditEvent): boolean =>
  a.time < b.time || (a.time === b.time && a.id < b.id);

/** How many of a tenant's events (in key order) have a sort key below `key`. */
const keysBelow = (list: readonly AuditEvent[], key: string): number =>
  lowerBound(list.length, (i) => eventSortKey(list[i]!) < key);

/**
 * The continuation token of a page ending with `e` (`m:<sort key>`: the next page holds the keys
 * below it); the worker store's pages use it too.
 */
export const cursorAfter = (e: Pick<AuditEvent, "time" | "id">): string => `m:${eventSortKey(e)}`;

/** The sort key a continuation token continues below; a token not made here is a 400. */
export function keyOfCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const m = /^m:(.+)$/.exec(cursor);
  if (!m) throw validationError("Invalid continuation token.");
  return m[1];
}

export class MemoryAuditStore implements AuditStore {
  /**
   * Events per tenant in sort-key order. The events themselves, nothing per event beside them: the
   * local platform appends one per check, and every extra object kept is one more for the GC to
   * copy (keys and expiry are derived at query time, which is rare).
   */
  readonly #tenants = new Map<string, AuditEvent[]>();
  readonly #retentionDays: number;
  readonly #clock: Clock;
  readonly #max: number;

  /** @param options.maxEventsPerTenant @default 100000 */
  constructor(options: { retentionDays: number; clock: Clock; maxEventsPerTenant?: number }) {
    this.#retentionDays = options.retentionDays;
    this.#clock = options.clock;
    this.#max = options.maxEventsPerTenant ?? 100_000;
  }

  /** Drops the oldest events of a list over the cap; trims in batches so appends stay O(1) amortised. */
  #trim(list: AuditEvent[]): void {
    if (list.length <= this.#max + Math.ceil(this.#max / 10)) return;
    list.splice(0, list.length - this.#max);
  }

  async put(events: readonly AuditEvent[]): Promise<{ written: number; duplicates: number }> {
    return this.putSync(events);
  }

  /** `put`, synchronously: what the in-process bus calls at every flush. */
  putSync(events: readonly AuditEvent[]): { written: number; duplicates: number } {
    let written = 0;
    let duplicates = 0;
    for (const event of events) {
      let list = this.#tenants.get(event.tenant);
      if (list === undefined) {
        list = [];
        this.#tenants.set(event.tenant, list);
      }
      // Idempotent by id: an event's key (time, id) is unique, so a redelivery lands on its own
      // key. Events arrive almost in order: the place is nearly always the end (one comparison).
      let i = list.length;
      if (i > 0 && !before(list[i - 1]!, event)) {
        i = lowerBound(i, (k) => before(list[k]!, event));
        const at = list[i];
        if (at !== undefined && at.time === event.time && at.id === event.id) {
          duplicates++;
          continue;
        }
      }
      if (i === list.length) list.push(event);
      else list.splice(i, 0, event);
      this.#trim(list);
      written++;
    }
    return { written, duplicates };
  }

  /** Drops a tenant's events with a sort key below `key` (the worker store's bound across sources). */
  dropBefore(tenant: string, key: string): void {
    const list = this.#tenants.get(tenant);
    const n = list === undefined ? 0 : keysBelow(list, key);
    if (n > 0) list!.splice(0, n);
  }

  async query(
    tenant: string,
    filter: AuditFilter,
    page: { limit: number; cursor?: string },
  ): Promise<AuditPage> {
    const list = this.#tenants.get(tenant) ?? [];
    const nowS = Math.floor(this.#clock.now() / 1000);
    const after = keyOfCursor(page.cursor);
    const items: AuditEvent[] = [];
    // Start below the cursor: the last key < after.
    const start = after === undefined ? list.length - 1 : keysBelow(list, after) - 1;
    for (let i = start; i >= 0; i--) {
      const e = list[i]!;
      if (expiresAt(e, this.#retentionDays) <= nowS || !matches(e, filter)) continue;
      if (items.length === page.limit) return { items, cursor: cursorAfter(items.at(-1)!) };
      items.push(inSchemaOrder(e));
    }
    return { items };
  }
}
