/**
 * HTTP load generator for the OAuth benchmarks: `concurrency` keep-alive request loops in a worker
 * thread (its own event loop and core), a warm-up, then a measured window. It reports throughput,
 * latencies, and how busy the server's event loop (this process' main thread) was meanwhile.
 */
import { Worker } from "node:worker_threads";

/** Figures of one server. */
export interface LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  /** Tokens per second of server event-loop time: capacity, less sensitive to other load on the machine. */
  readonly perBusySecond: number;
}

/** One measured window. */
export interface Phase {
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latencies: Float64Array;
  /** Milliseconds the server's event loop was busy while measuring. */
  readonly busyMs: number;
}

/** Sums phases of one server into its figures (throughput over measured time, merged percentiles). */
export function combine(phases: readonly Phase[]): LoadResult {
  const lat = Float64Array.from(phases.flatMap((p) => [...p.latencies])).sort();
  const q = (p: number) =>
    lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : Number.NaN;
  return {
    ok: phases.reduce((a, p) => a + p.ok, 0),
    errors: phases.reduce((a, p) => a + p.errors, 0),
    seconds: phases.reduce((a, p) => a + p.seconds, 0),
    p50: q(0.5),
    p99: q(0.99),
    perBusySecond: phases.reduce((a, p) => a + p.ok, 0) / (phases.reduce((a, p) => a + p.busyMs, 0) / 1000),
  };
}

/** The load generator: `concurrency` keep-alive loops, warm-up, then `seconds` of measurement. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, path, auth, body, concurrency, seconds, warmup } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const headers = { authorization: auth, "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) };
const once = () => new Promise((resolve) => {
  const t0 = performance.now();
  const req = http.request({ host: target.hostname, port: target.port, path, method: "POST", agent, headers }, (res) => {
    let n = 0;
    res.on("data", (c) => { n += c.length; });
    res.on("end", () => resolve([res.statusCode === 200 && n > 0, performance.now() - t0]));
  });
  req.on("error", () => resolve([false, performance.now() - t0]));
  req.end(body);
});
(async () => {
  let measuring = false, stop = false, ok = 0, errors = 0;
  const lat = [];
  const loop = async () => { while (!stop) { const [good, ms] = await once(); if (!measuring) continue; if (good) { ok++; lat.push(ms); } else errors++; } };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  measuring = true;
  parentPort.postMessage({ started: true });
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false; stop = true;
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(loops);
  agent.destroy();
  const arr = Float64Array.from(lat);
  parentPort.postMessage({ ok, errors, seconds: elapsed, latencies: arr }, [arr.buffer]);
})();
`;

/** A running token server under test. */
export interface Target {
  readonly name: string;
  readonly url: string;
  readonly path: string;
  readonly clientId: string;
  readonly secret: string;
  close(): Promise<void>;
}

/** Runs one measured window against a target (client_credentials, client_secret_basic). */
export function load(
  o: Omit<Target, "name" | "close"> & { concurrency: number; seconds: number; warmup: number },
): Promise<Phase> {
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.secret)}`).toString("base64")}`;
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      url: o.url,
      path: o.path,
      concurrency: o.concurrency,
      seconds: o.seconds,
      warmup: o.warmup,
      auth,
      body: "grant_type=client_credentials&scope=authz%3Acheck",
    },
  });
  return new Promise((resolve, reject) => {
    let elu = performance.eventLoopUtilization();
    worker.on("message", (m: Omit<Phase, "busyMs"> | { started: true }) => {
      if ("started" in m) {
        elu = performance.eventLoopUtilization();
        return;
      }
      const busyMs = performance.eventLoopUtilization(elu).active;
      void worker.terminate();
      resolve({ ...m, busyMs });
    });
    worker.once("error", reject);
  });
}
