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
 * trimming, as the memory store): older ones are hidden behind a per-tenant floor, and a block is
 * released once none of its events is visible (or all have expired).
 */
import type { AuditEvent } from "../events.ts";
import type { AuditFilter } from "../ports.ts";
import { expiresAt, matches } from "../query-filter.ts";
import { forEachRecord, type RecordBlock } from "./event-ring.ts";

interface Stored {
  readonly block: RecordBlock;
  /** Sequence number of its first record (of every record ever appended). */
  readonly base: number;
}

interface TenantRecords {
  /** Records visible (sequence number at or past `floor`). */
  count: number;
  /** Sequence number of the tenant's oldest visible record. */
  floor: number;
}

export class RecordLog {
  /** In sort-key order (released blocks removed, wherever they are). */
  #blocks: Stored[] = [];
  #next = 0;
  readonly #tenants = new Map<string, TenantRecords>();
  readonly #max: number;
  readonly #retentionDays: number;

  /** @param options.maxEventsPerTenant @default 100000 */
  constructor(options: { retentionDays: number; maxEventsPerTenant?: number }) {
    this.#retentionDays = options.retentionDays;
    this.#max = options.maxEventsPerTenant ?? 100_000;
  }

  /** Records held (visible or not), and in how many blocks. */
  get size(): { records: number; blocks: number } {
    let records = 0;
    for (const b of this.#blocks) records += b.block.count;
    return { records, blocks: this.#blocks.length };
  }

  append(block: RecordBlock): void {
    const base = this.#next;
    this.#next += block.count;
    this.#blocks.push({ block, base });
    const counts = new Array<number>(block.tenantNames.length).fill(0);
    for (let i = 0; i < block.count; i++) counts[block.tenants[i]!]!++;
    let trimmed = false;
    for (let t = 0; t < counts.length; t++) {
      const name = block.tenantNames[t]!;
      let rec = this.#tenants.get(name);
      if (rec === undefined) {
        rec = { count: 0, floor: base };
        this.#tenants.set(name, rec);
      }
      rec.count += counts[t]!;
      if (rec.count > this.#max + Math.ceil(this.#max / 10)) {
        this.#trim(name, rec);
        trimmed = true;
      }
    }
    if (trimmed) this.#release(Number.NEGATIVE_INFINITY);
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
  }

  /**
   * Releases the blocks none of whose records is visible: every tenant's floor is past the block,
   * or the block expired by `nowS` (epoch s; its last record is its newest).
   */
  #release(nowS: number): void {
    const keep: Stored[] = [];
    for (const stored of this.#blocks) {
      const { block, base } = stored;
      const end = base + block.count;
      if (expiresAt({ time: block.lastTime }, this.#retentionDays) <= nowS) {
        for (let k = 0; k < block.count; k++) {
          const rec = this.#tenants.get(block.tenantNames[block.tenants[k]!]!);
          if (rec !== undefined && base + k >= rec.floor) rec.count--;
        }
        continue;
      }
      if (block.tenantNames.some((n) => (this.#tenants.get(n)?.floor ?? end) < end)) keep.push(stored);
    }
    this.#blocks = keep;
  }

  /**
   * A tenant's events with a sort key below `before` (all when undefined), newest first, filtered,
   * not expired at `nowMs`: at most `limit`, and whether more exist.
   */
  query(
    tenant: string,
    filter: AuditFilter,
    limit: number,
    before: string | undefined,
    nowMs: number,
  ): { items: AuditEvent[]; more: boolean } {
    const nowS = Math.floor(nowMs / 1000);
    const oldest = this.#blocks[0];
    if (oldest && expiresAt({ time: oldest.block.lastTime }, this.#retentionDays) <= nowS)
      this.#release(nowS);
    const rec = this.#tenants.get(tenant);
    const items: AuditEvent[] = [];
    if (rec === undefined || rec.count === 0) return { items, more: false };
    for (let i = this.#blocks.length - 1; i >= 0; i--) {
      const { block, base } = this.#blocks[i]!;
      if (base + block.count <= rec.floor) break;
      const t = block.tenantNames.indexOf(tenant);
      if (t < 0 || (before !== undefined && block.firstKey >= before)) continue;
      const found: AuditEvent[] = [];
      forEachRecord(block, (s, k) => {
        if (block.tenants[k] !== t || base + k < rec.floor) return;
        const p = s.strings;
        const time = p[1]!;
        if (before !== undefined && `${time}#${p[0]}` >= before) return;
        if (expiresAt({ time }, this.#retentionDays) <= nowS) return;
        const fields = {
          type: p[3] as AuditEvent["type"],
          actor: p[4]!,
          resource: p[6]!,
          decision: p[8] as AuditEvent["decision"],
          time,
        };
        if (matches(fields, filter)) found.push(s.event());
      });
      for (let k = found.length - 1; k >= 0; k--) {
        if (items.length === limit) return { items, more: true };
        items.push(found[k]!);
      }
    }
    return { items, more: false };
  }
}
