/**
 * Lean HTTP/1.1 load generator for benchmarks against the local server: `concurrency` keep-alive
 * connections driven from a worker thread (its own event loop, so it runs on the other core), each
 * sending one request at a time from a list of pre-serialised requests, with a warm-up and a
 * measured window. Every answer is checked (status 200 and an expected text per request), and one
 * response header can be tallied (e.g. the check cache's hit/miss).
 *
 * Why not `oauth-load.ts`' node:http client: against a trivial JSON server on this 2-core machine it
 * tops out at ~18–34k requests/s with the server's event loop 40–60 % idle (the generator is the
 * bottleneck and its own overhead lands in the latencies), while raw sockets drive the same server
 * to ~45–60k/s with the server's loop busy. The figures (`Phase`, `combine`) are shared with it.
 */
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { Phase } from "./oauth-load.ts";

/**
 * CPU time (user + system, ms) of the calling thread so far, from `/proc/thread-self/stat` (Linux;
 * undefined elsewhere). Unlike event-loop busy time, it does not count time the thread waited for a
 * core, so it stays meaningful on a machine shared with other work.
 */
export function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/thread-self/stat", "latin1");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat(5) (utime, stime), in clock ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system, ms) of process `pid` so far (all its threads, GC helpers included), from
 * `/proc/<pid>/stat` (Linux; undefined elsewhere): for a server running in another process.
 */
export function processCpuMs(pid: number): number | undefined {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time (ms) of the main thread of process `pid` (its JavaScript thread: what bounds a Node
 * server's throughput when it has cores to spare for its other threads), or undefined off Linux.
 */
export function mainThreadCpuMs(pid: number): number | undefined {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

/** utime + stime of a `/proc` stat file, in ms (10 ms ticks). */
function statCpuMs(file: string): number | undefined {
  try {
    const stat = readFileSync(file, "latin1");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface HttpLoadOptions {
  /** `http://host:port` */
  readonly url: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Request bodies, sent in order. */
  readonly bodies: readonly string[];
  /** `once`: each body at most once (stops early when all are sent); `cycle`: round and round. */
  readonly order: "once" | "cycle";
  /** Per body, an index into `expectTexts`: the answer must contain that text to count as ok. */
  readonly expect?: Uint8Array;
  readonly expectTexts?: readonly string[];
  /** A response header whose values are tallied over the measured window. */
  readonly countHeader?: string;
  readonly concurrency: number;
  readonly seconds: number;
  readonly warmup: number;
  /**
   * The server's CPU time so far (ms), read when the window starts and ends: for a server in another
   * process (see processCpuMs). Default: this thread's (a server in this thread).
   */
  readonly serverCpuMs?: () => number | undefined;
  /** A second CPU counter read over the same window (e.g. the server's main thread). */
  readonly serverThreadCpuMs?: () => number | undefined;
}

/** One measured window, with what this generator adds to `oauth-load.ts`' `Phase`. */
export interface HttpPhase extends Phase {
  /** Answers with status 200 but not the expected text (a wrong decision). */
  readonly wrong: number;
  /** Values of `countHeader` over the measured window. */
  readonly headerCounts: Readonly<Record<string, number>>;
  /** `once`: every body was sent before the window ended (the window was cut short). */
  readonly exhausted: boolean;
  /** CPU time of the server (this thread, or `serverCpuMs`) during the window, when the platform tells it. */
  readonly cpuMs: number | undefined;
  /** `serverThreadCpuMs` over the window, when given. */
  readonly threadCpuMs?: number;
}

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const o = workerData;
const target = new URL(o.url);
const port = Number(target.port);
const host = target.hostname;
let head = o.method + " " + o.path + " HTTP/1.1\\r\\nhost: " + target.host + "\\r\\n";
for (const [k, v] of Object.entries(o.headers)) head += k + ": " + v + "\\r\\n";
const reqs = o.bodies.map((b) => Buffer.from(head + "content-length: " + Buffer.byteLength(b) + "\\r\\n\\r\\n" + b));
const countHeader = o.countHeader ? "\\r\\n" + o.countHeader.toLowerCase() + ":" : undefined;
let cursor = 0, measuring = false, stop = false, exhausted = false;
let ok = 0, errors = 0, wrong = 0;
const counts = {};
const lat = [];
function next() {
  if (stop) return -1;
  if (cursor >= reqs.length) {
    if (o.order === "once") { exhausted = true; if (measuring) stop = true; return -1; }
    cursor = 0;
  }
  return cursor++;
}
// One keep-alive connection: send, parse one answer (content-length or chunked), repeat.
function connection() {
  return new Promise((done) => {
    const s = net.connect(port, host);
    s.setNoDelay(true);
    s.setEncoding("latin1");
    let buf = "", i = -1, t0 = 0;
    const send = () => {
      i = next();
      if (i < 0) { s.end(); return done(); }
      t0 = performance.now();
      s.write(reqs[i]);
    };
    const finish = (status, headers, body) => {
      const ms = performance.now() - t0;
      if (measuring) {
        if (status !== 200) errors++;
        else if (o.expect && !body.includes(o.expectTexts[o.expect[i]])) wrong++;
        else { ok++; lat.push(ms); }
        if (countHeader) {
          const at = headers.indexOf(countHeader);
          const v = at < 0 ? "(none)" : headers.slice(at + countHeader.length, headers.indexOf("\\r\\n", at + 2)).trim();
          counts[v] = (counts[v] || 0) + 1;
        }
      }
      send();
    };
    s.on("connect", send);
    s.on("error", () => { errors++; done(); });
    s.on("data", (d) => {
      buf += d;
      for (;;) {
        const he = buf.indexOf("\\r\\n\\r\\n");
        if (he < 0) return;
        const headers = buf.slice(0, he + 2).toLowerCase();
        const status = Number(headers.slice(9, 12));
        const cl = /\\r\\ncontent-length: *(\\d+)/.exec(headers);
        let body, end;
        if (cl) {
          end = he + 4 + Number(cl[1]);
          if (buf.length < end) return;
          body = buf.slice(he + 4, end);
        } else {
          body = "";
          let p = he + 4;
          for (;;) {
            const le = buf.indexOf("\\r\\n", p);
            if (le < 0) return;
            const size = parseInt(buf.slice(p, le), 16);
            if (buf.length < le + 2 + size + 2) return;
            body += buf.slice(le + 2, le + 2 + size);
            p = le + 2 + size + 2;
            if (size === 0) break;
          }
          end = p;
        }
        buf = buf.slice(end);
        finish(status, headers, body);
      }
    });
  });
}
(async () => {
  const conns = Array.from({ length: o.concurrency }, connection);
  if (o.warmup > 0) await new Promise((r) => setTimeout(r, o.warmup * 1000));
  measuring = true;
  if (exhausted) stop = true;
  parentPort.postMessage({ started: true });
  const t0 = performance.now();
  let timer;
  await Promise.race([new Promise((r) => { timer = setTimeout(r, o.seconds * 1000); }), Promise.all(conns)]);
  clearTimeout(timer);
  stop = true;
  const elapsed = (performance.now() - t0) / 1000;
  measuring = false;
  await Promise.all(conns);
  const arr = Float64Array.from(lat);
  parentPort.postMessage({ ok, errors, wrong, seconds: elapsed, latencies: arr, headerCounts: counts, exhausted }, [arr.buffer]);
})();
`;

/** Runs one measured window; `busyMs` is this (the server's) thread's event-loop busy time meanwhile. */
export function httpLoad(o: HttpLoadOptions): Promise<HttpPhase> {
  const { serverCpuMs = threadCpuMs, serverThreadCpuMs, ...data } = o;
  const worker = new Worker(WORKER, { eval: true, workerData: data });
  const diff = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : b - a;
  return new Promise((resolve, reject) => {
    let elu = performance.eventLoopUtilization();
    let cpu0 = serverCpuMs();
    let thread0 = serverThreadCpuMs?.();
    worker.on("message", (m: Omit<HttpPhase, "busyMs" | "cpuMs"> | { started: true }) => {
      if ("started" in m) {
        elu = performance.eventLoopUtilization();
        cpu0 = serverCpuMs();
        thread0 = serverThreadCpuMs?.();
        return;
      }
      const busyMs = performance.eventLoopUtilization(elu).active;
      const cpu1 = serverCpuMs();
      const thread = diff(thread0, serverThreadCpuMs?.());
      void worker.terminate();
      resolve({
        ...m,
        busyMs,
        cpuMs: diff(cpu0, cpu1),
        ...(thread === undefined ? {} : { threadCpuMs: thread }),
      });
    });
    worker.once("error", reject);
  });
}
