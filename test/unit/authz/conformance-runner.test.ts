import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import { runConformanceCli } from "../../../src/authz/conformance/cli.ts";
import { parseConformanceYaml } from "../../../src/authz/conformance/loader.ts";
import { runConformance, variantsOf } from "../../../src/authz/conformance/runner.ts";

const YAML = `tests:
  - name: quirks
    stages:
      - model: |
          model
            schema 1.1
          type user
          type doc
            relations
              define viewer: [user with positive]
          condition positive(x: double) {
            x > 0.0
          }
        tuples:
          - object: doc:1
            relation: viewer
            user: user:jon
            condition:
              name: positive
        checkAssertions:
          - tuple: {object: doc:1, relation: viewer, user: user:jon}
            context: {x: 1}
            expectation: True
          - tuple: {object: doc:1, relation: viewer, user: user:jon}
            context: {x: -1}
            expectation: False
          - tuple: {object: doc:1, relation: viewer, user: user:jon}
            context:
              x: 1.79769313486231570814527423731704356798070e+309
            errorCode: 2000
        listUsersAssertions:
          - request:
              filters: [user]
              object: doc:1
              relation: viewer
              expectation:
                - user:jon
            context: {x: 1}
`;

describe("conformance loader", () => {
  it("reads OpenFGA YAML with its quirks", () => {
    const [test] = parseConformanceYaml(YAML, "quirks.yaml");
    const stage = test!.stages[0]!;
    expect(stage.checkAssertions.map((a) => a.expectation)).toEqual([true, false, false]);
    expect(stage.checkAssertions[2]!.context).toEqual({ x: null }); // Infinity travels as null, as on the wire
    // The misplaced `expectation` inside `request` is ignored: the assertion expects the empty set.
    expect(stage.listUsersAssertions[0]!.expectation).toEqual([]);
    expect(variantsOf(test!)).toEqual(["stored", "ctxTuples"]);
  });
});

describe("conformance runner", () => {
  it("runs both variants and counts each assertion once per variant", async () => {
    const tests = parseConformanceYaml(YAML, "quirks.yaml");
    const s = await runConformance(tests, { store: new MemoryAuthzStore() });
    // 3 checks + 1 list-users; the list-users expects [] although user:jon is allowed → fails.
    expect(s.passed).toBe(6);
    expect(s.failed).toBe(2);
    expect(s.reports.map((r) => r.name)).toEqual(["quirks", "quirks_ctxTuples"]);
    expect(s.reports[0]!.failures[0]).toMatch(
      /^quirks.yaml quirks stage 1: list-users doc:1#viewer filters=\["user"\].* expected \[\], got \["user:jon"\]$/,
    );
  });

  it("the CLI prints failures and the summary, exit 1 on failure, 2 on usage errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "conf-"));
    await writeFile(join(dir, "a.yaml"), YAML);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await runConformanceCli([dir])).toBe(1);
      expect(out.at(-1)).toBe("6 passed, 2 failed\n");
      expect(out.filter((l) => l.startsWith("FAIL "))).toHaveLength(2);
      expect(await runConformanceCli([])).toBe(2);
      expect(await runConformanceCli([dir, "--store", "postgres"])).toBe(2);
    } finally {
      spy.mockRestore();
      err.mockRestore();
    }
  });
});
