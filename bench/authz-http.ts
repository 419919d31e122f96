/**
 * Authorization checks over HTTP: `POST /stores/{id}/check` against the local platform (memory
 * store, log level warn) at 32 concurrent keep-alive clients, check cache cold and warm, allowed
 * and denied; then the same checks through casbin (node-casbin, RBAC with domains, the same users,
 * teams, orgs and role assignments) in process, and the ratio.
 *
 *   npx tsx bench/authz-http.ts [--quick] [--seconds 4] [--concurrency 32]
 *
 * Data: `bench/authz-data.ts` (GitHub-like model, ~103k tuples; `--quick`: ~11k), loaded through
 * the HTTP API with the demo tenant's API key. Every answer is checked against our engine run in
 * process, and casbin's answers too. The server runs in this process' main thread; the load
 * generator (`http-load.ts`) in a worker thread, so on a 2-core machine each has about one core.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { transformer } from "@openfga/syntax-transformer";
import { type LocalPlatform, startLocalPlatform } from "../functions/_shared/platform.ts";
import { MemoryAuthzStore } from "../src/authz/adapters/memory.ts";
import { createAuthzService } from "../src/authz/index.ts";
import { createLogger, type Logger } from "../src/shared/logger.ts";
import { type CasbinBench, casbinFromTuples } from "./authz-casbin.ts";
import { type BenchData, type CheckKey, generate, MODEL, ROLES, sampleChecks } from "./authz-data.ts";
import { type HttpPhase, httpLoad } from "./http-load.ts";
import { combine, type LoadResult } from "./oauth-load.ts";

const ADMIN = "bench-admin-authz-http";
const ALLOWED = '"allowed":true';
const DENIED = '"allowed":false';
const CACHE_HEADER = "x-portcullis-check-cache";

interface Pools {
  readonly allowed: CheckKey[];
  readonly denied: CheckKey[];
}

const key = (c: CheckKey) => `${c.object}#${c.relation}@${c.user}`;
const body = (c: CheckKey) =>
  JSON.stringify({ tuple_key: { user: c.user, relation: c.relation, object: c.object } });

/**
 * Our engine in process without the whole-result check cache (as the platform runs it; the engine's
 * sub-problem cache stays on): the oracle for every answer, and the in-process figure.
 */
async function oracle(data: BenchData) {
  const store = new MemoryAuthzStore();
  const service = createAuthzService({ store, options: { checkCacheSize: 0 } });
  const { id: storeId } = await service.createStore({ tenantId: "bench", name: "bench" });
  const { authorizationModelId } = await service.writeAuthorizationModelDsl(storeId, MODEL);
  for (let i = 0; i < data.tuples.length; i += 100) {
    await service.write({
      storeId,
      authorizationModelId,
      writes: { tupleKeys: data.tuples.slice(i, i + 100) },
    });
  }
  return async (c: CheckKey) => (await service.check({ storeId, authorizationModelId, tupleKey: c })).allowed;
}

/**
 * Distinct allowed and denied checks on `repo:r*`, classified by the oracle. Allowed ones come in
 * equal parts from direct user roles, team roles (a direct member of the team) and the org's base
 * role (a member of the repo's org reads it), each at a random role the assignment implies; denied
 * ones are random checks.
 */
async function pools(data: BenchData, n: number, check: (c: CheckKey) => Promise<boolean>): Promise<Pools> {
  const r = data.rand;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const direct = data.tuples.filter((t) => t.object.startsWith("repo:r") && t.user.startsWith("user:"));
  const viaTeam = data.tuples.filter((t) => t.object.startsWith("repo:r") && t.user.startsWith("team:"));
  const teamMembers = new Map<string, string[]>();
  const orgMembers = new Map<string, string[]>();
  const orgRepos = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const t of data.tuples) {
    if (t.object.startsWith("team:") && t.relation === "member" && t.user.startsWith("user:"))
      add(teamMembers, `${t.object}#member`, t.user);
    if (t.object.startsWith("organization:") && t.relation === "member") add(orgMembers, t.object, t.user);
    if (t.object.startsWith("repo:r") && t.relation === "owner") add(orgRepos, t.user, t.object);
  }
  const orgs = [...orgRepos.keys()];
  const implied = (role: string) => ROLES[Math.floor(r() * (ROLES.indexOf(role as never) + 1))]!;
  const candidate = (i: number): CheckKey | undefined => {
    if (i % 3 === 0) {
      const t = pick(direct);
      return { user: t.user, relation: implied(t.relation), object: t.object };
    }
    if (i % 3 === 1) {
      const t = pick(viaTeam);
      const members = teamMembers.get(t.user);
      return members && { user: pick(members), relation: implied(t.relation), object: t.object };
    }
    const org = pick(orgs);
    return { user: pick(orgMembers.get(org)!), relation: "reader", object: pick(orgRepos.get(org)!) };
  };
  const seen = new Set<string>();
  const allowed: CheckKey[] = [];
  const denied: CheckKey[] = [];
  for (let i = 0; allowed.length < n && i < n * 10; i++) {
    const c = candidate(i);
    if (!c || seen.has(key(c))) continue;
    seen.add(key(c));
    if (await check(c)) allowed.push(c);
  }
  while (denied.length < n) {
    for (const c of sampleChecks(data, n)) {
      if (denied.length >= n || seen.has(key(c))) continue;
      seen.add(key(c));
      if (!(await check(c))) denied.push(c);
    }
  }
  return { allowed, denied };
}

/** A platform with the data loaded through the HTTP API; returns the check path and credential. */
async function platformWith(data: BenchData, log: Logger, audit: "off" | "in-process") {
  const p = await startLocalPlatform({
    env: {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_LOG_LEVEL: "warn",
      PORTCULLIS_REGION: "local",
      // The authorization path alone, or with one audit event per check (the local default).
      PORTCULLIS_AUDIT_BUS: audit,
    },
    port: 0,
    log,
  });
  const authorization = `Bearer ${p.demo!.apiKey}`;
  const call = async (method: string, path: string, payload: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  try {
    const t0 = performance.now();
    const storeId = (await call("POST", "/stores", { name: "bench authz http" })).id as string;
    await call(
      "POST",
      `/stores/${storeId}/authorization-models`,
      transformer.transformDSLToJSONObject(MODEL),
    );
    const chunks: (typeof data.tuples)[] = [];
    for (let i = 0; i < data.tuples.length; i += 100) chunks.push(data.tuples.slice(i, i + 100));
    let next = 0;
    const writer = async () => {
      while (next < chunks.length) {
        const tupleKeys = chunks[next++]!;
        await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: tupleKeys } });
      }
    };
    await Promise.all(Array.from({ length: 4 }, writer));
    return { p, storeId, authorization, loadSeconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    await p.close();
    throw e;
  }
}

interface Row {
  readonly label: string;
  readonly r: LoadResult;
  readonly phase: HttpPhase;
}

/** Checks over HTTP, from the oracle-classified lists. */
function checks(list: readonly { c: CheckKey; allowed: boolean }[]) {
  return {
    bodies: list.map((x) => body(x.c)),
    expect: Uint8Array.from(list, (x) => (x.allowed ? 0 : 1)),
    expectTexts: [ALLOWED, DENIED],
  };
}

const interleave = (a: readonly CheckKey[], b: readonly CheckKey[]) => {
  const out: { c: CheckKey; allowed: boolean }[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push({ c: a[i]!, allowed: true });
    if (i < b.length) out.push({ c: b[i]!, allowed: false });
  }
  return out;
};

/** In-process calls one at a time: calls/s (wall) and per-call latency percentiles. */
function timeCalls(n: number, call: (i: number) => unknown, maxMs = Number.POSITIVE_INFINITY) {
  const lat = new Float64Array(n);
  let done = 0;
  const t0 = performance.now();
  for (; done < n && performance.now() - t0 < maxMs; done++) {
    const s = performance.now();
    call(done);
    lat[done] = performance.now() - s;
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = lat.slice(0, done).sort();
  const q = (p: number) => sorted[Math.min(done - 1, Math.floor(p * done))]!;
  return { perSecond: done / seconds, p50: q(0.5), p99: q(0.99), n: done };
}

async function timeAsyncCalls(n: number, call: (i: number) => Promise<unknown>, maxMs: number) {
  const lat = new Float64Array(n);
  let done = 0;
  const t0 = performance.now();
  for (; done < n && performance.now() - t0 < maxMs; done++) {
    const s = performance.now();
    await call(done);
    lat[done] = performance.now() - s;
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = lat.slice(0, done).sort();
  const q = (p: number) => sorted[Math.min(done - 1, Math.floor(p * done))]!;
  return { perSecond: done / seconds, p50: q(0.5), p99: q(0.99), n: done };
}

/** Reference floor: a bare node:http server that parses the check body and answers a fixed decision. */
async function floorServer() {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const b = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { tuple_key?: { user?: string } };
      const out = JSON.stringify({ allowed: b.tuple_key?.user !== undefined, resolution: "" });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const fmt = (v: number, d = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d })
    : "–";

/** Runs the benchmark and prints its figures. */
export async function run(options: { quick?: boolean; argv?: readonly string[] } = {}): Promise<void> {
  const argv = options.argv ?? [];
  const arg = (name: string, d: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) || d : d;
  };
  const quick = options.quick ?? argv.includes("--quick");
  const seconds = arg("--seconds", quick ? 1.5 : 4);
  const warmup = quick ? 0.5 : 1;
  const concurrency = arg("--concurrency", 32);
  const out = (s: string) => process.stdout.write(`${s}\n`);

  const data = generate(quick ? 0.1 : 1);
  out(
    `\nAuthorization checks over HTTP: ${data.tuples.length.toLocaleString("en-US")} tuples (bench/authz-data.ts), ` +
      `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? "?"}), node ${process.version}`,
  );
  out(
    "  server: local platform (node:http → API Gateway v2 event → middy handler → router → OpenFGA check), " +
      "memory store, log level warn, audit emission off (the last platform row: on), in the main thread;",
  );
  out(
    `  machine load average at start: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} (1/5/15 min; figures are only meaningful on an otherwise idle machine)`,
  );
  out(
    `  load: ${concurrency} keep-alive connections from a worker thread on the same machine (bench/http-load.ts), ` +
      `${warmup} s warm-up + ${seconds} s measured per row; every answer checked against the engine in process`,
  );

  const t0 = performance.now();
  const check = await oracle(data);
  const pool = await pools(data, quick ? 8_000 : 80_000, check);
  const warmN = quick ? 1_000 : 5_000;
  out(
    `  workload: ${fmt(pool.allowed.length)} allowed + ${fmt(pool.denied.length)} denied distinct checks for the cold rows, ` +
      `${fmt(warmN)} + ${fmt(warmN)} for the warm rows (classified in ${fmt((performance.now() - t0) / 1000, 1)} s)`,
  );

  const rows: Row[] = [];
  const measure = async (
    label: string,
    target: { url: string; path: string; authorization: string },
    list: { c: CheckKey; allowed: boolean }[],
    order: "once" | "cycle",
  ) => {
    const phase = await httpLoad({
      url: target.url,
      method: "POST",
      path: target.path,
      headers: { authorization: target.authorization, "content-type": "application/json" },
      ...checks(list),
      order,
      countHeader: CACHE_HEADER,
      concurrency,
      seconds,
      warmup,
    });
    const row = { label, r: combine([phase]), phase };
    rows.push(row);
    return row;
  };

  /** One pass of `list` (untimed): the check cache then holds every answer. */
  const fillCache = (
    target: { url: string; path: string; authorization: string },
    list: { c: CheckKey; allowed: boolean }[],
  ) =>
    httpLoad({
      url: target.url,
      method: "POST",
      path: target.path,
      headers: { authorization: target.authorization, "content-type": "application/json" },
      ...checks(list),
      order: "once",
      concurrency,
      seconds: 60,
      warmup: 0,
    });

  // 1. Log level warn: cold (cache emptied, every check distinct), then warm.
  const warn = await platformWith(data, createLogger({ level: "warn", base: { region: "local" } }), "off");
  let target = { url: warn.p.url, path: `/stores/${warn.storeId}/check`, authorization: warn.authorization };
  out(
    `  loaded through the HTTP API in ${fmt(warn.loadSeconds, 1)} s (${fmt(Math.ceil(data.tuples.length / 100))} writes of ≤ 100 tuples)`,
  );
  const clear = (p: LocalPlatform, storeId: string) =>
    p.container.authzApi.context.checks.forgetStore(storeId);
  const warmAllowed = pool.allowed.slice(0, warmN);
  const warmDenied = pool.denied.slice(0, warmN);
  const mixed = interleave(warmAllowed, warmDenied);
  try {
    clear(warn.p, warn.storeId);
    await measure(
      "cold allowed",
      target,
      pool.allowed.map((c) => ({ c, allowed: true })),
      "once",
    );
    clear(warn.p, warn.storeId);
    await measure(
      "cold denied",
      target,
      pool.denied.map((c) => ({ c, allowed: false })),
      "once",
    );
    clear(warn.p, warn.storeId);
    // Fill the cache with the warm set (one pass), then measure hits only.
    await fillCache(target, mixed);
    await measure(
      "warm allowed",
      target,
      warmAllowed.map((c) => ({ c, allowed: true })),
      "cycle",
    );
    await measure(
      "warm denied",
      target,
      warmDenied.map((c) => ({ c, allowed: false })),
      "cycle",
    );
    await measure("warm mixed 50/50", target, mixed, "cycle");
  } finally {
    await warn.p.close();
  }

  // 2. The same warm mix as the local platform runs by default: an audit event per check (in-process
  // bus, memory audit store) and the access log on (level info), written to /dev/null.
  const devNull = openSync("/dev/null", "w");
  const info = await platformWith(
    data,
    createLogger({ level: "info", base: { region: "local" }, write: (line) => writeSync(devNull, line) }),
    "in-process",
  );
  try {
    target = { url: info.p.url, path: `/stores/${info.storeId}/check`, authorization: info.authorization };
    await fillCache(target, mixed);
    await measure("warm mixed, audit events + access log (defaults)", target, mixed, "cycle");
  } finally {
    await info.p.close();
    closeSync(devNull);
  }

  // 3. The floor: a bare node:http server, the same requests and generator.
  const floor = await floorServer();
  try {
    await measure(
      "floor: bare node:http JSON server",
      { url: floor.url, path: "/check", authorization: "Bearer x" },
      mixed.map((x) => ({ c: x.c, allowed: true })),
      "cycle",
    );
  } finally {
    await floor.close();
  }

  out(
    `\n  ${"over HTTP".padEnd(44)} ${"checks/s".padStart(9)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"srv µs".padStart(7)} ${"core".padStart(5)} ${"errors".padStart(6)}  cache`,
  );
  for (const { label, r, phase } of rows) {
    const cache = Object.entries(phase.headerCounts)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ");
    const cpu = phase.cpuMs;
    out(
      `  ${label.padEnd(44)} ${fmt(r.ok / r.seconds).padStart(9)} ${fmt(r.p50, 2).padStart(7)} ${fmt(r.p99, 2).padStart(7)} ${fmt(cpu === undefined ? Number.NaN : (cpu * 1000) / r.ok, 1).padStart(7)} ${(cpu === undefined ? "–" : `${fmt((100 * cpu) / 1000 / r.seconds)}%`).padStart(5)} ${String(r.errors + phase.wrong).padStart(6)}  ${cache}${phase.exhausted ? ` (all ${fmt(r.ok)} sent in ${fmt(r.seconds, 1)} s)` : ""}`,
    );
  }
  out(
    "  srv µs: CPU time of the server's thread per check; core: its share of one core over the window " +
      `(load average now ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")})`,
  );

  // 4. In process, one caller: our engine (no result cache) and casbin.
  const inProcess: { label: string; perSecond: number; p50: number; p99: number }[] = [];
  const maxMs = quick ? 1000 : 3000;
  for (const [label, list] of [
    ["allowed", pool.allowed],
    ["denied", pool.denied],
  ] as const) {
    const t = await timeAsyncCalls(list.length, (i) => check(list[i]!), maxMs);
    inProcess.push({ label: `portcullis engine, no result cache, ${label}`, ...t });
  }
  const tc = performance.now();
  const casbin: CasbinBench = await casbinFromTuples(data.tuples);
  const buildSeconds = (performance.now() - tc) / 1000;
  let disagree = 0;
  const all = [
    ...pool.allowed.map((c) => [c, true] as const),
    ...pool.denied.map((c) => [c, false] as const),
  ];
  for (const [c, expected] of all) if (casbin.check(c) !== expected) disagree++;
  const casbinCold = (label: string, list: readonly CheckKey[]) => {
    // Fresh enforcer state is not needed (casbin has no result cache); "cold" = checks not asked before.
    const fresh = list.slice(warmN);
    return {
      label: `casbin, ${label}, first ask`,
      ...timeCalls(fresh.length, (i) => casbin.check(fresh[i]!), maxMs),
    };
  };
  inProcess.push(casbinCold("allowed", pool.allowed), casbinCold("denied", pool.denied));
  const mixedKeys = mixed.map((x) => x.c);
  for (const c of mixedKeys) casbin.check(c); // one untimed pass: the same checks again, as for our warm rows
  const casbinWarm = {
    label: "casbin, warm mixed 50/50",
    ...timeCalls(1_000_000, (i) => casbin.check(mixedKeys[i % mixedKeys.length]!), maxMs),
  };
  inProcess.push(casbinWarm);
  out(
    `\n  in process, one caller (casbin ${casbin.version}, enforceSync; ${fmt(casbin.rules)} g rules + ${casbin.pRules} p rules built in ${fmt(buildSeconds, 1)} s; ` +
      `${disagree === 0 ? "agrees with our engine on all" : `DISAGREES with our engine on ${fmt(disagree)} of`} ${fmt(all.length)} checks)`,
  );
  out(`  ${"".padEnd(44)} ${"checks/s".padStart(9)} ${"p50 µs".padStart(7)} ${"p99 µs".padStart(7)}`);
  for (const x of inProcess) {
    out(
      `  ${x.label.padEnd(44)} ${fmt(x.perSecond).padStart(9)} ${fmt(x.p50 * 1000, 1).padStart(7)} ${fmt(x.p99 * 1000, 1).padStart(7)}`,
    );
  }

  const warmMixed = rows.find((x) => x.label === "warm mixed 50/50")!;
  const floorRow = rows.find((x) => x.label.startsWith("floor"))!;
  const httpRate = warmMixed.r.ok / warmMixed.r.seconds;
  const httpCpu =
    warmMixed.phase.cpuMs === undefined ? Number.NaN : (warmMixed.phase.cpuMs * 1000) / warmMixed.r.ok;
  const floorCpu =
    floorRow.phase.cpuMs === undefined ? Number.NaN : (floorRow.phase.cpuMs * 1000) / floorRow.r.ok;
  out(
    `\n  casbin in process / portcullis over HTTP (warm, mixed): ${fmt(casbinWarm.perSecond / httpRate, 2)}x checks/s; ` +
      `per check ${fmt(1e6 / casbinWarm.perSecond, 1)} µs (casbin, one core) vs ${fmt(httpCpu, 1)} µs of server CPU (portcullis, HTTP included)`,
  );
  out(
    `  portcullis over HTTP: ${fmt((100 * httpRate) / (floorRow.r.ok / floorRow.r.seconds))} % of the bare node:http floor's checks/s; ` +
      `server CPU per check ${fmt(httpCpu, 1)} µs vs the floor's ${fmt(floorCpu, 1)} µs`,
  );
  const met = httpRate >= 10_000 && warmMixed.r.p99 < 10;
  out(
    `  target (warm, memory store, ${concurrency} clients): >= 10,000 checks/s and p99 < 10 ms: ${met ? "met" : "NOT met"} ` +
      `(${fmt(httpRate)} checks/s, p99 ${fmt(warmMixed.r.p99, 2)} ms)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  run({ argv: process.argv.slice(2) }).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
