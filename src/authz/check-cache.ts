/**
 * Per-container cache of Check results, keyed by store, model and the store's head revision (the
 * DESIGN's "check cache keyed by model id and store revision"). It is used only when the store can
 * tell its head revision synchronously (`SyncTupleReader`, i.e. the embedded memory store): any write
 * moves the revision and the store's entries are dropped on the next lookup, so a cached answer is
 * never older than the data. Requests with contextual tuples, `explain` or `HIGHER_CONSISTENCY` bypass
 * it; only definite answers (allowed / not allowed) are stored, never errors.
 */
interface Bucket {
  revision: string;
  readonly results: Map<string, boolean>;
}

export class CheckCache {
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  #size = 0;

  /** @param max entries kept over all stores (FIFO eviction); 0 disables the cache. */
  constructor(max: number) {
    this.#max = max;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  #bucket(storeId: string, modelId: string, revision: string): Bucket {
    const id = `${storeId}/${modelId}`;
    let b = this.#buckets.get(id);
    if (b === undefined) {
      b = { revision, results: new Map() };
      this.#buckets.set(id, b);
    } else if (b.revision !== revision) {
      this.#size -= b.results.size;
      b.results.clear();
      b.revision = revision;
    }
    return b;
  }

  get(storeId: string, modelId: string, revision: string, key: string): boolean | undefined {
    return this.#bucket(storeId, modelId, revision).results.get(key);
  }

  set(storeId: string, modelId: string, revision: string, key: string, allowed: boolean): void {
    const results = this.#bucket(storeId, modelId, revision).results;
    if (this.#size >= this.#max) this.#evict();
    if (!results.has(key)) this.#size++;
    results.set(key, allowed);
  }

  #evict(): void {
    for (const b of this.#buckets.values()) {
      const oldest = b.results.keys().next();
      if (!oldest.done) {
        b.results.delete(oldest.value);
        this.#size--;
        return;
      }
    }
  }
}
