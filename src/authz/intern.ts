/**
 * Internalized copies of the engine's small vocabularies (type and relation names, `type#relation`
 * keys), shared by the compiled models and the memory store's index: two such strings compare with
 * `===` by pointer, and a `Map` probe with one never compares contents. Bounded: past the cap a
 * string is returned as it is (still correct, only slower).
 */
const pool = new Map<string, string>();
const CAP = 50_000;

export function internalize(s: string): string {
  let v = pool.get(s);
  if (v === undefined) {
    if (pool.size >= CAP) return s;
    // Property keys are internalized strings; reading one back yields the canonical copy.
    v = Object.keys({ [s]: 0 })[0] ?? s;
    pool.set(v, v);
  }
  return v;
}
