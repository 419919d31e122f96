/**
 * The audit pipeline in the Lambda shape: handlers fed API Gateway events with the EventBridge bus
 * (protocol-level stand-ins for EventBridge and SQS). The flush middleware delivers each
 * invocation's events before the invocation ends, spills at the deadline, writes EMF metrics, and
 * never changes a response; the audit writer (EventBridge rule target) stores what the bus carried,
 * idempotently, on DynamoDB Local.
 */
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import { DynamoDbAuditStore } from "../../src/audit/adapters/dynamodb.ts";
import { MemoryAuditStore } from "../../src/audit/adapters/memory.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { createAuditWriter } from "../../src/audit/writer.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint, useDynamoDbTables } from "../support/dynamodb.ts";
import { type EventBridgeStandin, startEventBridgeStandin } from "../support/eventbridge-standin.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";
import { type SqsStandin, startSqsStandin } from "../support/sqs-standin.ts";

const ADMIN = "admin-key-for-audit-functions";
const ddb = useDynamoDbTables();
let eb: EventBridgeStandin;
let sqs: SqsStandin;
let c: Container;

beforeAll(async () => {
  eb = await startEventBridgeStandin();
  sqs = await startSqsStandin();
  const config = configFromEnv(
    {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_LOG_LEVEL: "silent",
      PORTCULLIS_AUDIT_BUS: "eventbridge",
      PORTCULLIS_AUDIT_EVENT_BUS: "portcullis-audit",
      PORTCULLIS_AUDIT_EMF: "true",
      PORTCULLIS_EVENTBRIDGE_ENDPOINT: eb.url,
      PORTCULLIS_SQS_ENDPOINT: sqs.url,
      PORTCULLIS_AUDIT_DLQ_URL: sqs.queueUrl,
      PORTCULLIS_REGION: "eu-west-1",
    },
    { issuer: "http://localhost" },
  );
  c = createContainer(config);
});
afterAll(async () => {
  c?.audit.destroy();
  await eb?.close();
  await sqs?.close();
});

const ctx = (ms: number) => ({ ...lambdaContext, getRemainingTimeInMillis: () => ms }) as unknown as Context;
const detailTypes = () => eb.accepted.map((a) => a.entry.DetailType);

describe("audit flush middleware on Lambda handlers (EventBridge bus)", () => {
  it("delivers the invocation's event before the invocation returns, and writes one EMF line", async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    let res: Awaited<ReturnType<NonNullable<ReturnType<typeof createHandlers>["admin"]>>>;
    try {
      const h = createHandlers(c);
      res = await h.admin!(
        apiEvent({
          method: "POST",
          path: "/admin/v1/tenants",
          headers: bearer(ADMIN),
          body: { name: "Acme" },
        }),
        ctx(10_000),
      );
    } finally {
      spy.mockRestore();
    }
    expect(res.statusCode).toBe(201);
    expect(c.audit.bus.pending).toBe(0);
    expect(detailTypes()).toEqual(["tenant.created"]);
    const emf = writes.map((w) => JSON.parse(w)).find((j) => j._aws);
    expect(emf).toMatchObject({ Region: "eu-west-1", AuditEventsEmitted: 1, AuditEventsDelivered: 1 });
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe("Portcullis/Audit");
  });

  it("spills to SQS instead of retrying past the invocation deadline; the response is unchanged", async () => {
    eb.set({ failRate: 1 });
    const before = c.audit.metrics.totals.AuditEventsSpilled;
    const h = createHandlers(c);
    const res = await h.admin!(
      apiEvent({ method: "POST", path: "/admin/v1/tenants", headers: bearer(ADMIN), body: { name: "Late" } }),
      ctx(300),
    );
    eb.set({ failRate: 0 });
    expect(res.statusCode).toBe(201);
    expect(c.audit.metrics.totals.AuditEventsSpilled - before).toBe(1);
    const spilled = JSON.parse(sqs.messages.at(-1)!) as { event: AuditEvent };
    expect(spilled.event).toMatchObject({ type: "tenant.created", decision: "success" });
  });

  it("an outage of both EventBridge and SQS fails nothing: 201, counted, logged", async () => {
    eb.set({ requestFailRate: 1 });
    sqs.set({ down: true });
    const before = c.audit.metrics.totals.AuditSpillFailures;
    const res = await createHandlers(c).admin!(
      apiEvent({ method: "POST", path: "/admin/v1/tenants", headers: bearer(ADMIN), body: { name: "Down" } }),
      ctx(200),
    );
    eb.set({ requestFailRate: 0 });
    sqs.set({ down: false });
    expect(res.statusCode).toBe(201);
    expect(c.audit.metrics.totals.AuditSpillFailures - before).toBe(1);
  });
});

describe("audit writer (EventBridge rule target)", () => {
  it("stores what the bus carried, idempotently; malformed events are rejected, not retried", async () => {
    const store = new MemoryAuditStore({ retentionDays: 30, clock: systemClock });
    const write = createAuditWriter({ store, log: createLogger({ level: "silent" }) });
    const busEvents = eb.accepted.map((a) => ({
      source: a.entry.Source,
      "detail-type": a.entry.DetailType,
      detail: a.detail,
    }));
    expect(busEvents.length).toBeGreaterThan(0);
    expect(await write(busEvents)).toEqual({ written: busEvents.length, duplicates: 0, rejected: 0 });
    expect(await write(busEvents[0]!)).toEqual({ written: 0, duplicates: 1, rejected: 0 });
    expect(
      await write({ source: "portcullis.audit", "detail-type": "x", detail: { id: "nope" } }),
    ).toMatchObject({
      rejected: 1,
    });
  });

  it("redrives spilled events from the dead-letter queue's messages", async () => {
    const store = new MemoryAuditStore({ retentionDays: 30, clock: systemClock });
    const write = createAuditWriter({ store, log: createLogger({ level: "silent" }) });
    expect(sqs.messages.length).toBeGreaterThan(0);
    const r = await write({ Records: sqs.messages.map((body) => ({ body })) });
    expect(r).toEqual({ written: sqs.messages.length, duplicates: 0, rejected: 0 });
  });

  it("the Lambda entry writes to the audit table on DynamoDB Local", async () => {
    const prefix = ddb.names.audit.replace(/-audit$/, "");
    process.env.PORTCULLIS_TABLE_PREFIX = prefix;
    process.env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
    process.env.PORTCULLIS_LOG_LEVEL = "silent";
    const { handler } = await import("../../functions/audit-writer.ts");
    const a = eb.accepted[0]!;
    const event = { source: a.entry.Source, "detail-type": a.entry.DetailType, detail: a.detail };
    await handler(event, lambdaContext);
    await handler(event, lambdaContext);
    const store = new DynamoDbAuditStore(ddb.client, ddb.names.audit, {
      retentionDays: 365,
      clock: systemClock,
    });
    const tenant = (a.detail as AuditEvent).tenant;
    const page = await store.query(tenant, {}, { limit: 10 });
    expect(page.items.map((e) => e.id)).toEqual([(a.detail as AuditEvent).id]);
  });
});
