/**
 * Runs OpenFGA-format conformance cases against the authorization service over any `AuthzStore`,
 * restating the upstream harness (see shared/conformance/openfga/README.md):
 * - one OpenFGA store per test (and per variant); each stage writes its DSL model as a new model and
 *   its tuples in chunks of at most 40, and every call of the stage names that model id;
 * - check assertions compare `allowed` or the error code;
 * - list-objects and list-users results are compared as multisets, then every returned object/user is
 *   re-checked with Check (same contextual tuples and context) and must be allowed;
 * - the `_ctxTuples` variant (single-stage tests with ≤ 100 tuples) writes no tuples and sends the
 *   stage's tuples as contextual tuples with every assertion.
 *
 * Counting: one assertion per check / list-objects / list-users expectation per variant it runs in.
 * The re-checks of list results are part of their list assertion (a failing re-check fails that
 * assertion), not counted separately. Upstream's StreamedListObjects pass has no counterpart here.
 */

import type { AuthzOptions, CheckRequest } from "../api.ts";
import { AuthzError } from "../errors.ts";
import type { TupleKey } from "../model.ts";
import type { AuthzStore } from "../ports.ts";
import { type AuthzService, createAuthzService } from "../service.ts";
import type { ConformanceStage, ConformanceTest } from "./loader.ts";

export type Variant = "stored" | "ctxTuples";

export interface ConformanceRunOptions {
  /** The store every test runs against (tests get separate OpenFGA stores inside it). */
  readonly store: AuthzStore;
  readonly serviceOptions?: AuthzOptions;
  /** @default ["stored", "ctxTuples"] */
  readonly variants?: readonly Variant[];
  /** Tuples per Write call. @default 40 */
  readonly writeChunk?: number;
}

export interface TestReport {
  /** `name` or `name_ctxTuples`. */
  readonly name: string;
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  /** One line per failing assertion. */
  readonly failures: string[];
}

export interface ConformanceSummary {
  readonly passed: number;
  readonly failed: number;
  readonly reports: TestReport[];
}

const MAX_CTX_TUPLES = 100;

/** The variants a test runs in: `ctxTuples` needs exactly one stage with ≤ 100 tuples. */
export function variantsOf(
  test: ConformanceTest,
  wanted: readonly Variant[] = ["stored", "ctxTuples"],
): Variant[] {
  return wanted.filter(
    (v) =>
      v === "stored" || (test.stages.length === 1 && (test.stages[0]?.tuples.length ?? 0) <= MAX_CTX_TUPLES),
  );
}

const show = (v: unknown) => JSON.stringify(v);
const fmtKey = (k: { object: string; relation: string; user: string }) =>
  `${k.object}#${k.relation}@${k.user}`;

function outcome(e: unknown): string {
  if (e instanceof AuthzError) return `error ${e.openfgaCode} (${e.openfgaName}: ${e.detail})`;
  return `exception ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}

function sameMultiset(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

function userString(u: import("../api.ts").ListUser): string {
  if ("object" in u) return `${u.object.type}:${u.object.id}`;
  if ("userset" in u) return `${u.userset.type}:${u.userset.id}#${u.userset.relation}`;
  return `${u.wildcard.type}:*`;
}

interface StageRun {
  readonly service: AuthzService;
  readonly storeId: string;
  readonly modelId: string;
  /** Extra contextual tuples (the ctxTuples variant). */
  readonly extra: readonly TupleKey[];
  readonly where: string;
  ok(): void;
  fail(line: string): void;
}

async function runStageAssertions(s: StageRun, stage: ConformanceStage): Promise<void> {
  const base = { storeId: s.storeId, authorizationModelId: s.modelId };
  const ctxOf = (own: readonly TupleKey[]) => (s.extra.length ? [...s.extra, ...own] : own);

  for (const a of stage.checkAssertions) {
    const label = `${s.where} check ${fmtKey(a.tuple)}${a.context ? ` context=${show(a.context)}` : ""}`;
    try {
      const r = await s.service.check({
        ...base,
        tupleKey: a.tuple,
        contextualTuples: ctxOf(a.contextualTuples),
        ...(a.context ? { context: a.context } : {}),
      });
      if (a.errorCode) s.fail(`${label}: expected error ${a.errorCode}, got allowed=${r.allowed}`);
      else if (r.allowed !== a.expectation)
        s.fail(`${label}: expected allowed=${a.expectation}, got ${r.allowed}`);
      else s.ok();
    } catch (e) {
      if (a.errorCode && e instanceof AuthzError && e.openfgaCode === a.errorCode) s.ok();
      else
        s.fail(
          `${label}: expected ${a.errorCode ? `error ${a.errorCode}` : `allowed=${a.expectation}`}, got ${outcome(e)}`,
        );
    }
  }

  for (const a of stage.listObjectsAssertions) {
    const { user, type, relation } = a.request;
    const contextualTuples = ctxOf(a.contextualTuples);
    await judgeList(s, a, {
      label: `${s.where} list-objects ${type}#${relation}@${user}${a.context ? ` context=${show(a.context)}` : ""}`,
      list: async () =>
        (
          await s.service.listObjects({
            ...base,
            user,
            type,
            relation,
            contextualTuples,
            ...(a.context ? { context: a.context } : {}),
          })
        ).objects,
      recheck: (object) => ({ ...base, tupleKey: { user, relation, object }, contextualTuples }),
    });
  }

  for (const a of stage.listUsersAssertions) {
    const { object, relation, filters } = a.request;
    const contextualTuples = ctxOf(a.contextualTuples);
    const colon = object.indexOf(":");
    await judgeList(s, a, {
      label: `${s.where} list-users ${object}#${relation} filters=${show(filters)}${a.context ? ` context=${show(a.context)}` : ""}`,
      list: async () =>
        (
          await s.service.listUsers({
            ...base,
            object: { type: object.slice(0, colon), id: object.slice(colon + 1) },
            relation,
            userFilters: filters.map((f) => {
              const h = f.indexOf("#");
              return h < 0 ? { type: f } : { type: f.slice(0, h), relation: f.slice(h + 1) };
            }),
            contextualTuples,
            ...(a.context ? { context: a.context } : {}),
          })
        ).users.map(userString),
      recheck: (user) => ({ ...base, tupleKey: { user, relation, object }, contextualTuples }),
    });
  }
}

/**
 * One list assertion (list-objects or list-users): the call must fail with the expected code, or
 * return the expected entries as a multiset, and then every entry must pass Check with the same
 * contextual tuples and context.
 */
async function judgeList(
  s: StageRun,
  a: {
    readonly errorCode?: number;
    readonly expectation: readonly string[];
    readonly context?: Record<string, unknown>;
  },
  how: {
    readonly label: string;
    readonly list: () => Promise<string[]>;
    readonly recheck: (entry: string) => Omit<CheckRequest, "context">;
  },
): Promise<void> {
  const { label } = how;
  try {
    const entries = await how.list();
    if (a.errorCode) return s.fail(`${label}: expected error ${a.errorCode}, got ${show(entries)}`);
    if (!sameMultiset(entries, a.expectation)) {
      return s.fail(
        `${label}: expected ${show([...a.expectation].sort())}, got ${show([...entries].sort())}`,
      );
    }
    const denied: string[] = [];
    for (const entry of entries) {
      const c = await s.service.check({
        ...how.recheck(entry),
        ...(a.context ? { context: a.context } : {}),
      });
      if (!c.allowed) denied.push(entry);
    }
    if (denied.length) s.fail(`${label}: re-check denied ${show(denied)}`);
    else s.ok();
  } catch (e) {
    if (a.errorCode && e instanceof AuthzError && e.openfgaCode === a.errorCode) s.ok();
    else
      s.fail(
        `${label}: expected ${a.errorCode ? `error ${a.errorCode}` : show(a.expectation)}, got ${outcome(e)}`,
      );
  }
}

const assertionsOf = (st: ConformanceStage) =>
  st.checkAssertions.length + st.listObjectsAssertions.length + st.listUsersAssertions.length;

/** Runs one test in one variant, in a fresh OpenFGA store. */
export async function runConformanceTest(
  test: ConformanceTest,
  variant: Variant,
  options: ConformanceRunOptions,
  service: AuthzService = createAuthzService({
    store: options.store,
    ...(options.serviceOptions ? { options: options.serviceOptions } : {}),
  }),
): Promise<TestReport> {
  const name = variant === "ctxTuples" ? `${test.name}_ctxTuples` : test.name;
  let passed = 0;
  let failed = 0;
  const failures: string[] = [];
  const chunk = options.writeChunk ?? 40;
  const store = await service.createStore({ tenantId: "conformance", name: "conformance" });
  for (let i = 0; i < test.stages.length; i++) {
    const stage = test.stages[i]!;
    const where = `${test.file} ${name} stage ${i + 1}:`;
    let modelId: string;
    try {
      modelId = (await service.writeAuthorizationModelDsl(store.id, stage.model)).authorizationModelId;
      if (variant === "stored") {
        for (let j = 0; j < stage.tuples.length; j += chunk) {
          await service.write({
            storeId: store.id,
            authorizationModelId: modelId,
            writes: { tupleKeys: stage.tuples.slice(j, j + chunk) },
          });
        }
      }
    } catch (e) {
      const n = assertionsOf(stage);
      failed += n;
      failures.push(`${where} setup failed (${n} assertions not run): ${outcome(e)}`);
      continue;
    }
    await runStageAssertions(
      {
        service,
        storeId: store.id,
        modelId,
        extra: variant === "ctxTuples" ? stage.tuples : [],
        where,
        ok: () => {
          passed++;
        },
        fail: (line) => {
          failed++;
          failures.push(line);
        },
      },
      stage,
    );
  }
  return { name, file: test.file, passed, failed, failures };
}

/** Runs every test in every applicable variant. */
export async function runConformance(
  tests: readonly ConformanceTest[],
  options: ConformanceRunOptions,
): Promise<ConformanceSummary> {
  const service = createAuthzService({
    store: options.store,
    ...(options.serviceOptions ? { options: options.serviceOptions } : {}),
  });
  const reports: TestReport[] = [];
  for (const test of tests) {
    for (const v of variantsOf(test, options.variants))
      reports.push(await runConformanceTest(test, v, options, service));
  }
  return {
    passed: reports.reduce((n, r) => n + r.passed, 0),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    reports,
  };
}
