/**
 * Audit overhead on authorization checks, two ways in the same run.
 *
 * 1. Over HTTP (the platform serving checks): local platforms with audit emission off, on as
 *    `npm start` runs it (in-process bus, memory audit store in a worker thread, events built and
 *    delivered once per event-loop turn), the same request by request, and on with the store in the
 *    request thread; access log off in all; the same warm mixed checks from 32 keep-alive
 *    connections (bench/http-load.ts, raw sockets in a worker thread of this process).
 *
 * 2. In process: the `authz` Lambda handler invoked with API Gateway events (the full path: parse,
 *    router, authentication, check, audit, flush middleware), sequential (one environment), with
 *    audit off, the in-process bus with the store in a worker or in the request thread (flushed in
 *    each invocation, as a Lambda function does), and the EventBridge bus (protocol-level
 *    stand-in on 127.0.0.1, one `PutEvents` per invocation) flushed inside the invocation or after
 *    the response by the audit extension (as deployed; Lambda Extensions API stand-in
 *    test/support/lambda-runtime-standin.ts: each invocation is an INVOKE event plus the handler
 *    call, and ends when the extension calls `next`). Reported per mode: invocations completed per
 *    second and the handler latency (time to the response, the figure callers feel). Also the
 *    `log` transport as deployed: each invocation's audit lines written to standard
 *    output (/dev/null in the bench), forwarded to EventBridge outside the function in AWS.
 *
 * 3. Per Lambda invocation: the same handler in function processes driven through the Lambda
 *    Runtime API (stand-in, test/support/lambda-runtime-standin.ts) by a runtime interface client
 *    doing what the Lambda Node.js runtime does, this process playing the Lambda service; audit
 *    off, the `log` transport, EventBridge in the invocation and after the response (extension).
 *    The function processes are built as the function entries build them: log level info (an
 *    access line per invocation) and standard output written once per invocation.
 *
 * Method, both sections: every configuration runs in three processes of its own (a process has a
 * speed of its own: memory layout, JIT decisions; one configuration measured against itself in
 * single processes differed by up to 10 points); rounds alternate between all of them in changing
 * order, and the overhead is the median over rounds of each round's loss against audit off in the
 * same round, so drift on the machine (two vCPUs shared with other jobs) hits every mode alike.
 *
 *   npx tsx bench/audit-overhead.ts [--quick] [--http | --process | --runtime]   (one section only)
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { type AuditExtension, startAuditExtension } from "../functions/_shared/audit-extension.ts";
import { configFromEnv } from "../functions/_shared/config.ts";
import { type Container, createContainer } from "../functions/_shared/container.ts";
import { auditFlushOptions, createHandlers } from "../functions/_shared/handlers.ts";
import type { LambdaHttpHandler } from "../functions/_shared/lambda.ts";
import { startLocalPlatform } from "../functions/_shared/platform.ts";
import { createLogger } from "../src/shared/logger.ts";
import { InvocationOutput } from "../src/shared/stdout.ts";
import { startEventBridgeStandin } from "../test/support/eventbridge-standin.ts";
import { startRuntimeClient } from "../test/support/lambda-runtime-client.ts";
import {
  type LambdaRuntimeStandin,
  startLambdaRuntimeStandin,
} from "../test/support/lambda-runtime-standin.ts";
import { httpLoad, mainThreadCpuMs, processCpuMs } from "./http-load.ts";

const ADMIN = "bench-admin-audit-overhead";
const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "team",
      relations: { member: { this: {} } },
      metadata: { relations: { member: { directly_related_user_types: [{ type: "user" }] } } },
    },
    {
      type: "document",
      relations: { viewer: { this: {} } },
      metadata: {
        relations: {
          viewer: { directly_related_user_types: [{ type: "user" }, { type: "team", relation: "member" }] },
        },
      },
    },
  ],
};

/** Documents viewed by teams (`d % teams`), ten users per team: both sections' data. */
function benchTuples(teams: number, docs: number) {
  const tuples = [];
  for (let d = 0; d < docs; d++)
    tuples.push({ user: `team:t${d % teams}#member`, relation: "viewer", object: `document:d${d}` });
  for (let u = 0; u < teams * 10; u++)
    tuples.push({ user: `user:u${u}`, relation: "member", object: `team:t${u % teams}` });
  return tuples;
}

let seq = 0;
const context = { awsRequestId: "bench", getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
const contextOf = (awsRequestId: string) =>
  ({ awsRequestId, getRemainingTimeInMillis: () => 10_000 }) as unknown as Context;
function event(method: string, path: string, body: unknown, key: string): APIGatewayProxyEventV2 {
  const id = `r${++seq}`;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "user-agent": "bench" },
    requestContext: {
      accountId: "123456789012",
      apiId: "bench",
      domainName: "bench",
      domainPrefix: "bench",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" },
      requestId: id,
      routeKey: "$default",
      stage: "$default",
      time: "",
      timeEpoch: 0,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  } as APIGatewayProxyEventV2;
}

interface Mode {
  readonly name: string;
  readonly c: Container;
  readonly authz: LambdaHttpHandler;
  readonly key: string;
  readonly storeId: string;
  done: number;
  ms: number;
  /** checks/s of each round. */
  readonly rates: number[];
  /** Handler latency (ms to the response) of every measured check. */
  readonly latencies: number[];
  /** The registered audit extension (flush after the response). */
  readonly ext?: AuditExtension;
  /**
   * The Runtime API stand-in this process plays Lambda with (the in-process section, extension
   * mode); absent when the parent does (the Runtime API section).
   */
  readonly rt?: LambdaRuntimeStandin;
}

async function mode(
  name: string,
  env: NodeJS.ProcessEnv,
  teams: number,
  docs: number,
  extension = false,
  runtimeApi?: string,
): Promise<Mode> {
  // Under the Runtime API (section 3) as the function entries build it (functions/_shared/
  // from-env.ts): log level info, an access line per invocation, standard output written once per
  // invocation; in process (section 2) the bare handler, warnings only.
  const deployed = runtimeApi !== undefined;
  const c = createContainer(
    configFromEnv(
      { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_LOG_LEVEL: deployed ? "info" : "warn", ...env },
      { issuer: "http://localhost" },
    ),
    deployed ? { output: new InvocationOutput() } : {},
  );
  const t = await c.tenants.create(name);
  const { key } = await c.tenants.createApiKey(t.id, "bench");
  const h = createHandlers(c);
  const authz = h.authz!;
  const call = async (method: string, path: string, body: unknown) => {
    const r = await authz(event(method, path, body, key), context);
    if (typeof r === "object" && r.statusCode && r.statusCode >= 300)
      throw new Error(`${path}: ${r.statusCode} ${r.body}`);
    return JSON.parse(typeof r === "object" && r.body ? r.body : "{}") as Record<string, string>;
  };
  const { id: storeId } = await call("POST", "/stores", { name: "bench" });
  await call("POST", `/stores/${storeId}/authorization-models`, MODEL);
  const tuples = benchTuples(teams, docs);
  for (let i = 0; i < tuples.length; i += 100)
    await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: tuples.slice(i, i + 100) } });
  await c.audit.emitter.flush();
  if (!extension) return { name, c, authz, key, storeId: storeId!, done: 0, ms: 0, rates: [], latencies: [] };
  // As a function entry does at cold start (lambdaHandlers), against the Extensions API stand-in:
  // the parent's (Runtime API section), else one of this process's own.
  const rt = runtimeApi === undefined ? await startLambdaRuntimeStandin() : undefined;
  const ext = await startAuditExtension({ ...auditFlushOptions(c), runtimeApi: runtimeApi ?? rt!.api });
  if (!ext.active) throw new Error(`audit extension not active: ${ext.state}`);
  await rt?.waitForNext();
  return {
    name,
    c,
    authz: createHandlers(c, { auditExtension: ext }).authz!,
    key,
    storeId: storeId!,
    done: 0,
    ms: 0,
    rates: [],
    latencies: [],
    ext,
    ...(rt ? { rt } : {}),
  };
}

/** The `i`-th check of the in-process and Runtime API sections: mixed allowed and denied. */
const checkBody = (i: number, users: number, docs: number) => ({
  tuple_key: { user: `user:u${(i * 7) % users}`, relation: "viewer", object: `document:d${(i * 13) % docs}` },
});

async function round(m: Mode, ms: number, users: number, docs: number): Promise<void> {
  const end = performance.now() + ms;
  const t0 = performance.now();
  let i = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 50; k++, i++) {
      const body = checkBody(i, users, docs);
      const ev = event("POST", `/stores/${m.storeId}/check`, body, m.key);
      if (m.rt) {
        // One Lambda invocation: the INVOKE event to the extension and the event to the handler;
        // complete when the extension calls next (after its flush).
        const id = ev.requestContext.requestId;
        const complete = m.rt.invoke(id, { deadlineMs: Date.now() + 10_000 });
        const t = performance.now();
        await m.authz(ev, contextOf(id));
        m.latencies.push(performance.now() - t);
        await complete;
      } else {
        const t = performance.now();
        await m.authz(ev, context);
        m.latencies.push(performance.now() - t);
      }
    }
    m.done += 50;
  }
  const took = performance.now() - t0;
  m.ms += took;
  m.rates.push((i / took) * 1000);
}

/** The platform of one over-HTTP mode, served by a child process (`--serve <audit>`). */
interface Served {
  readonly name: HttpMode;
  readonly url: string;
  readonly storeId: string;
  readonly authorization: string;
  readonly pid: number;
  /** The child's audit counters (events emitted and stored). */
  totals(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * The over-HTTP platforms: audit off; on as `npm start` runs it (store in a worker thread, events
 * built and delivered once per event-loop turn); the same with events built and delivered request by
 * request (the Lambda functions' way); on with the store in the request thread.
 */
const HTTP_MODES = {
  off: { PORTCULLIS_AUDIT_BUS: "off" },
  "in-process, store in worker": {
    PORTCULLIS_AUDIT_BUS: "in-process",
    PORTCULLIS_AUDIT_LOCAL_STORE: "worker",
    PORTCULLIS_AUDIT_FLUSH: "end-of-turn",
  },
  "… per request": {
    PORTCULLIS_AUDIT_BUS: "in-process",
    PORTCULLIS_AUDIT_LOCAL_STORE: "worker",
    PORTCULLIS_AUDIT_FLUSH: "in-invocation",
  },
  "in-process, store in thread": {
    PORTCULLIS_AUDIT_BUS: "in-process",
    PORTCULLIS_AUDIT_LOCAL_STORE: "in-thread",
    PORTCULLIS_AUDIT_FLUSH: "end-of-turn",
  },
} as const;
type HttpMode = keyof typeof HTTP_MODES;

/** Sizes of the over-HTTP data (all sides load the same). */
const httpSizes = (quick: boolean) => ({ teams: quick ? 20 : 100, docs: quick ? 200 : 2000 });

/**
 * The child side: a local platform with audit `off` or `in-process`, the bench data loaded through
 * its HTTP API; reports where it listens, answers `totals`, serves until told to close.
 */
async function serve(audit: HttpMode, quick: boolean): Promise<void> {
  const p = await startLocalPlatform({
    env: { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_LOG_LEVEL: "warn", ...HTTP_MODES[audit] },
    port: 0,
    log: createLogger({ level: "warn" }),
  });
  const authorization = `Bearer ${p.demo!.apiKey}`;
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, string>;
  };
  const { id: storeId } = await call("/stores", { name: "bench" });
  await call(`/stores/${storeId}/authorization-models`, MODEL);
  const { teams, docs } = httpSizes(quick);
  const tuples = benchTuples(teams, docs);
  for (let i = 0; i < tuples.length; i += 100)
    await call(`/stores/${storeId}/write`, { writes: { tuple_keys: tuples.slice(i, i + 100) } });
  process.on("message", (m: { totals?: true; close?: true }) => {
    if (m.totals) process.send!({ totals: p.container.audit.metrics.totals });
    if (m.close) void p.close().finally(() => process.exit(0));
  });
  process.send!({ ready: { url: p.url, storeId, authorization } });
}

/** Starts a platform in a child process (this module with `--serve`, the same loader flags). */
async function spawnPlatform(name: Served["name"], quick: boolean): Promise<Served> {
  const p = await forkSelf(["--serve", name, ...(quick ? ["--quick"] : [])]);
  const { ready } = p.first as { ready: Pick<Served, "url" | "storeId" | "authorization"> };
  return {
    name,
    ...ready,
    pid: p.child.pid!,
    totals: async () => (await p.ask<{ totals: Record<string, number> }>({ totals: true })).totals,
    close: p.close,
  };
}

/**
 * Section 1: check throughput over HTTP with audit emission off and on, alternating rounds. Each
 * platform runs in its own process, so neither pays for the other's heap (the audit-on platform
 * keeps up to 100,000 events per tenant in memory) and the server CPU is the whole process's
 * (GC threads included).
 */
async function overHttp(quick: boolean): Promise<void> {
  const { teams, docs } = httpSizes(quick);
  const rounds = quick ? 2 : 5;
  const seconds = quick ? 1 : 2;
  const forks = quick ? 1 : 3;
  const names = Object.keys(HTTP_MODES) as HttpMode[];
  // Each mode served by `forks` processes: a process has a speed of its own (memory layout, JIT
  // decisions), which alone moved one configuration against itself by ±5 % in one run.
  const units: Served[][] = [];
  for (const name of names) {
    const same: Served[] = [];
    for (let f = 0; f < forks; f++) same.push(await spawnPlatform(name, quick));
    units.push(same);
  }
  const all = units.flat();
  // 2,000 distinct checks, half allowed (user u of team t, document d viewed by team t).
  const bodies: string[] = [];
  const expect = new Uint8Array(2000);
  for (let i = 0; i < 2000; i++) {
    const d = i % docs;
    const allowed = i % 2 === 0;
    const team = d % teams;
    const u = allowed ? team + teams * (i % 10) : ((team + 1) % teams) + teams * (i % 10);
    bodies.push(
      JSON.stringify({ tuple_key: { user: `user:u${u}`, relation: "viewer", object: `document:d${d}` } }),
    );
    expect[i] = allowed ? 0 : 1;
  }
  try {
    const load = (m: Served, secs: number, warmup: number) =>
      httpLoad({
        url: m.url,
        method: "POST",
        path: `/stores/${m.storeId}/check`,
        headers: { authorization: m.authorization, "content-type": "application/json" },
        bodies,
        expect,
        expectTexts: ['"allowed":true', '"allowed":false'],
        order: "cycle",
        concurrency: 32,
        seconds: secs,
        warmup,
        serverCpuMs: () => processCpuMs(m.pid),
        serverThreadCpuMs: () => mainThreadCpuMs(m.pid),
      });
    for (const m of all) await load(m, 1, 0.5); // fills the check caches
    const samples = await alternate(units, rounds, async (m) => {
      const phase = await load(m, seconds, 0.5);
      if (phase.errors + phase.wrong > 0)
        throw new Error(`${m.name}: ${phase.errors + phase.wrong} bad answers`);
      return {
        rate: phase.ok / phase.seconds,
        cpu: ((phase.cpuMs ?? Number.NaN) * 1000) / phase.ok,
        main: ((phase.threadCpuMs ?? Number.NaN) * 1000) / phase.ok,
      };
    });
    process.stdout.write(
      `checks over HTTP, local platforms in their own processes (${forks} per configuration), 32 connections, warm mixed 50/50 (2,000 distinct checks); ${rounds} rounds x ${seconds} s per process, alternating\n` +
        "  overhead: median of each round's loss against audit off in the same round (range in brackets); server CPU: the whole process's, and its main (request) thread's\n",
    );
    const off = samples[0]!;
    for (let i = 0; i < units.length; i++) {
      const s = samples[i]!;
      const pick = (k: "rate" | "cpu" | "main") => s.map((x) => x[k]);
      const first = i === 0;
      let emitted = 0;
      let stored = 0;
      for (const m of units[i]!) {
        const t = await m.totals();
        emitted += t.AuditEventsEmitted ?? 0;
        stored += t.AuditEventsDelivered ?? 0;
      }
      process.stdout.write(
        `  audit ${names[i]!.padEnd(28)} ${median(pick("rate")).toFixed(0).padStart(7)} checks/s  overhead ${first ? "   –  " : lossColumn(versusOff(off, s, "rate", true))}  server CPU/check ${median(pick("cpu")).toFixed(1)} µs${first ? "" : ` (+${pct(versusOff(off, s, "cpu").median)})`}, main thread ${median(pick("main")).toFixed(1)} µs${first ? "" : ` (+${pct(versusOff(off, s, "main").median)})`}  (events emitted ${emitted}, stored ${stored})\n`,
      );
    }
  } finally {
    for (const m of all) await m.close();
  }
}

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
/**
 * Measures every process (`units[mode][fork]`) `rounds` times, all modes within a round and fork
 * in alternating order so drift on the machine hits every mode alike; `samples[mode][round * forks
 * + fork]`.
 */
async function alternate<U, S>(units: U[][], rounds: number, measure: (u: U) => Promise<S>): Promise<S[][]> {
  const forks = units[0]?.length ?? 0;
  const samples: S[][] = units.map(() => []);
  for (let r = 0; r < rounds; r++)
    for (let f = 0; f < forks; f++) {
      const order = units.map((_, i) => i);
      if ((r * forks + f) % 2 === 1) order.reverse();
      for (const i of order) samples[i]![r * forks + f] = await measure(units[i]![f]!);
    }
  return samples;
}

/**
 * Each round's change of `key` from audit off (`off`) to a mode (`on`), relative to off, as a loss
 * (`loss`: off − on, for throughput) or a growth (on − off, for CPU); summarised.
 */
function versusOff<S>(
  off: readonly S[],
  on: readonly S[],
  key: { [K in keyof S]: S[K] extends number ? K : never }[keyof S],
  loss = false,
) {
  const xs = on.map((v, i) => {
    const a = off[i]![key] as number;
    const b = v[key] as number;
    return (loss ? a - b : b - a) / a;
  });
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** The overhead column: the median loss of throughput, its range in brackets. */
const lossColumn = (c: ReturnType<typeof versusOff>) => `${pct(c.median)} [${pct(c.min)} – ${pct(c.max)}]`;

/** Both sections, or one (`section`: `http`, `process`). */
export async function run(
  options: { quick?: boolean; section?: "http" | "process" | "runtime" } = {},
): Promise<void> {
  const all = options.section === undefined;
  if (all || options.section === "http") await overHttp(options.quick ?? false);
  if (all || options.section === "process") await inProcess(options);
  if (all || options.section === "runtime") await overRuntimeApi(options);
}

/**
 * The in-process modes: audit off, the in-process bus with the memory store in a worker or in the
 * request thread, flushed in each invocation as a Lambda function does (a frozen environment runs
 * nothing between invocations: no batching by turn), and EventBridge flushed in / after the
 * invocation.
 */
/** The `log` transport mode (as deployed). */
const LOG_MODE = "log lines (as deployed)";
const LAMBDA_MODES = {
  off: HTTP_MODES.off,
  "in-process, store in worker": HTTP_MODES["… per request"],
  "in-process, store in thread": {
    ...HTTP_MODES["in-process, store in thread"],
    PORTCULLIS_AUDIT_FLUSH: "in-invocation",
  },
} as const;
const inProcessModes = (eventBridgeUrl: string) =>
  [
    ...Object.entries(LAMBDA_MODES).map(([name, env]) => ({ name, env, extension: false })),
    // As deployed (the CDK app's default transport): each invocation's audit lines are written to
    // standard output, which a forked bench process has on /dev/null (no EMF line: nothing fails).
    { name: LOG_MODE, env: { PORTCULLIS_AUDIT_BUS: "log" }, extension: false },
    ...(["in-invocation", "after-response"] as const).map((flush) => ({
      name: `eventbridge, flush ${flush === "in-invocation" ? "in invocation" : "after response (extension)"}`,
      env: {
        PORTCULLIS_AUDIT_BUS: "eventbridge",
        PORTCULLIS_EVENTBRIDGE_ENDPOINT: eventBridgeUrl,
        PORTCULLIS_AUDIT_EMF: "false",
        PORTCULLIS_AUDIT_FLUSH: flush,
      },
      extension: flush === "after-response",
    })),
  ] as const;

/** What a mode's process answers at the end. */
interface ModeReport {
  readonly p50: number;
  readonly p99: number;
  readonly totals: Record<string, number>;
  readonly extension?: string;
}

/** Sizes of the in-process data. */
const inProcessSizes = (quick: boolean) => ({ teams: quick ? 20 : 100, docs: quick ? 200 : 2000 });

/**
 * The child side of one in-process mode: builds it, warms it, then runs a round of `ms` per
 * `round` message (answering checks/s and CPU µs per invocation), a `report`, and `close`.
 */
async function runMode(
  index: number,
  eventBridgeUrl: string,
  quick: boolean,
  runtimeApi: string | undefined,
): Promise<void> {
  const spec = inProcessModes(eventBridgeUrl)[index]!;
  const { teams, docs } = inProcessSizes(quick);
  const m = await mode(spec.name, spec.env, teams, docs, spec.extension, runtimeApi);
  // The Runtime API section: the parent plays Lambda; this process runs the handler as the
  // Lambda Node.js runtime does (test/support/lambda-runtime-client.ts).
  const client =
    runtimeApi === undefined ? undefined : startRuntimeClient({ api: runtimeApi, handler: m.authz });
  if (!client) {
    await round(m, 200, teams * 10, docs); // warm-up
    m.latencies.length = 0;
  }
  process.on("message", (msg: { round?: number; cpu?: true; report?: true; close?: true }) => {
    void (async () => {
      if (msg.cpu) {
        const cpu = process.cpuUsage();
        process.send!({ cpuUs: cpu.user + cpu.system });
      } else if (msg.round !== undefined) {
        const cpu0 = process.cpuUsage();
        const done0 = m.done;
        await round(m, msg.round, teams * 10, docs);
        const cpu = process.cpuUsage(cpu0);
        process.send!({ rate: m.rates.at(-1), cpuUs: (cpu.user + cpu.system) / (m.done - done0) });
      } else if (msg.report) {
        const pct = (p: number) => {
          const sorted = [...m.latencies].sort((x, y) => x - y);
          return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
        };
        const s = m.ext?.stats;
        const report: ModeReport = {
          p50: pct(0.5),
          p99: pct(0.99),
          totals: { ...m.c.audit.metrics.totals },
          ...(s
            ? {
                extension: `${s.invocations} INVOKE events, ${s.signalTimeouts} without handler signal, ${s.flushTimeouts} flushes past the deadline`,
              }
            : {}),
        };
        process.send!(report);
      } else if (msg.close) {
        await client?.stop();
        await m.ext?.stop();
        await m.rt?.close();
        await m.c.audit.destroy();
        process.exit(0);
      }
    })();
  });
  process.send!({ ready: true, storeId: m.storeId, key: m.key });
}

/**
 * A forked process of this module (`args` after the module path, the same loader flags): ready
 * when it sends its first message (`first`); then answers one message per `ask`; `close` asks it
 * to exit.
 */
async function forkSelf(args: string[]) {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), args, {
    execArgv: process.execArgv,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const first = new Promise<unknown>((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited (${code})`)));
    child.once("error", reject);
  });
  const firstMessage = await first;
  child.removeAllListeners("exit");
  return {
    child,
    first: firstMessage,
    ask: <T>(msg: unknown) =>
      new Promise<T>((resolve) => {
        child.once("message", (m) => resolve(m as T));
        child.send(msg as object);
      }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.send({ close: true });
      await exited;
    },
  };
}

/**
 * Section 2: the authz Lambda handler, in process. Each mode runs in a process of its own (forked
 * `--mode <i>`), so no mode pays for another's heap (the in-process bus keeps up to 100,000
 * events in memory); rounds alternate between the modes. The EventBridge stand-in runs here, in
 * this process: each `PutEvents` is a real HTTP request on 127.0.0.1.
 */
async function inProcess(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick ?? false;
  const rounds = quick ? 2 : 5;
  const roundMs = quick ? 300 : 1000;
  const forks = quick ? 1 : 3;
  const eb = await startEventBridgeStandin();
  const specs = inProcessModes(eb.url);
  type Child = Awaited<ReturnType<typeof forkSelf>>;
  /** units[mode][fork] */
  const units: Child[][] = [];
  try {
    for (let i = 0; i < specs.length; i++) {
      const same: Child[] = [];
      for (let f = 0; f < forks; f++)
        same.push(await forkSelf(["--mode", String(i), eb.url, ...(quick ? ["--quick"] : [])]));
      units.push(same);
    }
    const samples = await alternate(units, rounds, async (u) => {
      const res = await u.ask<{ rate: number; cpuUs: number }>({ round: roundMs });
      return { rate: res.rate, cpu: res.cpuUs };
    });
    process.stdout.write(
      `\nchecks through the authz Lambda handler, in process, sequential (one environment); ${forks} processes per mode, ${rounds} rounds x ${roundMs} ms each, alternating\n` +
        "  throughput: invocations completed per second (the extension's flush included); overhead: median of each round's loss\n" +
        "  against audit off in the same round (range); CPU: the mode's process (GC and store threads included) per invocation;\n" +
        "  response: handler latency, time to the response (what the caller waits for), median over the processes\n",
    );
    const off = samples[0]!;
    for (let i = 0; i < specs.length; i++) {
      const reps: ModeReport[] = [];
      for (const u of units[i]!) reps.push(await u.ask<ModeReport>({ report: true }));
      const sm = samples[i]!;
      const first = i === 0;
      const sum = (k: string) => reps.reduce((n, rep) => n + (rep.totals[k] ?? 0), 0);
      process.stdout.write(
        `  audit ${specs[i]!.name.padEnd(47)} ${median(sm.map((x) => x.rate))
          .toFixed(0)
          .padStart(
            7,
          )} inv/s  overhead ${first ? "   –  " : lossColumn(versusOff(off, sm, "rate", true))}  CPU ${median(sm.map((x) => x.cpu)).toFixed(1)} µs/inv${first ? "" : ` (+${pct(versusOff(off, sm, "cpu").median)})`}  response p50 ${median(reps.map((x) => x.p50)).toFixed(3)} ms  p99 ${median(reps.map((x) => x.p99)).toFixed(3)} ms  events emitted ${sum("AuditEventsEmitted")}, logged ${sum("AuditEventsLogged")}, delivered ${sum("AuditEventsDelivered")}, spilled ${sum("AuditEventsSpilled")}\n`,
      );
      for (const rep of reps) if (rep.extension) process.stdout.write(`    extension: ${rep.extension}\n`);
    }
    process.stdout.write(
      `  EventBridge stand-in: ${eb.stats.requests} PutEvents requests, ${eb.accepted.length} entries\n`,
    );
  } finally {
    for (const m of units.flat()) await m.close();
    await eb.close();
  }
}

/** Section 3's modes: what a deployed function runs (the `log` transport is the CDK app's default). */
const RUNTIME_MODES = [
  "off",
  LOG_MODE,
  "eventbridge, flush in invocation",
  "eventbridge, flush after response (extension)",
];

/**
 * Section 3: per Lambda invocation, as the Lambda service drives a function. This process plays
 * Lambda: one Runtime API (and Extensions API) stand-in per function process
 * (test/support/lambda-runtime-standin.ts); each function process runs the authz handler under a
 * runtime interface client that does what the Lambda Node.js runtime does (long-poll `next`, call
 * the handler, post the response) and, in the extension mode, the audit extension. An invocation
 * ends when Lambda would end it: the response posted and every extension back in `next`. So the
 * throughput counts each invocation's whole cost to the environment, the audit extension's flush
 * included, as a concurrency limit sees it; CPU is the function process's own, per invocation.
 */
async function overRuntimeApi(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick ?? false;
  const rounds = quick ? 2 : 5;
  const roundMs = quick ? 300 : 1000;
  const forks = quick ? 1 : 3;
  const { teams, docs } = inProcessSizes(quick);
  const eb = await startEventBridgeStandin();
  const specs = inProcessModes(eb.url)
    .map((spec, index) => ({ ...spec, index }))
    .filter((spec) => RUNTIME_MODES.includes(spec.name));
  type Unit = {
    fn: Awaited<ReturnType<typeof forkSelf>>;
    rt: LambdaRuntimeStandin;
    storeId: string;
    key: string;
    n: number;
    /** ms from invoke to the response post, and to the end of the invocation. */
    responses: number[];
    durations: number[];
  };
  const units: Unit[][] = [];
  /** Invokes the function of `u` for `ms`, one invocation at a time. */
  const invokeFor = async (u: Unit, ms: number) => {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms) {
      const ev = event("POST", `/stores/${u.storeId}/check`, checkBody(u.n++, teams * 10, docs), u.key);
      const t = Date.now();
      const p = performance.now();
      const r = await u.rt.invoke(ev.requestContext.requestId, { event: ev, deadlineMs: t + 10_000 });
      u.durations.push(performance.now() - p);
      const status = (r.response as { statusCode?: number } | undefined)?.statusCode;
      if (status !== 200) throw new Error(`invocation answered ${status ?? JSON.stringify(r.error)}`);
      // Both ends in whole ms (Date.now): the mean over thousands is still exact to a few µs.
      u.responses.push(r.respondedAt! - t);
      n++;
    }
    return { n, ms: performance.now() - t0 };
  };
  try {
    for (const spec of specs) {
      const same: Unit[] = [];
      for (let f = 0; f < forks; f++) {
        const rt = await startLambdaRuntimeStandin();
        const fn = await forkSelf([
          "--mode",
          String(spec.index),
          eb.url,
          "--runtime",
          rt.api,
          ...(quick ? ["--quick"] : []),
        ]);
        const { storeId, key } = fn.first as { storeId: string; key: string };
        const u: Unit = { fn, rt, storeId, key, n: 0, responses: [], durations: [] };
        await rt.waitForRuntime();
        await invokeFor(u, 300); // warm-up
        u.responses.length = 0;
        u.durations.length = 0;
        same.push(u);
      }
      units.push(same);
    }
    const samples = await alternate(units, rounds, async (u) => {
      const c0 = await u.fn.ask<{ cpuUs: number }>({ cpu: true });
      const { n, ms } = await invokeFor(u, roundMs);
      const c1 = await u.fn.ask<{ cpuUs: number }>({ cpu: true });
      return { rate: (n / ms) * 1000, cpu: (c1.cpuUs - c0.cpuUs) / n };
    });
    process.stdout.write(
      `\nchecks per Lambda invocation, driven through the Runtime API as the Lambda service drives a function (stand-in on 127.0.0.1), one invocation at a time;\n  functions built as deployed (log level info: an access line per invocation; standard output written once per invocation);\n  ${forks} function processes per mode, ${rounds} rounds x ${roundMs} ms each, alternating. Throughput: invocations completed per second (an invocation ends when its\n  response is posted and every extension is back in next); overhead: median of each round's loss against audit off (range); CPU: the\n  function process per invocation (runtime client, handler, audit, extension); response: mean time from the invoke to the response post;\n  invocation: from the invoke to its end\n`,
    );
    const off = samples[0]!;
    for (let i = 0; i < specs.length; i++) {
      const sm = samples[i]!;
      const first = i === 0;
      const reps: ModeReport[] = [];
      for (const u of units[i]!) reps.push(await u.fn.ask<ModeReport>({ report: true }));
      const sum = (k: string) => reps.reduce((n, rep) => n + (rep.totals[k] ?? 0), 0);
      const responses = units[i]!.flatMap((u) => u.responses);
      const response = responses.reduce((a, b) => a + b, 0) / responses.length;
      const took = units[i]!.flatMap((u) => u.durations).sort((a, b) => a - b);
      const at = (p: number) => took[Math.min(took.length - 1, Math.floor(took.length * p))] ?? Number.NaN;
      process.stdout.write(
        `  audit ${specs[i]!.name.padEnd(47)} ${median(sm.map((x) => x.rate))
          .toFixed(0)
          .padStart(
            6,
          )} inv/s  overhead ${first ? "   –  " : lossColumn(versusOff(off, sm, "rate", true))}  CPU ${median(sm.map((x) => x.cpu)).toFixed(1)} µs/inv${first ? "" : ` (+${pct(versusOff(off, sm, "cpu").median)})`}  response mean ${response.toFixed(3)} ms  invocation p50 ${at(0.5).toFixed(3)} ms  p99 ${at(0.99).toFixed(3)} ms  events emitted ${sum("AuditEventsEmitted")}, logged ${sum("AuditEventsLogged")}, delivered ${sum("AuditEventsDelivered")}, spilled ${sum("AuditEventsSpilled")}\n`,
      );
    }
    process.stdout.write(
      `  EventBridge stand-in: ${eb.stats.requests} PutEvents requests, ${eb.accepted.length} entries\n`,
    );
  } finally {
    for (const u of units.flat()) {
      await u.fn.close();
      await u.rt.close();
    }
    await eb.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (process.argv[2] === "--serve")
    await serve(process.argv[3] as Served["name"], process.argv.includes("--quick"));
  else if (process.argv[2] === "--mode") {
    const at = process.argv.indexOf("--runtime");
    await runMode(
      Number(process.argv[3]),
      process.argv[4]!,
      process.argv.includes("--quick"),
      at > 0 ? process.argv[at + 1] : undefined,
    );
  } else {
    const section = process.argv.includes("--http")
      ? "http"
      : process.argv.includes("--process")
        ? "process"
        : process.argv.includes("--runtime")
          ? "runtime"
          : undefined;
    await run({ quick: process.argv.includes("--quick"), ...(section ? { section } : {}) });
  }
}
