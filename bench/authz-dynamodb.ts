/**
 * The DynamoDB Local part of the authorization benchmark: the same model and tuples as the memory
 * part, in fresh tables (unique prefix, deleted at the end), read through a counting proxy so every
 * check reports its store ROUND TRIPS (waves of concurrent batch calls: the engine's sequential
 * waits), its port batch calls per method, and the DynamoDB requests behind them. A reference walk
 * over the model and the raw tuples (independent of the engine's batching) gives each check's number
 * of resolution levels: the length of the longest chain of objects whose reads depend on each other
 * (a check on repo:deep needs repo → team:deep1 → team:deep2 → team:deep3: 4 levels).
 *
 * Loading: 100k tuples through the service's Write API in batches of 100 (the API maximum, one
 * TransactWriteItems each), 8 batches in flight.
 *
 * The engine's cross-request caches need the store head revision synchronously, which DynamoDB cannot
 * give for free, so on DynamoDB every check reads the store: "cold" is the first time a request is
 * checked (DynamoDB Local's own caches cold for those items), "warm" the same requests again.
 * Throughput is per wall-second and per CPU-second of THIS process (DynamoDB Local's Java process
 * runs on the same 2 vCPUs and is not counted).
 */
import { randomBytes } from "node:crypto";
import { DynamoDbAuthzStore } from "../src/authz/adapters/dynamodb.ts";
import { parseDsl } from "../src/authz/dsl.ts";
import { type AuthzService, createAuthzService } from "../src/authz/index.ts";
import type { AuthzStore } from "../src/authz/ports.ts";
import { parseUser } from "../src/authz/tuples.ts";
import {
  N_COMPUTED,
  N_EXCLUSION,
  N_INTERSECTION,
  N_THIS,
  N_TTU,
  N_UNION,
  type RelationDef,
  type RewriteNode,
  TypeSystem,
} from "../src/authz/typesystem.ts";
import { validateModel } from "../src/authz/validate-model.ts";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.ts";
import { createDynamoDbClient, createTables, deleteTables } from "../src/shared/dynamodb.ts";
import { tableNames } from "../src/shared/tables.ts";
import { type BenchData, type CheckKey, DEEP_REPO, DEEP_USER, LIST_USER, MODEL } from "./authz-data.ts";
import { fmtInt, msPercentiles } from "./authz-measure.ts";

const READS = ["getTuples", "readUsersetTuples", "readTuples", "readByUsers"] as const;
type ReadMethod = (typeof READS)[number];

/** What the store saw during one measured call. */
interface Trace {
  /** Per wave: the batch calls in it (method and number of lookups). */
  waves: { method: ReadMethod; size: number }[][];
}

/** The store behind a proxy that records every TupleReader batch call and groups them in waves. */
function countingStore(inner: AuthzStore) {
  let inflight = 0;
  let trace: Trace = { waves: [] };
  const wrap =
    (method: ReadMethod, fn: (storeId: string, q: readonly unknown[]) => Promise<unknown>) =>
    async (storeId: string, q: readonly unknown[]) => {
      if (inflight++ === 0) trace.waves.push([]);
      trace.waves.at(-1)!.push({ method, size: q.length });
      try {
        return await fn(storeId, q);
      } finally {
        inflight--;
      }
    };
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      return (READS as readonly (string | symbol)[]).includes(prop)
        ? wrap(prop as ReadMethod, bound as never)
        : bound;
    },
  });
  return {
    store,
    /** Starts a new trace and returns it. */
    begin(): Trace {
      trace = { waves: [] };
      return trace;
    },
  };
}

/**
 * Reference count of resolution levels of a check, from the model and the raw tuples: the longest
 * chain of objects whose reads depend on one another, following every branch (no short-circuit) and
 * pruning like the engine (relations that cannot hold the user's kind are not visited).
 */
function levelCounter(ts: TypeSystem, data: BenchData) {
  const users = new Map<string, string[]>();
  for (const t of data.tuples) {
    const k = `${t.object}#${t.relation}`;
    const l = users.get(k);
    if (l) l.push(t.user);
    else users.set(k, [t.user]);
  }
  return (c: CheckKey): number => {
    const kind = ts.kindOf(parseUser(c.user)!.reachKey);
    const memo = new Map<string, number>();
    const level = (object: string, def: RelationDef): number => {
      if (def.reachable[kind] !== 1) return 0;
      const key = `${object}#${def.name}`;
      const m = memo.get(key);
      if (m !== undefined) return m;
      memo.set(key, 0); // on the path: a cycle adds nothing
      const r = node(object, def, def.rewrite);
      memo.set(key, r);
      return r;
    };
    const node = (object: string, def: RelationDef, n: RewriteNode): number => {
      switch (n.kind) {
        case N_THIS: {
          let l = 1;
          for (const u of users.get(`${object}#${def.name}`) ?? []) {
            const hash = u.indexOf("#");
            if (hash < 0) continue;
            const hop = def.usersetHops.get(`${u.slice(0, u.indexOf(":"))}#${u.slice(hash + 1)}`);
            if (hop) l = Math.max(l, 1 + level(u.slice(0, hash), hop.target));
          }
          return l;
        }
        case N_COMPUTED:
          return level(object, n.target);
        case N_TTU: {
          let l = 1;
          for (const u of users.get(`${object}#${n.tupleset}`) ?? []) {
            const hop = n.hops.get(u.slice(0, u.indexOf(":")));
            if (hop && !u.includes("#")) l = Math.max(l, 1 + level(u, hop.target));
          }
          return l;
        }
        case N_UNION:
        case N_INTERSECTION:
          return Math.max(...n.children.map((x) => node(object, def, x)));
        case N_EXCLUSION:
          return Math.max(node(object, def, n.base), node(object, def, n.subtract));
      }
    };
    return level(c.object, ts.relation(c.object.slice(0, c.object.indexOf(":")), c.relation)!);
  };
}

const waveText = (t: Trace) =>
  t.waves.map((w, i) => `${i + 1}: ${w.map((c) => `${c.method}×${c.size}`).join(" + ")}`).join(" | ");

interface CheckStats {
  latency: number[];
  waves: number[];
  calls: number[];
  requests: number[];
  overLevels: number;
  levels: number[];
}

export interface DynamoDbBenchOptions {
  readonly quick: boolean;
  /** Requests to measure, allowed and denied (classified on the memory store, never checked here yet). */
  readonly allowed: readonly CheckKey[];
  readonly denied: readonly CheckKey[];
}

export async function dynamoDbBench(data: BenchData, options: DynamoDbBenchOptions): Promise<void> {
  const t0 = performance.now();
  const ddb = await startDynamoDbLocal();
  const client = createDynamoDbClient({ endpoint: ddb.endpoint });
  const requests = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.set(context.commandName ?? "?", (requests.get(context.commandName ?? "?") ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "benchRequestCounter" },
  );
  const totalRequests = () => [...requests.values()].reduce((a, b) => a + b, 0);
  const names = tableNames(`bench-${randomBytes(4).toString("hex")}`);
  try {
    await createTables(client, names);
    console.log(
      `\nDynamoDB Local (${ddb.endpoint}) started, tables created in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const raw = new DynamoDbAuthzStore(client, names.authz);
    const counted = countingStore(raw);
    const loader = createAuthzService({ store: raw });
    const service: AuthzService = createAuthzService({ store: counted.store });
    const { id: storeId } = await loader.createStore({ tenantId: "bench", name: "bench" });
    const { authorizationModelId } = await loader.writeAuthorizationModelDsl(storeId, MODEL);
    const ids = { storeId, authorizationModelId };

    // Load: Write API, batches of 100, 8 in flight.
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next;
        next += 100;
        if (i >= data.tuples.length) return;
        await loader.write({ ...ids, writes: { tupleKeys: data.tuples.slice(i, i + 100) } });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const loadS = (performance.now() - t1) / 1000;
    const loadCpu = process.cpuUsage(c1);
    console.log(
      `loaded ${data.tuples.length.toLocaleString("en-US")} tuples through Write (batches of 100, 8 in flight) in ${loadS.toFixed(1)} s ` +
        `(${fmtInt(data.tuples.length / loadS)} tuples/s; node CPU ${((loadCpu.user + loadCpu.system) / 1e6).toFixed(1)} s)`,
    );

    const validated = validateModel(await parseDsl(MODEL));
    const ts = new TypeSystem({ id: "reference", ...validated.model }, validated.conditions);
    const levels = levelCounter(ts, data);

    await service.check({ ...ids, tupleKey: { object: "repo:warmup", relation: "reader", user: "user:u0" } });
    const newStats = (): CheckStats => ({
      latency: [],
      waves: [],
      calls: [],
      requests: [],
      overLevels: 0,
      levels: [],
    });
    const measure = async (c: CheckKey, into: CheckStats) => {
      const trace = counted.begin();
      const r0 = totalRequests();
      const s = performance.now();
      const r = await service.check({ ...ids, tupleKey: c });
      const ms = performance.now() - s;
      const lv = levels(c);
      into.latency.push(ms);
      into.waves.push(trace.waves.length);
      into.calls.push(trace.waves.reduce((a, w) => a + w.length, 0));
      into.requests.push(totalRequests() - r0);
      into.levels.push(lv);
      if (trace.waves.length > lv) into.overLevels++;
      return { allowed: r.allowed, trace, ms, levels: lv };
    };
    const { allowed, denied } = options;
    const cold = { allowed: newStats(), denied: newStats() };
    const cpuCold = process.cpuUsage();
    const tCold = performance.now();
    for (const c of allowed) await measure(c, cold.allowed);
    for (const c of denied) await measure(c, cold.denied);
    const coldN = allowed.length + denied.length;
    const coldWall = (performance.now() - tCold) / 1000;
    const coldCpu = process.cpuUsage(cpuCold);
    const summary = (label: string, st: CheckStats) => {
      const q = msPercentiles(st.latency);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      return (
        `  ${label.padEnd(7)} p50 ${q.p50.toFixed(2)} ms  p99 ${q.p99.toFixed(2)} ms  (${fmtInt(1000 / mean(st.latency))} checks/s one at a time; n=${st.latency.length})` +
        `  round trips/check: mean ${mean(st.waves).toFixed(2)}, max ${Math.max(...st.waves)}; levels: mean ${mean(st.levels).toFixed(2)}, max ${Math.max(...st.levels)}` +
        `; checks with more round trips than levels: ${st.overLevels}; batch calls/check ${mean(st.calls).toFixed(2)}` +
        (st.requests.length ? `; DynamoDB requests/check ${mean(st.requests).toFixed(2)}` : "")
      );
    };
    console.log(
      `cold checks (first touch, one at a time; ${coldN} checks in ${coldWall.toFixed(1)} s wall, ` +
        `${fmtInt(coldN / ((coldCpu.user + coldCpu.system) / 1e6))} per node CPU-second):`,
    );
    console.log(summary("allowed", cold.allowed));
    console.log(summary("denied", cold.denied));

    // The nested-team chain: 4 levels (repo, team:deep1, team:deep2, team:deep3), allowed and denied.
    console.log("round trips per resolution level, cold, on the depth-3 nested-team chain:");
    for (const c of [
      { object: DEEP_REPO, relation: "reader", user: DEEP_USER },
      { object: DEEP_REPO, relation: "reader", user: "user:nobody" },
    ]) {
      const r = await measure(c, newStats());
      console.log(
        `  ${c.object}#${c.relation}@${c.user}: ${r.allowed ? "allowed" : "denied"} in ${r.ms.toFixed(1)} ms, ` +
          `${r.levels} levels, ${r.trace.waves.length} round trips (${(r.trace.waves.length / r.levels).toFixed(2)} per level): ${waveText(r.trace)}`,
      );
    }

    const warm = { allowed: newStats(), denied: newStats() };
    for (const c of allowed) await measure(c, warm.allowed);
    for (const c of denied) await measure(c, warm.denied);
    console.log("warm checks (the same requests again; the engine has no cross-request cache on DynamoDB):");
    console.log(summary("allowed", warm.allowed));
    console.log(summary("denied", warm.denied));

    // Throughput with concurrency (the engine does not care; DynamoDB Local is the bottleneck).
    for (const [label, reqs] of [
      ["allowed", allowed],
      ["denied", denied],
    ] as const) {
      const inFlight = 16;
      const c0 = process.cpuUsage();
      const s = performance.now();
      let i = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (i < reqs.length * 2) await service.check({ ...ids, tupleKey: reqs[i++ % reqs.length]! });
        }),
      );
      const wall = (performance.now() - s) / 1000;
      const cpu = process.cpuUsage(c0);
      console.log(
        `  ${label.padEnd(7)} ${inFlight} checks in flight: ${fmtInt((reqs.length * 2) / wall)} checks/s wall, ` +
          `${fmtInt((reqs.length * 2) / ((cpu.user + cpu.system) / 1e6))} per node CPU-second`,
      );
    }

    const lo: number[] = [];
    let count = 0;
    let loWaves = 0;
    for (let k = 0; k < (options.quick ? 4 : 12); k++) {
      const trace = counted.begin();
      const s = performance.now();
      const r = await service.listObjects({ ...ids, type: "repo", relation: "reader", user: LIST_USER });
      if (k >= 2) lo.push(performance.now() - s);
      count = r.objects.length;
      loWaves = trace.waves.length;
    }
    const q = msPercentiles(lo);
    console.log(
      `list-objects repo#reader for ${LIST_USER} (${count} reachable repos): p50 ${q.p50.toFixed(1)} ms, ` +
        `p99 ${q.p99.toFixed(1)} ms (${lo.length} calls; ${loWaves} round trips each)`,
    );
  } finally {
    await deleteTables(client, names).catch(() => undefined);
    client.destroy();
    await ddb.stop();
  }
}
