/**
 * Measurement helpers of the authorization benchmark: replayed and one-pass runs with latency
 * percentiles and throughput per CPU-second (robust on a shared machine) and per wall-second.
 */

export interface Figures {
  /** Calls measured. */
  readonly n: number;
  /** Calls per second of this process's CPU time (user + system). */
  readonly perCpuSecond: number;
  /** Calls per second of wall time. */
  readonly perWallSecond: number;
  /** Latency percentiles, microseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

const cpuSeconds = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

function percentiles(lat: Float64Array, n: number): Pick<Figures, "p50" | "p99" | "p999"> {
  const sorted = lat.slice(0, n).sort();
  const q = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))]! * 1000;
  return { p50: q(0.5), p99: q(0.99), p999: q(0.999) };
}

/**
 * Replays `reqs` over and over: one untimed warm-up pass, then `seconds / 2` with a timer around each
 * call (latency), then `seconds / 2` without timers (throughput, per CPU-second and per wall-second).
 */
export async function replay<T>(
  call: (r: T) => Promise<unknown>,
  reqs: readonly T[],
  seconds: number,
): Promise<Figures> {
  for (const r of reqs) await call(r);
  const lat = new Float64Array(4_000_000);
  let n = 0;
  const end = performance.now() + seconds * 500;
  while (performance.now() < end && n < lat.length) {
    for (let i = 0; i < reqs.length && n < lat.length; i++) {
      const s = performance.now();
      await call(reqs[i]!);
      lat[n++] = performance.now() - s;
    }
  }
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let m = 0;
  while (performance.now() - t0 < seconds * 500) {
    for (let i = 0; i < reqs.length; i++) await call(reqs[i]!);
    m += reqs.length;
  }
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const wall = (performance.now() - t0) / 1000;
  return { n: m, perCpuSecond: m / cpu, perWallSecond: m / wall, ...percentiles(lat, n) };
}

/**
 * One timed pass over `reqs` (each request once: first-touch behaviour). Throughput includes the
 * per-call timers (two `performance.now()` per call, well under 1 % of a check).
 */
export async function onePass<T>(call: (r: T) => Promise<unknown>, reqs: readonly T[]): Promise<Figures> {
  const lat = new Float64Array(reqs.length);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reqs.length; i++) {
    const s = performance.now();
    await call(reqs[i]!);
    lat[i] = performance.now() - s;
  }
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const wall = (performance.now() - t0) / 1000;
  const n = reqs.length;
  return { n, perCpuSecond: n / cpu, perWallSecond: n / wall, ...percentiles(lat, n) };
}

const int = (x: number) => Math.round(x).toLocaleString("en-US");
const us = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(1)} µs`);

/** One result line: label, throughput, latency. */
export function line(label: string, f: Figures, note = ""): string {
  return (
    `  ${label.padEnd(9)} ${int(f.perCpuSecond).padStart(10)}/CPU-s ${int(f.perWallSecond).padStart(10)}/s wall` +
    `   p50 ${us(f.p50).padStart(9)}  p99 ${us(f.p99).padStart(9)}  p99.9 ${us(f.p999).padStart(9)}` +
    `   (${int(f.n)} checks${note})`
  );
}

export const fmtInt = int;
export const fmtUs = us;

/** Percentiles (ms) of a list of durations (ms). */
export function msPercentiles(xs: readonly number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: s[Math.floor(s.length / 2)]!,
    p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!,
    max: s.at(-1)!,
  };
}
