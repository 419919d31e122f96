/**
 * The events of the worker audit store (worker-store.ts) kept as the ring delivered them: blocks of
 * encoded records (event-ring.ts), decoded only when a query reads them. Storing an event is then
 * one copy of its units, where keeping it as objects cost the worker ~1.5 µs of young-generation
 * copying per event (every stored event survives, so every collection copies it, then promotes
 * it). A query decodes the blocks holding the tenant's events, newest first, until the page is full.
 *
 * The blocks are in sort-key order (`time#id`): the worker store sends only events in key order
 * through the ring (any other goes by message, to a `MemoryAuditStore`), so newest first is the
 * blocks backwards. Per tenant at most `maxEventsPerTenant` events are kept (10 % more before
 * trimming, as the memory store): older ones are hidden behind a per-tenant floor. A block is
 * released once none of its events is visible or all have expired. One mostly hidden (under a
 * quarter visible: other tenants' few events among a busy tenant's trimmed ones) is released too,
 * so hidden records never hold more than about three times the memory of visible ones: the
 * tenants trimmed inside it lose the rest of their oldest records there (their history stays
 * whole, a quarter block under the bound at worst), the others' events go to `evict` (the
 * worker's memory store). Small consecutive blocks are joined (a quiet platform takes one event
 * per 10 ms).
 */
import type { AuditEvent } from "../events.ts";
import type { AuditFilter } from "../ports.ts";
import { eventSortKey, expiresAt, lowerBound, matches } from "../query-filter.ts";
import { concatUnits, forEachRecord, type RecordBlock } from "./event-ring.ts";

interface Stored {
  readonly block: RecordBlock;
  /** Sequence number of its first record (of every record ever appended). */
  readonly base: number;
}

interface TenantRecords {
  /** Records visible (sequence number at or past `floor`). */
  count: number;
  /** Records before this sequence number are hidden (0 until the tenant is first trimmed). */
  floor: number;
  /** Sort key of the oldest visible record as of the last trim. */
  cutoff?: string;
}

/**
 * A block of fewer than JOIN_SMALL records (a quiet platform's: one event per 10 ms) is joined to
 * the one before it while that has fewer than JOIN_BELOW: small blocks cost more memory per event
 * than objects did. Under load blocks are large and never copied again.
 */
const JOIN_SMALL = 64;
const JOIN_BELOW = 1024;

export class RecordLog {
  /** In sort-key order (released blocks removed, wherever they are). */
  #blocks: Stored[] = [];
  #next = 0;
  readonly #tenants = new Map<string, TenantRecords>();
  readonly #max: number;
  readonly #retentionDays: number;
  readonly #evict: (events: AuditEvent[]) => void;
  readonly #trimmed: ((tenant: string, oldestKey: string) => void) | undefined;
  /** The block appended last, while it is the last one held (the next block continues it). */
  #last: Stored | undefined;

  /**
   * @param options.maxEventsPerTenant @default 100000
   * @param options.evict takes the visible events of a mostly hidden block before it is released
   * @param options.trimmed told the sort key of a tenant's oldest visible event after each trim
   *   (the worker drops what its memory store holds of the tenant before it: no gap in the history)
   */
  constructor(options: {
    retentionDays: number;
    maxEventsPerTenant?: number;
    evict: (events: AuditEvent[]) => void;
    trimmed?: (tenant: string, oldestKey: string) => void;
  }) {
    this.#retentionDays = options.retentionDays;
    this.#max = options.maxEventsPerTenant ?? 100_000;
    this.#evict = options.evict;
    this.#trimmed = options.trimmed;
  }

  /** Records held (visible or not), and in how many blocks. */
  get size(): { records: number; blocks: number } {
    let records = 0;
    for (const b of this.#blocks) records += b.block.count;
    return { records, blocks: this.#blocks.length };
  }

  /**
   * Appends the block taken after the last one appended (`take` order: each starts where the one
   * before ended). `nowMs` releases what has expired.
   */
  append(block: RecordBlock, nowMs: number): void {
    const last = this.#last;
    let stored: Stored;
    if (
      last !== undefined &&
      this.#blocks.at(-1) === last &&
      block.count < JOIN_SMALL &&
      last.block.count < JOIN_BELOW
    ) {
      stored = { block: joinBlocks(last.block, block), base: last.base };
      this.#blocks[this.#blocks.length - 1] = stored;
    } else {
      stored = { block, base: this.#next };
      this.#blocks.push(stored);
    }
    this.#last = stored;
    this.#next += block.count;
    const counts = new Array<number>(block.tenantNames.length).fill(0);
    for (let i = 0; i < block.count; i++) counts[block.tenants[i]!]!++;
    let trimmed = false;
    for (let t = 0; t < counts.length; t++) {
      const name = block.tenantNames[t]!;
      let rec = this.#tenants.get(name);
      if (rec === undefined) {
        rec = { count: 0, floor: 0 };
        this.#tenants.set(name, rec);
      }
      rec.count += counts[t]!;
      if (rec.count > this.#max + Math.ceil(this.#max / 10)) {
        this.#trim(name, rec);
        trimmed = true;
      }
    }
    const nowS = Math.floor(nowMs / 1000);
    if (trimmed || this.#expired(nowS)) this.#release(nowS);
  }

  /** Whether the oldest block has expired by `nowS`. */
  #expired(nowS: number): boolean {
    const oldest = this.#blocks[0];
    return oldest !== undefined && expiresAt({ time: oldest.block.lastTime }, this.#retentionDays) <= nowS;
  }

  /** Hides a tenant's oldest records down to `maxEventsPerTenant`. */
  #trim(name: string, rec: TenantRecords): void {
    let excess = rec.count - this.#max;
    for (const { block, base } of this.#blocks) {
      if (excess === 0) break;
      if (base + block.count <= rec.floor) continue;
      const t = block.tenantNames.indexOf(name);
      if (t < 0) continue;
      for (let k = Math.max(0, rec.floor - base); k < block.count && excess > 0; k++) {
        if (block.tenants[k] !== t) continue;
        excess--;
        rec.floor = base + k + 1;
      }
    }
    rec.count = this.#max;
    const oldest = this.#oldestKey(name, rec);
    if (oldest === undefined) return;
    rec.cutoff = oldest;
    this.#trimmed?.(name, oldest);
  }

  /**
   * Sort key below which a tenant's events are no longer kept (its oldest visible one as of its last
   * trim), or undefined if it was never trimmed.
   */
  cutoff(tenant: string): string | undefined {
    return this.#tenants.get(tenant)?.cutoff;
  }

  /** Sort key of a tenant's oldest visible record. */
  #oldestKey(name: string, rec: TenantRecords): string | undefined {
    for (const { block, base } of this.#blocks) {
      if (base + block.count <= rec.floor) continue;
      const t = block.tenantNames.indexOf(name);
      if (t < 0) continue;
      let key: string | undefined;
      forEachRecord(block, (s, k) => {
        if (key === undefined && block.tenants[k] === t && base + k >= rec.floor)
          key = eventSortKey({ time: s.strings[1]!, id: s.strings[0]! });
      });
      if (key !== undefined) return key;
    }
    return undefined;
  }

  /** Per tenant of a block (by index), the sequence number from which its records are visible. */
  #floors(block: RecordBlock): number[] {
    return block.tenantNames.map((n) => this.#tenants.get(n)?.floor ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Releases the blocks whose records have all expired by `nowS` (epoch s; a block's last record is
   * its newest) or are all hidden; a block less than a quarter visible (not the newest: records are
   * still added to it) hands those to `evict` first.
   */
  #release(nowS: number): void {
    const keep: Stored[] = [];
    const newest = this.#blocks.at(-1);
    for (const stored of this.#blocks) {
      const { block, base } = stored;
      const floors = this.#floors(block);
      let visible = 0;
      for (let k = 0; k < block.count; k++) if (base + k >= floors[block.tenants[k]!]!) visible++;
      const expired = expiresAt({ time: block.lastTime }, this.#retentionDays) <= nowS;
      if (!expired && (stored === newest || visible * 4 >= block.count)) {
        keep.push(stored);
        continue;
      }
      if (visible === 0) continue;
      // A tenant trimmed inside this block (its floor is past the block's start) loses the rest of
      // its oldest records here, so its history stays whole; the others' move to `evict`.
      const moved: AuditEvent[] = [];
      forEachRecord(block, (s, k) => {
        const t = block.tenants[k]!;
        if (base + k < floors[t]!) return;
        this.#tenants.get(block.tenantNames[t]!)!.count--;
        if (!expired && floors[t]! <= base) moved.push(s.event());
      });
      if (moved.length > 0) this.#evict(moved);
    }
    this.#blocks = keep;
    if (this.#last !== undefined && this.#blocks.at(-1) !== this.#last) this.#last = undefined;
  }

  /** Whether an event with this event's sort key is held and visible (idempotent puts). */
  has(e: Pick<AuditEvent, "time" | "id" | "tenant">): boolean {
    const key = eventSortKey(e);
    const rec = this.#tenants.get(e.tenant);
    if (rec === undefined) return false;
    // The last block whose first key is at or below the key.
    const stored =
      this.#blocks[lowerBound(this.#blocks.length, (i) => this.#blocks[i]!.block.firstKey <= key) - 1];
    if (stored === undefined || stored.block.lastKey < key) return false;
    const t = stored.block.tenantNames.indexOf(e.tenant);
    let found = false;
    forEachRecord(stored.block, (s, k) => {
      if (stored.block.tenants[k] === t && stored.base + k >= rec.floor && s.strings[0] === e.id)
        found ||= s.strings[1] === e.time;
    });
    return found;
  }

  /**
   * A tenant's events with a sort key below `before` (all when undefined), newest first, filtered,
   * not expired at `nowMs`: at most `limit`, and whether more exist. Each block holding the tenant
   * is decoded twice: once to count its matches, once to build only the newest ones needed.
   */
  query(
    tenant: string,
    filter: AuditFilter,
    limit: number,
    before: string | undefined,
    nowMs: number,
  ): { items: AuditEvent[]; more: boolean } {
    const nowS = Math.floor(nowMs / 1000);
    if (this.#expired(nowS)) this.#release(nowS);
    const rec = this.#tenants.get(tenant);
    const items: AuditEvent[] = [];
    if (rec === undefined || rec.count === 0) return { items, more: false };
    for (let i = this.#blocks.length - 1; i >= 0; i--) {
      const stored = this.#blocks[i]!;
      const { block, base } = stored;
      if (base + block.count <= rec.floor) break;
      const t = block.tenantNames.indexOf(tenant);
      if (t < 0 || (before !== undefined && block.firstKey >= before)) continue;
      const hit = (s: { strings: readonly (string | undefined)[] }, k: number): boolean => {
        if (block.tenants[k] !== t || base + k < rec.floor) return false;
        const p = s.strings;
        const time = p[1]!;
        if (before !== undefined && eventSortKey({ time, id: p[0]! }) >= before) return false;
        if (expiresAt({ time }, this.#retentionDays) <= nowS) return false;
        const fields = {
          type: p[3] as AuditEvent["type"],
          actor: p[4]!,
          resource: p[6]!,
          decision: p[8] as AuditEvent["decision"],
          time,
        };
        return matches(fields, filter);
      };
      let hits = 0;
      forEachRecord(block, (s, k) => {
        if (hit(s, k)) hits++;
      });
      if (hits === 0) continue;
      // The newest `need` of them (one more than the page needs tells whether more exist).
      const need = limit + 1 - items.length;
      const found: AuditEvent[] = [];
      let seen = 0;
      forEachRecord(block, (s, k) => {
        if (hit(s, k) && ++seen > hits - need) found.push(s.event());
      });
      for (let k = found.length - 1; k >= 0; k--) {
        if (items.length === limit) return { items, more: true };
        items.push(found[k]!);
      }
    }
    return { items, more: false };
  }
}

/** One block of two taken one after the other (the second continues from where the first ended). */
function joinBlocks(a: RecordBlock, b: RecordBlock): RecordBlock {
  const tenantNames = [...a.tenantNames];
  const remap = b.tenantNames.map((n) => {
    const i = tenantNames.indexOf(n);
    return i >= 0 ? i : tenantNames.push(n) - 1;
  });
  const tenants = new Uint32Array(a.count + b.count);
  tenants.set(a.tenants);
  for (let k = 0; k < b.count; k++) tenants[a.count + k] = remap[b.tenants[k]!]!;
  return {
    units: concatUnits(a.units, b.units),
    count: a.count + b.count,
    start: a.start,
    tenants,
    tenantNames,
    firstKey: a.firstKey,
    lastKey: b.lastKey,
    lastTime: b.lastTime,
  };
}
