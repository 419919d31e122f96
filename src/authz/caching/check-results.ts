/**
 * Per-container cache of Check results for any store (memory or DynamoDB), in front of the engine.
 *
 * Keys: one bucket per `store/model`, stamped with the store's changelog revision the results were
 * computed at (read before computing, so a result is never older than its stamp); inside, the
 * check `object#relation@user` plus the request context. A request at a later revision empties the
 * bucket (any tuple write in the store invalidates its results; other stores are untouched); a
 * request at an earlier revision neither reads nor writes it. Only definite answers are cached,
 * never errors; requests with contextual tuples bypass the cache (their answer depends on them).
 * Size is bounded over all buckets (oldest entries evicted first).
 */

export interface CheckCacheStats {
  hits: number;
  misses: number;
  /** Entries dropped because their store moved to a new revision. */
  invalidated: number;
  evicted: number;
}

/** A cached answer: denied, allowed, or allowed with its granting path (audit reason). */
export type CachedCheck = boolean | string;

interface Bucket {
  revision: string;
  readonly results: Map<string, CachedCheck>;
}

/** The cache key of one check (contextual tuples excluded: such checks are not cached). */
export function checkKey(
  tupleKey: { object: string; relation: string; user: string },
  context: unknown,
): string {
  const base = `${tupleKey.object}#${tupleKey.relation}@${tupleKey.user}`;
  return context === undefined || context === null ? base : `${base}\u0000${JSON.stringify(context)}`;
}

export class CheckResultCache {
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  #size = 0;
  readonly stats: CheckCacheStats = { hits: 0, misses: 0, invalidated: 0, evicted: 0 };

  /** @param max entries kept over all stores; 0 disables the cache. */
  constructor(max: number) {
    this.#max = max;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  get size(): number {
    return this.#size;
  }

  #bucket(storeId: string, modelId: string, revision: string, create: boolean): Bucket | undefined {
    const id = `${storeId}/${modelId}`;
    const b = this.#buckets.get(id);
    if (b === undefined) {
      if (!create) return undefined;
      const fresh: Bucket = { revision, results: new Map() };
      this.#buckets.set(id, fresh);
      return fresh;
    }
    if (b.revision === revision) return b;
    if (revision < b.revision) return undefined;
    this.#size -= b.results.size;
    this.stats.invalidated += b.results.size;
    b.results.clear();
    b.revision = revision;
    return b;
  }

  get(storeId: string, modelId: string, revision: string, key: string): CachedCheck | undefined {
    const hit = this.#bucket(storeId, modelId, revision, false)?.results.get(key);
    if (hit === undefined) this.stats.misses++;
    else this.stats.hits++;
    return hit;
  }

  set(storeId: string, modelId: string, revision: string, key: string, allowed: CachedCheck): void {
    if (this.#max <= 0) return;
    const b = this.#bucket(storeId, modelId, revision, true);
    if (b === undefined) return;
    if (!b.results.has(key)) {
      if (this.#size >= this.#max) this.#evict();
      this.#size++;
    }
    b.results.set(key, allowed);
  }

  /** Drops every bucket of a store (deleted). */
  forgetStore(storeId: string): void {
    for (const [id, b] of this.#buckets) {
      if (id.startsWith(`${storeId}/`)) {
        this.#size -= b.results.size;
        this.#buckets.delete(id);
      }
    }
  }

  #evict(): void {
    for (const [id, b] of this.#buckets) {
      const oldest = b.results.keys().next();
      if (oldest.done) {
        this.#buckets.delete(id);
        continue;
      }
      b.results.delete(oldest.value);
      this.#size--;
      this.stats.evicted++;
      if (b.results.size === 0) this.#buckets.delete(id);
      return;
    }
  }
}
