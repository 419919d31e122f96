/**
 * The audit writer: target of the EventBridge rule on `source = portcullis.audit`. Validates the
 * event and stores it (idempotent by id: EventBridge delivers at least once). A malformed event is
 * logged and counted, not retried; a store failure throws so that EventBridge retries it (and its
 * dead-letter queue keeps it after the retry policy). It also takes an SQS batch of the audit
 * dead-letter queue (`{"reason", "event"}` messages): redrive is an event source mapping.
 */
import type { Logger } from "../shared/logger.ts";
import { auditEventSchema } from "./events.ts";
import type { AuditStore } from "./ports.ts";

/** The part of an EventBridge event the writer reads. */
export interface BusEvent {
  readonly source?: string;
  readonly "detail-type"?: string;
  readonly detail?: unknown;
}

/** An SQS event of the dead-letter queue (redrive: an event source mapping onto the writer). */
export interface SqsRedriveEvent {
  readonly Records: readonly { readonly body: string }[];
}

/** Bus events from a redrive batch: each message is `{"reason", "event"}` (adapters/sqs.ts). */
export function fromDeadLetters(e: SqsRedriveEvent): BusEvent[] {
  return e.Records.map((r) => {
    try {
      const m = JSON.parse(r.body) as { event?: unknown };
      return { source: "portcullis.audit", "detail-type": "redrive", detail: m.event };
    } catch {
      return { source: "portcullis.audit", "detail-type": "redrive", detail: undefined };
    }
  });
}

export interface AuditWriterResult {
  readonly written: number;
  readonly duplicates: number;
  readonly rejected: number;
}

export function createAuditWriter(deps: {
  readonly store: AuditStore;
  readonly log: Logger;
}): (events: BusEvent | readonly BusEvent[] | SqsRedriveEvent) => Promise<AuditWriterResult> {
  return async (input) => {
    const list: readonly BusEvent[] = Array.isArray(input)
      ? (input as readonly BusEvent[])
      : "Records" in (input as object)
        ? fromDeadLetters(input as SqsRedriveEvent)
        : [input as BusEvent];
    const valid = [];
    let rejected = 0;
    for (const e of list) {
      const r = auditEventSchema.safeParse(e.detail);
      if (r.success) valid.push(r.data);
      else {
        rejected++;
        deps.log.error("audit event rejected", {
          detail_type: e["detail-type"],
          issues: r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
        });
      }
    }
    const { written, duplicates } = valid.length
      ? await deps.store.put(valid)
      : { written: 0, duplicates: 0 };
    return { written, duplicates, rejected };
  };
}
