/**
 * The log-line event bus (`PORTCULLIS_AUDIT_BUS=log`): at flush, each queued event is written as one
 * JSON line to the function's standard output, all of a flush in one synchronous write. In Lambda
 * those lines go to the function's CloudWatch Logs log group like every other line it writes; a
 * subscription filter on `{ $.portcullis_audit = 1 }` hands them, batched across invocations and
 * environments, to the audit forwarder (src/audit/forwarder.ts), which puts them on the EventBridge
 * bus with {@link EventBridgeEventBus}. An invocation thus pays a `JSON.stringify` and a write
 * per event instead of a `PutEvents` round trip (docs/AUDIT.md "Transports").
 *
 * A line is `{"portcullis_audit":1,"event":{…}}` (the `1` is the line format's version). A line that
 * CloudWatch Logs would not take whole (over {@link MAX_AUDIT_LINE_BYTES}; redaction caps fields so
 * that no event comes near it), or a write that fails, sends its events to the dead-letter
 * destination (SQS), counted, as the EventBridge bus does with what it cannot deliver.
 */
import type { Logger } from "../../shared/logger.ts";
import type { AuditEvent } from "../events.ts";
import type { AuditMetrics } from "../metrics.ts";
import type { EventBus } from "../ports.ts";
import type { DeadLetterSink } from "./eventbridge.ts";

/** The marker key of audit lines (the subscription filter pattern matches it). */
export const AUDIT_LINE_MARKER = "portcullis_audit";
/** Version of the line format. */
export const AUDIT_LINE_VERSION = 1;
/** CloudWatch Logs subscription filter pattern selecting audit lines. */
export const AUDIT_LINE_FILTER_PATTERN = `{ $.${AUDIT_LINE_MARKER} = ${AUDIT_LINE_VERSION} }`;
const PREFIX = `{"${AUDIT_LINE_MARKER}":${AUDIT_LINE_VERSION},"event":`;

/**
 * Largest line written: a CloudWatch Logs event holds 256 KB, of which PutLogEvents counts 26 bytes
 * of overhead; the newline is not part of the message.
 */
export const MAX_AUDIT_LINE_BYTES = 256 * 1024 - 26;

/** The audit line of an event (no trailing newline). */
export const auditLine = (event: AuditEvent): string => `${PREFIX}${JSON.stringify(event)}}`;

export interface LogLineBusOptions {
  readonly deadLetters: DeadLetterSink;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  /** Synchronous write of a chunk of lines. @default process.stdout.write */
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
    this.#write = options.write ?? ((chunk) => void process.stdout.write(chunk));
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
      let written = 0;
      const oversized: AuditEvent[] = [];
      for (const e of events) {
        const line = auditLine(e);
        // A UTF-16 unit is at most 3 UTF-8 bytes: only long lines are measured.
        if (line.length * 3 > MAX_AUDIT_LINE_BYTES && Buffer.byteLength(line) > MAX_AUDIT_LINE_BYTES) {
          oversized.push(e);
          continue;
        }
        chunk += `${line}\n`;
        written++;
      }
      if (written > 0) {
        try {
          this.#write(chunk);
          this.#o.metrics.add("AuditEventsLogged", written);
        } catch (err) {
          this.#o.log.error("audit log write failed", { err });
          this.#spill(
            events.filter((e) => !oversized.includes(e)),
            "log write failed",
          );
        }
      }
      if (oversized.length > 0) this.#spill(oversized, "line exceeds 256 KB");
    }
    return this.#spilling === DONE;
  }

  flush(): Promise<void> {
    this.flushSync();
    return this.#spilling;
  }

  #spill(events: AuditEvent[], reason: string): void {
    const m = this.#o.metrics;
    const run = this.#spilling.then(async () => {
      let refused: AuditEvent[];
      try {
        refused = await this.#o.deadLetters.send(events, reason);
      } catch (err) {
        this.#o.log.error("audit spill failed", { err });
        refused = events;
      }
      m.add("AuditEventsSpilled", events.length - refused.length);
      if (refused.length > 0) {
        m.add("AuditSpillFailures", refused.length);
        // Ids only: an event that could not be written whole is not written in full again.
        this.#o.log.error("audit events not delivered", { reason, ids: refused.map((e) => e.id) });
      }
    });
    this.#spilling = run;
    void run.then(() => {
      if (this.#spilling === run) this.#spilling = DONE;
    });
  }
}
