/**
 * The audit forwarder: the destination of the CloudWatch Logs subscription filter on the log
 * groups of the functions that emit audit events as log lines (src/audit/adapters/log-lines.ts).
 * CloudWatch Logs invokes it with `{"awslogs": {"data": <base64 of gzip of JSON>}}`, the JSON being
 * `{messageType, owner, logGroup, logStream, subscriptionFilters, logEvents: [{id, timestamp,
 * message}]}` (a `CONTROL_MESSAGE` checks that the destination is reachable and carries nothing).
 * Each audit line is validated against the event schema and put on the EventBridge bus
 * (`EventBridgeEventBus`: batches of 10, retries of failed entries, spill to SQS). Lines that are
 * not audit lines are skipped (the filter pattern selects audit lines; a robust reader does not rely
 * on it); an audit line that cannot be read (truncated, invalid), from a log group or account other
 * than the emitting functions', or naming another region, is rejected: logged with where it is in
 * the log group (never its values) and counted (`AuditEventsRejected`, alarmed). A delivery that
 * does not decode fails the invocation (retried, then dead-lettered).
 *
 * If events could be neither delivered nor spilled, the invocation fails, so Lambda retries the
 * whole payload (asynchronous invocation: two retries, then the dead-letter queue, whose redrive
 * decodes the same payload: functions/audit-writer.ts). A retried payload puts its delivered events
 * on the bus again: the audit writer is idempotent by event id, and other consumers of the bus
 * (the archive, the S3 sink) de-duplicate by `id`, as with any at-least-once delivery.
 */
import { gunzipSync } from "node:zlib";
import type { Logger } from "../shared/logger.ts";
import { AUDIT_LINE_MARKER, AUDIT_LINE_START, AUDIT_LINE_VERSION } from "./adapters/log-lines.ts";
import { type AuditEvent, auditEventSchema } from "./events.ts";
import type { AuditMetrics } from "./metrics.ts";
import type { EventBus } from "./ports.ts";

/** The event CloudWatch Logs invokes a subscription's Lambda destination with. */
export interface CloudWatchLogsEvent {
  readonly awslogs: { readonly data: string };
}

/** The decoded payload of a {@link CloudWatchLogsEvent}. */
export interface LogsPayload {
  readonly messageType: string;
  readonly owner?: string;
  readonly logGroup?: string;
  readonly logStream?: string;
  readonly logEvents: readonly {
    readonly id?: string;
    readonly timestamp?: number;
    readonly message: string;
  }[];
}

/**
 * Largest decompressed payload read: far above what a subscription delivers (an asynchronous Lambda
 * payload is at most 1 MB, compressed), and small enough to keep a decompression bomb's string
 * and its parse well inside the function's memory.
 */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** Whether `input` has the shape of a subscription delivery. */
export const isCloudWatchLogsEvent = (input: unknown): input is CloudWatchLogsEvent =>
  typeof input === "object" &&
  input !== null &&
  typeof (input as { awslogs?: { data?: unknown } }).awslogs?.data === "string";

/** Decodes a subscription delivery; throws on anything that is not one. */
export function decodeLogsEvent(input: CloudWatchLogsEvent): LogsPayload {
  const json = gunzipSync(Buffer.from(input.awslogs.data, "base64"), {
    maxOutputLength: MAX_PAYLOAD_BYTES,
  }).toString("utf8");
  const p = JSON.parse(json) as Partial<LogsPayload> | null;
  if (!p || typeof p.messageType !== "string" || !Array.isArray(p.logEvents))
    throw new Error("not a CloudWatch Logs subscription payload");
  return p as LogsPayload;
}

export interface AuditLines {
  readonly events: AuditEvent[];
  /** Audit lines that could not be read: where they are (log event id), and why. */
  readonly rejected: { readonly logEventId: string | undefined; readonly why: string }[];
  /** Lines that are not audit lines. */
  readonly skipped: number;
}

/** The lines of a payload's log events (several lines per message are read too), blank ones left out. */
function* linesOf(payload: LogsPayload): Generator<{ line: string; logEventId: string | undefined }> {
  for (const le of payload.logEvents) {
    const message = typeof le?.message === "string" ? le.message : "";
    const logEventId = typeof le?.id === "string" ? le.id : undefined;
    for (const raw of message.split("\n")) {
      const line = raw.trim();
      if (line !== "") yield { line, logEventId };
    }
  }
}

/**
 * The audit events of a payload's log events; with `region`, an event naming another region is
 * rejected (emitters and their forwarder run in the same region).
 */
export function auditEventsOf(payload: LogsPayload, expect: { readonly region?: string } = {}): AuditLines {
  const events: AuditEvent[] = [];
  const rejected: AuditLines["rejected"][number][] = [];
  let skipped = 0;
  for (const { line, logEventId } of linesOf(payload)) {
    if (!line.startsWith(AUDIT_LINE_START)) {
      skipped++;
      continue;
    }
    let parsed: { [AUDIT_LINE_MARKER]?: unknown; event?: unknown };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      rejected.push({ logEventId, why: "not JSON (truncated?)" });
      continue;
    }
    if (parsed[AUDIT_LINE_MARKER] !== AUDIT_LINE_VERSION) {
      rejected.push({ logEventId, why: `unknown line version ${String(parsed[AUDIT_LINE_MARKER])}` });
      continue;
    }
    const r = auditEventSchema.safeParse(parsed.event);
    if (!r.success)
      rejected.push({
        logEventId,
        why: r.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join(".")}: ${i.message}`)
          .join("; "),
      });
    else if (expect.region !== undefined && r.data.region !== expect.region)
      rejected.push({ logEventId, why: `event of region ${r.data.region}, not ${expect.region}` });
    else events.push(r.data);
  }
  return { events, rejected, skipped };
}

/** Logs where each rejected line is (log group, stream, log event id) and why; never the line. */
export function logRejected(log: Logger, payload: LogsPayload, rejected: AuditLines["rejected"]): void {
  for (const r of rejected)
    log.error("audit line rejected", {
      logGroup: payload.logGroup,
      logStream: payload.logStream,
      logEventId: r.logEventId,
      why: r.why,
    });
}

export interface ForwardResult {
  readonly forwarded: number;
  readonly rejected: number;
  readonly skipped: number;
}

/**
 * Where audit lines may come from (the forwarder is the only way onto the bus besides `PutEvents`):
 * the account (`owner`), the log groups (by name prefix), and the region the events name.
 */
export interface ForwarderSources {
  readonly account?: string;
  readonly logGroupPrefix?: string;
  readonly region?: string;
}

export function createAuditForwarder(deps: {
  readonly bus: EventBus;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  readonly sources?: ForwarderSources;
}): (
  input: unknown,
  options?: { readonly deadline?: number; readonly account?: string },
) => Promise<ForwardResult> {
  const { bus, metrics, log } = deps;
  return async (input, options = {}) => {
    if (!isCloudWatchLogsEvent(input)) {
      // Not a subscription delivery: nothing to retry, nothing to forward.
      metrics.add("AuditEventsRejected");
      log.error("audit forwarder input rejected", { why: "no awslogs.data" });
      return { forwarded: 0, rejected: 1, skipped: 0 };
    }
    // A delivery that does not decode fails the invocation: retried, then kept in the dead-letter
    // queue for a look, rather than dropped.
    const payload = decodeLogsEvent(input);
    if (payload.messageType !== "DATA_MESSAGE") return { forwarded: 0, rejected: 0, skipped: 0 };
    const from = { ...deps.sources, ...(options.account ? { account: options.account } : {}) };
    if (
      (from.account !== undefined && payload.owner !== from.account) ||
      (from.logGroupPrefix !== undefined && !payload.logGroup?.startsWith(from.logGroupPrefix))
    ) {
      // Not from an emitting function's log group: none of its lines is read.
      let lines = 0;
      for (const { line } of linesOf(payload)) if (line.startsWith(AUDIT_LINE_START)) lines++;
      metrics.add("AuditEventsRejected", lines);
      log.error("audit lines from an unexpected source rejected", {
        owner: payload.owner,
        logGroup: payload.logGroup,
        lines,
      });
      return { forwarded: 0, rejected: lines, skipped: 0 };
    }
    const { events, rejected, skipped } = auditEventsOf(
      payload,
      from.region === undefined ? {} : { region: from.region },
    );
    if (rejected.length > 0) {
      metrics.add("AuditEventsRejected", rejected.length);
      logRejected(log, payload, rejected);
    }
    const failuresBefore = metrics.totals.AuditSpillFailures;
    for (const e of events) {
      // The emitters' routine counters, counted here from their lines (they write EMF lines only
      // when something went wrong: EXCEPTION_METRICS).
      metrics.countEvent(e.decision);
      bus.publish(e);
    }
    await bus.flush(options.deadline === undefined ? {} : { deadline: options.deadline });
    const lost = metrics.totals.AuditSpillFailures - failuresBefore;
    // Neither delivered nor spilled: fail, so Lambda retries the payload (then dead-letters it).
    if (lost > 0) throw new Error(`${lost} audit events neither delivered nor spilled`);
    return { forwarded: events.length, rejected: rejected.length, skipped };
  };
}
