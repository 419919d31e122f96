/**
 * Operator counters of the audit pipeline, written as CloudWatch embedded metric format (EMF) lines
 * once per flush: decisions allowed/denied, events emitted/delivered (put on the EventBridge bus, or
 * stored by the in-process bus), logged (written as audit lines by the log bus), rejected (audit
 * lines the forwarder could not read), failed entries, retries, spills, spill failures and the lag
 * from event time to delivery. Alarms on `AuditEventsSpilled`
 * and `AuditSpillFailures` live in the CDK app.
 */
export const AUDIT_METRIC_NAMES = [
  "DecisionsAllowed",
  "DecisionsDenied",
  "AuditEventsEmitted",
  "AuditEventsDelivered",
  "AuditEventsLogged",
  "AuditEventsRejected",
  "AuditEntriesFailed",
  "AuditRetries",
  "AuditEventsSpilled",
  "AuditSpillFailures",
  "AuditEmitErrors",
] as const;

export type AuditMetricName = (typeof AUDIT_METRIC_NAMES)[number];

/**
 * The counters of things going wrong in an emitter. With the `log` transport an emitting function
 * writes an EMF line only when one of them moved: the forwarder counts the routine ones (decisions,
 * events) from the lines it forwards, so a check invocation writes its audit lines and nothing else.
 */
export const EXCEPTION_METRICS = ["AuditEmitErrors", "AuditEventsSpilled", "AuditSpillFailures"] as const;

/** CloudWatch namespace of the audit metrics. */
export const AUDIT_NAMESPACE = "Portcullis/Audit";

/** Counters since the last {@link AuditMetrics.takeEmf}, plus running totals for tests and benches. */
export class AuditMetrics {
  readonly totals: Record<AuditMetricName, number>;
  #window: Record<AuditMetricName, number>;
  #lagMax = 0;

  constructor() {
    this.totals = AuditMetrics.#zero();
    this.#window = AuditMetrics.#zero();
  }

  static #zero(): Record<AuditMetricName, number> {
    return Object.fromEntries(AUDIT_METRIC_NAMES.map((n) => [n, 0])) as Record<AuditMetricName, number>;
  }

  add(name: AuditMetricName, n = 1): void {
    this.totals[name] += n;
    this.#window[name] += n;
  }

  /** Largest delivery lag seen in this window (ms from event time to acknowledged delivery). */
  lag(ms: number): void {
    if (ms > this.#lagMax) this.#lagMax = ms;
  }

  /** Whether one of the {@link EXCEPTION_METRICS} moved in this window. */
  hasExceptions(): boolean {
    return EXCEPTION_METRICS.some((n) => this.#window[n] > 0);
  }

  /** Counts an event emitted: its decision (`allow`/`deny`) and the event itself. */
  countEvent(decision: string): void {
    if (decision === "allow") this.add("DecisionsAllowed");
    else if (decision === "deny") this.add("DecisionsDenied");
    this.add("AuditEventsEmitted");
  }

  /**
   * One EMF JSON line with this window's counters (undefined when nothing happened), and a new
   * window. `dimensions` e.g. `{ Region: "eu-west-1", Function: "authz" }`. With `only`, just those
   * counters (no lag), and only they start again.
   */
  takeEmf(
    now: number,
    dimensions: Readonly<Record<string, string>> = {},
    only?: readonly AuditMetricName[],
  ): string | undefined {
    const w = this.#window;
    const names = (only ?? AUDIT_METRIC_NAMES).filter((n) => w[n] > 0);
    const values: Record<string, number> = {};
    for (const n of names) values[n] = w[n];
    let lag = 0;
    if (only) for (const n of only) w[n] = 0;
    else {
      lag = this.#lagMax;
      this.#window = AuditMetrics.#zero();
      this.#lagMax = 0;
    }
    if (names.length === 0 && lag === 0) return undefined;
    const metrics: { Name: string; Unit: string }[] = names.map((Name) => ({ Name, Unit: "Count" }));
    if (lag > 0) {
      metrics.push({ Name: "AuditEventLag", Unit: "Milliseconds" });
      values.AuditEventLag = lag;
    }
    return JSON.stringify({
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          { Namespace: AUDIT_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: metrics },
        ],
      },
      ...dimensions,
      ...values,
    });
  }
}
