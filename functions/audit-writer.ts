/**
 * Lambda entry of the audit writer: the target of the EventBridge rule on
 * `source = portcullis.audit` (one event per invocation), and of the SQS event source mappings
 * (disabled until a redrive) on the spill queue and on the store dead-letter queue (which also keeps
 * the audit forwarder's failed payloads). Stores into the
 * `audit` table, idempotent by event id; a store failure fails the invocation so it is retried
 * (Lambda's asynchronous retries, then the store dead-letter queue; an SQS batch returns to its queue).
 * Reads only `PORTCULLIS_TABLE_PREFIX`, `PORTCULLIS_AUDIT_RETENTION_DAYS`, `PORTCULLIS_LOG_LEVEL`
 * and the region: no admin key, no signing keys.
 */
import middy from "@middy/core";
import { DynamoDbAuditStore } from "../src/audit/adapters/dynamodb.ts";
import {
  auditEventsOf,
  decodeLogsEvent,
  isCloudWatchLogsEvent,
  logRejected,
} from "../src/audit/forwarder.ts";
import { type BusEvent, createAuditWriter, type SqsRedriveEvent } from "../src/audit/writer.ts";
import { systemClock } from "../src/shared/clock.ts";
import { createDynamoDbClient } from "../src/shared/dynamodb.ts";
import { createLogger, parseLogLevel } from "../src/shared/logger.ts";
import { tableNames } from "../src/shared/tables.ts";

const env = process.env;
const retentionDays = Number(env.PORTCULLIS_AUDIT_RETENTION_DAYS ?? 365);
if (!Number.isFinite(retentionDays) || retentionDays < 1)
  throw new Error("Invalid configuration: PORTCULLIS_AUDIT_RETENTION_DAYS");
const log = createLogger({ level: parseLogLevel(env.PORTCULLIS_LOG_LEVEL), base: { fn: "audit-writer" } });
const client = createDynamoDbClient({
  ...(env.PORTCULLIS_DYNAMODB_ENDPOINT ? { endpoint: env.PORTCULLIS_DYNAMODB_ENDPOINT } : {}),
});
const store = new DynamoDbAuditStore(
  client,
  tableNames(env.PORTCULLIS_TABLE_PREFIX ?? "portcullis-local").audit,
  {
    retentionDays,
    clock: systemClock,
  },
);
const write = createAuditWriter({ store, log });

/**
 * Redrive bodies in the shape the writer reads (`{"reason", "event"}`). Spill messages already are;
 * the store dead-letter queue holds whole EventBridge events (the rule's DeadLetterConfig and the
 * writer's own asynchronous DeadLetterConfig both keep the event as sent), whose `detail` is the
 * audit event, and the audit forwarder's payloads (its asynchronous DeadLetterConfig keeps the
 * CloudWatch Logs event as sent), one body per audit line. Anything else passes through and is
 * rejected (logged, counted) by the writer.
 */
export function redriveBodies(e: SqsRedriveEvent): SqsRedriveEvent {
  return {
    Records: e.Records.flatMap((r) => {
      let m: { event?: unknown; detail?: unknown } | undefined;
      try {
        m = JSON.parse(r.body) as typeof m;
      } catch {
        return [r]; // not JSON: left to the writer, which rejects it
      }
      if (!m || typeof m !== "object" || m.event !== undefined) return [r];
      if (m.detail !== undefined)
        return [{ body: JSON.stringify({ reason: "dead-letter", event: m.detail }) }];
      if (!isCloudWatchLogsEvent(m)) return [r];
      try {
        const payload = decodeLogsEvent(m);
        const { events, rejected } = auditEventsOf(payload);
        logRejected(log, payload, rejected);
        return events.map((event) => ({ body: JSON.stringify({ reason: "dead-letter", event }) }));
      } catch {
        return [r];
      }
    }),
  };
}

export const handler = middy<BusEvent | BusEvent[] | SqsRedriveEvent, void>().handler(async (event) => {
  const r = await write(
    !Array.isArray(event) && "Records" in event ? redriveBodies(event as SqsRedriveEvent) : event,
  );
  log.info("audit events written", { ...r });
});
