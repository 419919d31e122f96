/**
 * Every shared OpenFGA conformance case against the memory store: one vitest test per YAML test and
 * variant (`<name>` with stored tuples, `<name>_ctxTuples` with the tuples sent as contextual
 * tuples), so a failure names the case and lists each failing assertion.
 *
 * It runs three ways, so each engine path is covered whatever the memory adapter offers:
 * the memory adapter as shipped with default options; a memory store with synchronous reads
 * (`SyncTupleReader`) and the check cache; the same without the check cache.
 */
import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../src/authz/adapters/memory.ts";
import { loadConformanceTests } from "../../src/authz/conformance/loader.ts";
import { runConformanceTest, variantsOf } from "../../src/authz/conformance/runner.ts";
import { type AuthzOptions, createAuthzService } from "../../src/authz/index.ts";
import type { AuthzStore } from "../../src/authz/ports.ts";
import { createSyncMemoryStore } from "../unit/authz/sync-store.ts";
import { OPENFGA_CONFORMANCE_DIR } from "./openfga-data.ts";

const tests = await loadConformanceTests([OPENFGA_CONFORMANCE_DIR]);

const setups: [string, () => AuthzStore, AuthzOptions][] = [
  ["memory store", () => new MemoryAuthzStore(), {}],
  ["memory store, sync reads + check cache", createSyncMemoryStore, {}],
  ["memory store, sync reads, no check cache", createSyncMemoryStore, { checkCacheSize: 0 }],
];

for (const [label, makeStore, options] of setups) {
  describe(`OpenFGA conformance (${label})`, () => {
    const store = makeStore();
    const service = createAuthzService({ store, options });

    it("loads the shared data", () => {
      expect(tests.length).toBeGreaterThanOrEqual(124);
    });

    const seen = new Map<string, number>();
    for (const test of tests) {
      for (const variant of variantsOf(test)) {
        const base = `${test.file} ${variant === "ctxTuples" ? `${test.name}_ctxTuples` : test.name}`;
        const n = (seen.get(base) ?? 0) + 1;
        seen.set(base, n);
        it(n > 1 ? `${base} (#${n})` : base, async () => {
          const report = await runConformanceTest(test, variant, { store }, service);
          expect(report.failures).toEqual([]);
          expect(report.passed).toBeGreaterThan(0);
        });
      }
    }
  });
}
