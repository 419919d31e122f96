/**
 * Loads OpenFGA-format conformance YAML (`tests: [{name, stages: [...]}]`) into plain typed cases.
 * Like the upstream loader it reads only the keys it knows (so a misplaced `expectation` inside a
 * `request` is ignored) and treats a missing expectation as false / the empty set. Values pass
 * through a JSON round trip, as they would on the wire (a YAML `Infinity` becomes `null`).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { parse } from "yaml";
import type { TupleKey } from "../model.ts";

export interface CheckAssertion {
  readonly tuple: { readonly user: string; readonly relation: string; readonly object: string };
  readonly expectation: boolean;
  /** 0: must succeed. */
  readonly errorCode: number;
  readonly contextualTuples: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
}

export interface ListObjectsAssertion {
  readonly request: { readonly user: string; readonly type: string; readonly relation: string };
  readonly expectation: readonly string[];
  readonly errorCode: number;
  readonly contextualTuples: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
}

export interface ListUsersAssertion {
  readonly request: {
    readonly object: string;
    readonly relation: string;
    readonly filters: readonly string[];
  };
  readonly expectation: readonly string[];
  readonly errorCode: number;
  readonly contextualTuples: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
}

export interface ConformanceStage {
  readonly model: string;
  readonly tuples: readonly TupleKey[];
  readonly checkAssertions: readonly CheckAssertion[];
  readonly listObjectsAssertions: readonly ListObjectsAssertion[];
  readonly listUsersAssertions: readonly ListUsersAssertion[];
}

export interface ConformanceTest {
  readonly name: string;
  /** Base name of the YAML file. */
  readonly file: string;
  readonly stages: readonly ConformanceStage[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string =>
  typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
const wire = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

function tupleKey(v: unknown): TupleKey {
  const o = isObj(v) ? v : {};
  const key = { user: str(o.user), relation: str(o.relation), object: str(o.object) };
  const c = o.condition;
  if (!isObj(c)) return key;
  const condition = isObj(c.context)
    ? { name: str(c.name), context: wire(c.context) }
    : { name: str(c.name) };
  return { ...key, condition };
}

function common(a: Obj) {
  return {
    errorCode: typeof a.errorCode === "number" ? a.errorCode : 0,
    contextualTuples: arr(a.contextualTuples).map(tupleKey),
    ...(isObj(a.context) ? { context: wire(a.context) } : {}),
  };
}

function stage(v: unknown): ConformanceStage {
  const s = isObj(v) ? v : {};
  return {
    model: str(s.model),
    tuples: arr(s.tuples).map(tupleKey),
    checkAssertions: arr(s.checkAssertions)
      .filter(isObj)
      .map((a) => {
        const t = isObj(a.tuple) ? a.tuple : {};
        return {
          tuple: { user: str(t.user), relation: str(t.relation), object: str(t.object) },
          expectation: a.expectation === true,
          ...common(a),
        };
      }),
    listObjectsAssertions: arr(s.listObjectsAssertions)
      .filter(isObj)
      .map((a) => {
        const r = isObj(a.request) ? a.request : {};
        return {
          request: { user: str(r.user), type: str(r.type), relation: str(r.relation) },
          expectation: arr(a.expectation).map(str),
          ...common(a),
        };
      }),
    listUsersAssertions: arr(s.listUsersAssertions)
      .filter(isObj)
      .map((a) => {
        const r = isObj(a.request) ? a.request : {};
        return {
          request: { object: str(r.object), relation: str(r.relation), filters: arr(r.filters).map(str) },
          expectation: arr(a.expectation).map(str),
          ...common(a),
        };
      }),
  };
}

/** Parses one YAML document's text. */
export function parseConformanceYaml(text: string, file = "inline.yaml"): ConformanceTest[] {
  const doc = parse(text) as unknown;
  const tests = isObj(doc) ? arr(doc.tests) : [];
  return tests.filter(isObj).map((t) => ({ name: str(t.name), file, stages: arr(t.stages).map(stage) }));
}

/** Loads files and directories (every `*.yaml`/`*.yml` inside, sorted by name). */
export async function loadConformanceTests(paths: readonly string[]): Promise<ConformanceTest[]> {
  const out: ConformanceTest[] = [];
  for (const p of paths) {
    const info = await stat(p);
    const files = info.isDirectory()
      ? (await readdir(p))
          .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
          .sort()
          .map((f) => join(p, f))
      : [p];
    for (const f of files) out.push(...parseConformanceYaml(await readFile(f, "utf8"), basename(f)));
  }
  return out;
}
