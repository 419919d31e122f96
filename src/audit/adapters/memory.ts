/**
 * In-memory audit store (`npm start`, tests): events per tenant sorted by time and id (appended,
 * read backwards for newest first), idempotent by id (a redelivered event finds its own key), with the same retention and filter semantics as the DynamoDB adapter. A long-running local
 * platform keeps at most `maxEventsPerTenant` events per tenant (oldest dropped first), so memory
 * stays bounded under load.
 */
import type { Clock } from "../../shared/clock.ts";
import { validationError } from "../../shared/errors.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditFilter, AuditPage, AuditStore } from "../ports.ts";
import { eventSortKey, expiresAt, matches } from "../query-filter.ts";

interface Stored {
  readonly key: string;
  readonly event: AuditEvent;
  readonly expiresAt: number;
}

export class MemoryAuditStore implements AuditStore {
  readonly #tenants = new Map<string, Stored[]>();
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
  #trim(list: Stored[]): void {
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
      const key = eventSortKey(event);
      let i = list.length;
      if (i > 0 && list[i - 1]!.key >= key) {
        let lo = 0;
        let hi = i;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (list[mid]!.key < key) lo = mid + 1;
          else hi = mid;
        }
        i = lo;
        if (i < list.length && list[i]!.key === key) {
          duplicates++;
          continue;
        }
      }
      const s: Stored = { key, event, expiresAt: expiresAt(event, this.#retentionDays) };
      if (i === list.length) list.push(s);
      else list.splice(i, 0, s);
      this.#trim(list);
      written++;
    }
    return { written, duplicates };
  }

  async query(
    tenant: string,
    filter: AuditFilter,
    page: { limit: number; cursor?: string },
  ): Promise<AuditPage> {
    const list = this.#tenants.get(tenant) ?? [];
    const nowS = Math.floor(this.#clock.now() / 1000);
    let after: string | undefined;
    if (page.cursor !== undefined) {
      const m = /^m:(.+)$/.exec(page.cursor);
      if (!m) throw validationError("Invalid continuation token.");
      after = m[1];
    }
    const items: AuditEvent[] = [];
    let last: string | undefined;
    // Start below the cursor: binary search for the last key < after.
    let start = list.length - 1;
    if (after !== undefined) {
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.key < after) lo = mid + 1;
        else hi = mid;
      }
      start = lo - 1;
    }
    for (let i = start; i >= 0; i--) {
      const s = list[i]!;
      if (s.expiresAt <= nowS || !matches(s.event, filter)) continue;
      if (items.length === page.limit) return { items, cursor: `m:${last}` };
      items.push(s.event);
      last = s.key;
    }
    return { items };
  }
}
