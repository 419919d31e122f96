/**
 * Authorization engine benchmark (memory store, one core).
 *
 * Model: GitHub-like — organizations (owner/member), nested teams (`team#member` usersets), repos
 * with role hierarchy reader ⊂ triager ⊂ writer ⊂ maintainer ⊂ admin, org-level base roles through
 * `repo_* from owner`. Data: ~100k tuples. Measures warm Check throughput and latency, allowed and
 * denied separately, then ListObjects for a user who reaches 1,000 repos.
 *
 *   npx tsx bench/authz-check.ts [--seconds 2] [--batched]
 *
 * `--batched` forces the engine's batched async read path (what a networked store uses) instead of
 * the memory store's synchronous reads.
 */
import { MemoryAuthzStore } from "../src/authz/adapters/memory.ts";
import { createAuthzService } from "../src/authz/index.ts";
import type { TupleKey } from "../src/authz/model.ts";
import { isSyncTupleReader } from "../src/authz/ports.ts";

const MODEL = `model
  schema 1.1
type user
type organization
  relations
    define owner: [user]
    define member: [user] or owner
    define repo_admin: [user, organization#member]
    define repo_writer: [user, organization#member]
    define repo_reader: [user, organization#member]
type team
  relations
    define maintainer: [user]
    define member: [user, team#member] or maintainer
type repo
  relations
    define owner: [organization]
    define admin: [user, team#member] or repo_admin from owner
    define maintainer: [user, team#member] or admin
    define writer: [user, team#member] or maintainer or repo_writer from owner
    define triager: [user, team#member] or writer
    define reader: [user, team#member] or triager or repo_reader from owner
`;

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf("--seconds") + 1]) || 2;
const batched = args.includes("--batched");

// Deterministic PRNG (mulberry32).
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (n: number) => Math.floor(rand() * n);

const ORGS = 10;
const USERS = 5000;
const TEAMS = 500;
const REPOS = 10000;
const ROLES = ["reader", "triager", "writer", "maintainer", "admin"] as const;

const tuples: TupleKey[] = [];
for (let o = 0; o < ORGS; o++) {
  tuples.push({ object: `organization:o${o}`, relation: "owner", user: `user:u${o}` });
  tuples.push({ object: `organization:o${o}`, relation: "repo_reader", user: `organization:o${o}#member` });
}
for (let u = 0; u < USERS; u++) {
  tuples.push({ object: `organization:o${u % ORGS}`, relation: "member", user: `user:u${u}` });
}
for (let t = 0; t < TEAMS; t++) {
  for (let i = 0; i < 12; i++)
    tuples.push({ object: `team:t${t}`, relation: "member", user: `user:u${pick(USERS)}` });
  tuples.push({ object: `team:t${t}`, relation: "maintainer", user: `user:u${pick(USERS)}` });
  // Nested teams: about a third of the teams are inside a parent team (depth up to ~4).
  if (t >= 10 && t % 3 === 0)
    tuples.push({ object: `team:t${pick(t)}`, relation: "member", user: `team:t${t}#member` });
}
for (let r = 0; r < REPOS; r++) {
  const org = r % ORGS;
  tuples.push({ object: `repo:r${r}`, relation: "owner", user: `organization:o${org}` });
  for (let i = 0; i < 6; i++) {
    tuples.push({ object: `repo:r${r}`, relation: ROLES[pick(ROLES.length)]!, user: `user:u${pick(USERS)}` });
  }
  for (let i = 0; i < 2; i++) {
    tuples.push({
      object: `repo:r${r}`,
      relation: ROLES[pick(ROLES.length)]!,
      user: `team:t${pick(TEAMS)}#member`,
    });
  }
}
// The list-objects subject: one user in one team that reads exactly 1,000 repos (no other access).
const LO_USER = "user:lister";
tuples.push({ object: "team:lister-team", relation: "member", user: LO_USER });
for (let r = 0; r < 1000; r++) {
  tuples.push({ object: `repo:lo${r}`, relation: "reader", user: "team:lister-team#member" });
}

const store = new MemoryAuthzStore();
const service = createAuthzService({ store, options: { forceBatchedReads: batched } });
// The same engine without the per-container check cache: every check resolves the graph.
const engine = createAuthzService({ store, options: { forceBatchedReads: batched, checkCacheSize: 0 } });
const { id: storeId } = await service.createStore({ tenantId: "bench", name: "bench" });
const { authorizationModelId } = await service.writeAuthorizationModelDsl(storeId, MODEL);
const unique = new Map(tuples.map((t) => [`${t.object}#${t.relation}@${t.user}`, t]));
const all = [...unique.values()];
for (let i = 0; i < all.length; i += 100) {
  await service.write({ storeId, authorizationModelId, writes: { tupleKeys: all.slice(i, i + 100) } });
}

type Req = { user: string; relation: string; object: string };
const sample: Req[] = [];
for (let i = 0; i < 20000; i++) {
  sample.push({
    user: `user:u${pick(USERS)}`,
    relation: ROLES[pick(ROLES.length)]!,
    object: `repo:r${pick(REPOS)}`,
  });
}
const allowed: Req[] = [];
const denied: Req[] = [];
for (const tupleKey of sample) {
  const r = await service.check({ storeId, authorizationModelId, tupleKey });
  (r.allowed ? allowed : denied).push(tupleKey);
}

type Service = typeof service;

async function measure(label: string, reqs: Req[], svc: Service) {
  const call = (tupleKey: Req) => svc.check({ storeId, authorizationModelId, tupleKey });
  for (let k = 0; k < 3; k++) for (const r of reqs) await call(r); // warm-up: JIT, model and check caches
  const lat = new Float64Array(2_000_000);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && n < lat.length) {
    for (let i = 0; i < reqs.length && n < lat.length; i++) {
      const s = performance.now();
      await call(reqs[i]!);
      lat[n++] = performance.now() - s;
    }
  }
  // Throughput without per-call timers, per CPU second (robust when the machine is shared).
  const c0 = process.cpuUsage();
  const t1 = performance.now();
  let m = 0;
  while (performance.now() - t1 < seconds * 500) {
    for (let i = 0; i < reqs.length; i++) await call(reqs[i]!);
    m += reqs.length;
  }
  const cpu = process.cpuUsage(c0);
  const tput = m / ((cpu.user + cpu.system) / 1e6);
  const wall = m / ((performance.now() - t1) / 1000);
  const sorted = lat.slice(0, n).sort();
  const q = (p: number) => (sorted[Math.min(n - 1, Math.floor(p * n))]! * 1000).toFixed(1);
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `  check ${label.padEnd(7)} (${reqs.length} distinct): ${fmt(tput)} checks per CPU-second (${fmt(wall)}/s wall), ` +
      `p50 ${q(0.5)} µs, p99 ${q(0.99)} µs, p99.9 ${q(0.999)} µs`,
  );
}

console.log(
  `authz bench: ${all.length.toLocaleString("en-US")} tuples, memory store (${
    batched || !isSyncTupleReader(store) ? "batched async reads" : "sync reads"
  }), node ${process.version}`,
);
console.log("engine only (check cache off):");
await measure("allowed", allowed, engine);
await measure("denied", denied, engine);
console.log("default service (per-container check cache, keyed by store revision):");
await measure("allowed", allowed, service);
await measure("denied", denied, service);

const lo: number[] = [];
let count = 0;
for (let i = 0; i < 60; i++) {
  const s = performance.now();
  const r = await service.listObjects({
    storeId,
    authorizationModelId,
    type: "repo",
    relation: "reader",
    user: LO_USER,
  });
  if (i >= 10) lo.push(performance.now() - s);
  count = r.objects.length;
}
lo.sort((a, b) => a - b);
console.log(
  `list-objects repo#reader for a user reaching ${count} repos: p50 ${lo[Math.floor(lo.length / 2)]!.toFixed(2)} ms, ` +
    `p99 ${lo[Math.floor(lo.length * 0.99)]!.toFixed(2)} ms`,
);
const mem = process.memoryUsage();
console.log(
  `heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB`,
);
