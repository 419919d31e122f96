/**
 * The log-line event bus (`PORTCULLIS_AUDIT_BUS=log`): at flush, each queued event is written as one
 * JSON line to the function's standard output, all of a flush in one synchronous write. In Lambda
 * those lines go to the function's CloudWatch Logs log group like every other line it writes; a
 * subscription filter (`"portcullis_audit"`) hands them, batched per log stream (one execution
 * environment) over its recent invocations, to the audit forwarder (src/audit/forwarder.ts), which
 * puts them on the EventBridge bus with {@link EventBridgeEventBus}. An invocation thus pays a
 * `JSON.stringify` per event and one write instead of a `PutEvents` round trip (docs/AUDIT.md
 * "Transports in AWS").
 *
 * A line is `{"portcullis_audit":1,"event":{…}}` (the `1` is the line format's version). A line that
 * CloudWatch Logs would not take whole (over {@link MAX_AUDIT_LINE_BYTES}; redaction caps every
 * field, so an emitted event never comes near it), or a write that fails, sends its events to the
 * dead-letter destination (SQS), counted, as the EventBridge bus does with what it cannot deliver.
 */
import type { Logger } from "../../shared/logger.ts";
import { writeStdout } from "../../shared/stdout.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditMetrics } from "../metrics.ts";
import type { EventBus } from "../ports.ts";
import { type DeadLetterSink, spillEvents } from "./eventbridge.ts";

/** The marker key of audit lines. */
export const AUDIT_LINE_MARKER = "portcullis_audit";
/** Version of the line format. */
export const AUDIT_LINE_VERSION = 1;
/** How every audit line starts (the forwarder recognises lines by it). */
export const AUDIT_LINE_START = `{"${AUDIT_LINE_MARKER}":`;
/**
 * CloudWatch Logs subscription filter pattern selecting audit lines: a term, not a JSON pattern, so
 * that a line that is not valid JSON (cut short) still reaches the forwarder, which rejects it,
 * counted and alarmed, rather than being left out unseen. Other lines it lets through are skipped.
 */
export const AUDIT_LINE_FILTER_PATTERN = `"${AUDIT_LINE_MARKER}"`;
const PREFIX = `${AUDIT_LINE_START}${AUDIT_LINE_VERSION},"event":`;

/**
 * Largest line written: a CloudWatch Logs event holds 256 KB (PutLogEvents counts each event's
 * UTF-8 bytes plus 26 bytes against its batch; kept off here too, to stay clear of the limit).
 */
export const MAX_AUDIT_LINE_BYTES = 256 * 1024 - 26;

/** The audit line of an event (no trailing newline). */
export const auditLine = (event: AuditEvent): string => `${PREFIX}${JSON.stringify(event)}}`;

export interface LogLineBusOptions {
  readonly deadLetters: DeadLetterSink;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  /**
   * Synchronous write of a chunk of lines; throws when it fails. @default writeStdout
   * (src/shared/stdout.ts); in a Lambda function, its `InvocationOutput`'s `release`.
   */
  readonly write?: (chunk: string) => void;
}

const DONE: Promise<void> = Promise.resolve();

export class LogLineEventBus implements EventBus {
  #queue: AuditEvent[] = [];
  #spilling: Promise<void> = DONE;
  readonly #o: LogLineBusOptions;
  readonly #write: (chunk: string) => void;

  constructor(options: LogLineBusOptions) {
    this.#o = options;
    this.#write = options.write ?? writeStdout;
  }

  get pending(): number {
    return this.#queue.length;
  }

  publish(event: AuditEvent): void {
    this.#queue.push(event);
  }

  /** Writes what is queued; false only while events are being spilled (then `flush` awaits them). */
  flushSync(): boolean {
    const events = this.#queue;
    if (events.length > 0) {
      this.#queue = [];
      let chunk = "";
      // Never in practice (redaction caps every field): no array per flush for it.
      let oversized: AuditEvent[] | undefined;
      for (const e of events) {
        const line = auditLine(e);
        // A UTF-16 unit is at most 3 UTF-8 bytes: only long lines are measured.
        if (line.length * 3 > MAX_AUDIT_LINE_BYTES && Buffer.byteLength(line) > MAX_AUDIT_LINE_BYTES) {
          if (oversized === undefined) oversized = [];
          oversized.push(e);
          continue;
        }
        chunk += `${line}\n`;
      }
      const written = oversized ? events.filter((e) => !oversized.includes(e)) : events;
      if (written.length > 0) {
        try {
          this.#write(chunk);
          this.#o.metrics.add("AuditEventsLogged", written.length);
        } catch (err) {
          // A line may have been written in part: the forwarder rejects it (counted); the events
          // are spilled whole, and the writer takes each id once.
          this.#o.log.error("audit log write failed", { err });
          this.#spill(written, "log write failed");
        }
      }
      if (oversized) this.#spill(oversized, "line exceeds 256 KB");
    }
    return this.#spilling === DONE;
  }

  flush(): Promise<void> {
    this.flushSync();
    return this.#spilling;
  }

  #spill(events: AuditEvent[], reason: string): void {
    const run = this.#spilling.then(() => spillEvents(this.#o, events, reason));
    this.#spilling = run;
    void run.then(() => {
      if (this.#spilling === run) this.#spilling = DONE;
    });
  }
}
