/**
 * What a container knows about a store's moving parts: its head changelog revision (the key of the
 * check cache) and its latest authorization model id. Both are ULIDs that only grow, so the known
 * value is kept as the maximum ever seen; this container's own writes advance it at once.
 *
 * Read policies:
 * - `current` (MINIMIZE_LATENCY): the known value while it is younger than `ttlMs`; up to
 *   `maxStaleMs` it is still served while one background read refreshes it; older, the caller waits
 *   for the read. A warm store therefore costs no store read on the request path.
 * - `fresh` (HIGHER_CONSISTENCY): always reads.
 * - `atLeast(min)` (consistency token): the known value if it is already `>= min`, else a read.
 *
 * Stores that can tell their head synchronously (the memory store) are exact and free: `readSync`
 * replaces all of the above.
 */
import type { Clock } from "../../shared/clock.ts";

export interface WatermarkOptions {
  /** Reads the value from the store (`""` when there is none). */
  readonly read: (storeId: string) => Promise<string>;
  /** Exact synchronous read, when the store has one. */
  readonly readSync?: ((storeId: string) => string) | undefined;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  /** Stores remembered at most (oldest forgotten first). @default 10000 */
  readonly maxStores?: number;
  /** A background refresh failed (the next request retries it). */
  readonly onBackgroundError?: (err: unknown) => void;
}

export interface WatermarkStats {
  /** Served from what the container knew. */
  hits: number;
  /** Needed a store read on the request path. */
  reads: number;
  /** Served while a background read refreshed it. */
  staleServed: number;
}

interface Known {
  value: string;
  /** When it was last confirmed by a read (clock ms). */
  at: number;
}

export class Watermark {
  readonly #o: WatermarkOptions;
  readonly #known = new Map<string, Known>();
  readonly #inflight = new Map<string, Promise<string>>();
  readonly stats: WatermarkStats = { hits: 0, reads: 0, staleServed: 0 };

  constructor(options: WatermarkOptions) {
    this.#o = options;
  }

  /** MINIMIZE_LATENCY: see the file comment. */
  current(storeId: string): string | Promise<string> {
    if (this.#o.readSync) return this.#o.readSync(storeId);
    const k = this.#known.get(storeId);
    if (k !== undefined) {
      const age = this.#o.clock.now() - k.at;
      if (age < this.#o.ttlMs) {
        this.stats.hits++;
        return k.value;
      }
      if (age < this.#o.maxStaleMs) {
        this.stats.staleServed++;
        this.#refresh(storeId).catch((e: unknown) => this.#o.onBackgroundError?.(e));
        return k.value;
      }
    }
    this.stats.reads++;
    return this.#refresh(storeId);
  }

  /** HIGHER_CONSISTENCY: a read that starts now (never one already running). */
  fresh(storeId: string): string | Promise<string> {
    if (this.#o.readSync) return this.#o.readSync(storeId);
    this.stats.reads++;
    const started = this.#o.clock.now();
    return this.#o.read(storeId).then((value) => this.#merge(storeId, value, started));
  }

  /** At least `min` (a consistency token): no read when the container already knows as much. */
  atLeast(storeId: string, min: string): string | Promise<string> {
    if (this.#o.readSync) return this.#o.readSync(storeId);
    const k = this.#known.get(storeId);
    if (k !== undefined && k.value >= min) {
      this.stats.hits++;
      return k.value;
    }
    this.stats.reads++;
    return this.#refresh(storeId);
  }

  /** What this container knows, without reading (undefined: nothing yet). */
  peek(storeId: string): string | undefined {
    return this.#o.readSync ? this.#o.readSync(storeId) : this.#known.get(storeId)?.value;
  }

  /** This container wrote `value` (or saw it): advance the known value at once. */
  observe(storeId: string, value: string): void {
    if (this.#o.readSync) return;
    const k = this.#known.get(storeId);
    if (k === undefined) this.#remember(storeId, { value, at: this.#o.clock.now() });
    else if (value > k.value) k.value = value;
  }

  /** Forget a store (deleted). */
  forget(storeId: string): void {
    this.#known.delete(storeId);
  }

  /** One read per store at a time; the result only ever moves the known value forward. */
  #refresh(storeId: string): Promise<string> {
    const running = this.#inflight.get(storeId);
    if (running) return running;
    const started = this.#o.clock.now();
    const p = this.#o
      .read(storeId)
      .then((value) => this.#merge(storeId, value, started))
      .finally(() => this.#inflight.delete(storeId));
    this.#inflight.set(storeId, p);
    return p;
  }

  /** Folds a read that started at `started` into what is known; returns the known value. */
  #merge(storeId: string, value: string, started: number): string {
    const k = this.#known.get(storeId);
    if (k === undefined) {
      this.#remember(storeId, { value, at: started });
      return value;
    }
    if (value > k.value) k.value = value;
    if (started > k.at) k.at = started;
    return k.value;
  }

  #remember(storeId: string, k: Known): void {
    if (this.#known.size >= (this.#o.maxStores ?? 10_000)) {
      const oldest = this.#known.keys().next();
      if (!oldest.done) this.#known.delete(oldest.value);
    }
    this.#known.set(storeId, k);
  }
}
