/**
 * Cache and consistency counters of one container, written to the log as CloudWatch Embedded
 * Metric Format (one JSON line per interval, counts since the previous line), so CloudWatch turns
 * them into metrics without an agent or an API call on the request path. Locally they are plain
 * log lines. `snapshot()` gives the running totals (tests, debugging).
 */
import type { Logger } from "../../shared/logger.ts";

/** A source of monotonically growing counters. */
export type CounterSource = () => Readonly<Record<string, number>>;

export interface AuthzMetricsOptions {
  /** @default 60000 */
  readonly intervalMs?: number;
  /** @default "Portcullis/Authz" */
  readonly namespace?: string;
  readonly now?: () => number;
}

export class AuthzMetrics {
  readonly #sources: CounterSource[] = [];
  readonly #own: Record<string, number> = {};
  readonly #last: Record<string, number> = {};
  readonly #interval: number;
  readonly #namespace: string;
  readonly #now: () => number;
  #lastFlush: number;

  constructor(options: AuthzMetricsOptions = {}) {
    this.#interval = options.intervalMs ?? 60_000;
    this.#namespace = options.namespace ?? "Portcullis/Authz";
    this.#now = options.now ?? Date.now;
    this.#lastFlush = this.#now();
    this.#sources.push(() => this.#own);
  }

  /** Adds counters read at flush time (e.g. a cache's `stats`). */
  register(source: CounterSource): void {
    this.#sources.push(source);
  }

  /** Increments a counter of this object's own. */
  count(name: string, by = 1): void {
    this.#own[name] = (this.#own[name] ?? 0) + by;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.#sources) for (const [k, v] of Object.entries(s())) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** Writes the deltas as one EMF line when the interval has passed (call after each request). */
  maybeFlush(log: Logger): void {
    const now = this.#now();
    if (now - this.#lastFlush < this.#interval) return;
    this.flush(log, now);
  }

  flush(log: Logger, now = this.#now()): void {
    this.#lastFlush = now;
    const totals = this.snapshot();
    const deltas: Record<string, number> = {};
    for (const [k, v] of Object.entries(totals)) {
      const d = v - (this.#last[k] ?? 0);
      this.#last[k] = v;
      if (d !== 0) deltas[k] = d;
    }
    if (Object.keys(deltas).length === 0) return;
    log.info("authz metrics", {
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          {
            Namespace: this.#namespace,
            Dimensions: [["region"]],
            Metrics: Object.keys(deltas).map((Name) => ({ Name, Unit: "Count" })),
          },
        ],
      },
      ...deltas,
    });
  }
}

/** Prefixes the keys of a stats object: `prefixed("check_cache", cache.stats)`. */
export function prefixed(prefix: string, stats: object): CounterSource {
  return () => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(stats)) if (typeof v === "number") out[`${prefix}_${k}`] = v;
    return out;
  };
}
