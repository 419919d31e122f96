/**
 * Lambda entry of the audit writer: the target of the EventBridge rule on
 * `source = portcullis.audit` (one event per invocation), and of an SQS event source mapping on the
 * audit dead-letter queue (redrive of spilled events). Stores into the `audit` table, idempotent by event id;
 * a store failure fails the invocation so EventBridge retries it (its own DLQ keeps the rest).
 * Reads only `PORTCULLIS_TABLE_PREFIX`, `PORTCULLIS_AUDIT_RETENTION_DAYS`, `PORTCULLIS_LOG_LEVEL`
 * and the region: no admin key, no signing keys.
 */
import middy from "@middy/core";
import { DynamoDbAuditStore } from "../src/audit/adapters/dynamodb.ts";
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

export const handler = middy<BusEvent | BusEvent[] | SqsRedriveEvent, void>().handler(async (event) => {
  const r = await write(event);
  log.info("audit events written", { ...r });
});
