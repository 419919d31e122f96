/**
 * The `log` audit transport, end to end in the Lambda shape: handlers with `PORTCULLIS_AUDIT_BUS=log`
 * write one audit line per event to standard output within the invocation; the lines, delivered as
 * CloudWatch Logs delivers a subscription (gzip, base64, `logEvents` mixed with the function's other
 * lines), go through the audit forwarder's Lambda entry onto EventBridge (protocol-level stand-in,
 * real SDK serialisation), spilling to SQS (stand-in) what EventBridge refuses; the audit writer
 * stores what the bus carried on DynamoDB Local, where the query API reads it.
 */
import { gzipSync } from "node:zlib";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import { DynamoDbAuditStore } from "../../src/audit/adapters/dynamodb.ts";
import { AUDIT_LINE_START, auditLine } from "../../src/audit/adapters/log-lines.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { createAuditWriter } from "../../src/audit/writer.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { InvocationOutput } from "../../src/shared/stdout.ts";
import { checkEventAt } from "../support/audit-events.ts";
import { subscriptionDelivery } from "../support/cloudwatch-logs.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { type EventBridgeStandin, startEventBridgeStandin } from "../support/eventbridge-standin.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";
import { DOCUMENT_VIEWER_MODEL } from "../support/models.ts";
import { type SqsStandin, startSqsStandin } from "../support/sqs-standin.ts";
import { captureStdout, captureWrites } from "../support/stdout.ts";

const ADMIN = "admin-key-for-audit-log-transport";
const ddb = useDynamoDbTables();
let eb: EventBridgeStandin;
let sqs: SqsStandin;
let c: Container;
let forwarder: (event: unknown, context: Context) => Promise<void>;

/** A Lambda context; the forwarder's account (in its ARN) is the deliveries' `owner`. */
const ctx = (ms = 10_000) =>
  ({
    ...lambdaContext,
    getRemainingTimeInMillis: () => ms,
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:portcullis-test-audit-forwarder",
  }) as unknown as Context;

const capture = (f: () => Promise<unknown>) => captureStdout(f);

/** An event of this region (the forwarder takes no other), `i` ms into 2099. */
const eventAt = (tenant: string, i: number) =>
  checkEventAt(tenant, i, Date.UTC(2099, 0, 1), { region: "eu-west-1" });

const isAuditLine = (l: string) => l.startsWith(AUDIT_LINE_START);
const eventOf = (line: string) => (JSON.parse(line) as { event: AuditEvent }).event;

const delivery = (lines: readonly string[], messageType?: string) =>
  subscriptionDelivery(lines, messageType ? { messageType } : {});

beforeAll(async () => {
  eb = await startEventBridgeStandin();
  sqs = await startSqsStandin();
  c = createContainer(
    configFromEnv(
      {
        PORTCULLIS_ADMIN_KEY: ADMIN,
        PORTCULLIS_LOG_LEVEL: "silent",
        PORTCULLIS_AUDIT_BUS: "log",
        PORTCULLIS_SQS_ENDPOINT: sqs.url,
        PORTCULLIS_AUDIT_DLQ_URL: sqs.queueUrl,
        PORTCULLIS_REGION: "eu-west-1",
      },
      { issuer: "http://localhost" },
    ),
  );
  // The forwarder's entry, configured as the Audit stack configures it.
  Object.assign(process.env, {
    PORTCULLIS_REGION: "eu-west-1",
    PORTCULLIS_EVENT_BUS: "portcullis-test-audit",
    PORTCULLIS_AUDIT_DLQ_URL: sqs.queueUrl,
    PORTCULLIS_EVENTBRIDGE_ENDPOINT: eb.url,
    PORTCULLIS_SQS_ENDPOINT: sqs.url,
    PORTCULLIS_AUDIT_LOG_GROUP_PREFIX: "/portcullis/test/functions/",
    // Its error lines are captured with its standard output in every call below.
    PORTCULLIS_LOG_LEVEL: "error",
  });
  forwarder = (await import("../../functions/audit-forwarder.ts")).handler as unknown as typeof forwarder;
});
afterAll(async () => {
  await c?.audit.destroy();
  await eb?.close();
  await sqs?.close();
  for (const k of [
    "PORTCULLIS_REGION",
    "PORTCULLIS_EVENT_BUS",
    "PORTCULLIS_AUDIT_DLQ_URL",
    "PORTCULLIS_EVENTBRIDGE_ENDPOINT",
    "PORTCULLIS_SQS_ENDPOINT",
    "PORTCULLIS_AUDIT_LOG_GROUP_PREFIX",
    "PORTCULLIS_LOG_LEVEL",
  ])
    delete process.env[k];
});

/** POSTs to the authz handler with the credential `key()` names; expects a 2xx, answers its JSON. */
const authzCall =
  (h: ReturnType<typeof createHandlers>, key: () => string) => async (path: string, body: unknown) => {
    const res = await h.authz!(apiEvent({ method: "POST", path, headers: bearer(key()), body }), ctx());
    expect(res.statusCode, path).toBeLessThan(300);
    return JSON.parse(res.body ?? "{}") as Record<string, string>;
  };

describe("log transport: handlers → audit lines → forwarder → EventBridge → writer → audit table", () => {
  it("every decision reaches the table exactly once, through lines written inside each invocation", async () => {
    const h = createHandlers(c);
    let key = "";
    let storeId = "";
    const authz = authzCall(h, () => key);
    // One invocation at a time, as Lambda runs them; each one's lines are written before it returns.
    const perInvocation: string[][] = [];
    const invoke = async (f: () => Promise<unknown>) => {
      const lines = await capture(f);
      perInvocation.push(lines);
      return lines;
    };
    const created = await invoke(async () => {
      const res = await h.admin!(
        apiEvent({
          method: "POST",
          path: "/admin/v1/tenants",
          headers: bearer(ADMIN),
          body: { name: "Acme" },
        }),
        ctx(),
      );
      expect(res.statusCode).toBe(201);
      const tenant = JSON.parse(res.body ?? "{}") as { id: string };
      key = (await c.tenants.createApiKey(tenant.id, "k")).key;
    });
    expect(created.filter(isAuditLine).map((l) => eventOf(l).type)).toEqual(["tenant.created"]);
    await invoke(async () => {
      storeId = (await authz("/stores", { name: "docs" })).id!;
    });
    await invoke(() => authz(`/stores/${storeId}/authorization-models`, DOCUMENT_VIEWER_MODEL));
    await invoke(() =>
      authz(`/stores/${storeId}/write`, {
        writes: {
          tuple_keys: [
            { user: "user:anne", relation: "viewer", object: "document:roadmap" },
            { user: "user:bob", relation: "viewer", object: "document:budget" },
          ],
        },
      }),
    );
    const check = (user: string) => ({ tuple_key: { user, relation: "viewer", object: "document:roadmap" } });
    await invoke(() => authz(`/stores/${storeId}/check`, check("user:anne")));
    await invoke(() => authz(`/stores/${storeId}/check`, check("user:carl")));
    await invoke(() =>
      authz(`/stores/${storeId}/batch-check`, {
        checks: [
          { ...check("user:anne"), correlation_id: "a" },
          { ...check("user:bob"), correlation_id: "b" },
        ],
      }),
    );
    await invoke(() =>
      authz(`/stores/${storeId}/list-objects`, { type: "document", relation: "viewer", user: "user:anne" }),
    );

    // Each invocation wrote its events, and nothing else: no EMF line when nothing went wrong (the
    // forwarder counts decisions and events from the lines); nothing left queued.
    expect(c.audit.bus.pending).toBe(0);
    for (const lines of perInvocation) expect(lines.every(isAuditLine)).toBe(true);
    const all = perInvocation.flat();
    const events = all.filter(isAuditLine).map(eventOf);
    expect(events.map((e) => e.type)).toEqual([
      "tenant.created",
      "authz.store.created",
      "authz.model.written",
      "authz.tuples.written",
      "authz.tuples.written",
      "authz.check",
      "authz.check",
      "authz.check",
      "authz.check",
      "authz.list_objects",
    ]);
    expect(events.filter((e) => e.type === "authz.check").map((e) => [e.subject, e.decision])).toEqual([
      ["user:anne", "allow"],
      ["user:carl", "deny"],
      ["user:anne", "allow"],
      ["user:bob", "deny"],
    ]);
    expect(c.audit.metrics.totals.AuditEventsLogged).toBe(events.length);
    expect(c.audit.metrics.totals.AuditEventsEmitted).toBe(events.length);

    // CloudWatch Logs delivers the lines of the log group that match the filter (a term): other
    // lines mentioning it reach the forwarder too, which skips them.
    const accepted0 = eb.accepted.length;
    const noise = [
      '{"level":"info","msg":"request","note":"portcullis_audit"}',
      "START RequestId: 0f0c Version: $LATEST",
    ];
    const out = await capture(() => forwarder(delivery([...noise, ...all]), ctx(30_000)));
    const onBus = eb.accepted.slice(accepted0);
    expect(onBus.map((a) => (a.detail as AuditEvent).id)).toEqual(events.map((e) => e.id));
    expect(onBus.map((a) => a.entry.DetailType)).toEqual(events.map((e) => e.type));
    expect(onBus.every((a) => a.entry.Source === "portcullis.audit")).toBe(true);
    expect(onBus.every((a) => a.entry.EventBusName === "portcullis-test-audit")).toBe(true);
    // The forwarder's EMF line: delivered, with the lag from the decisions.
    const emf = out.map((l) => JSON.parse(l) as Record<string, unknown>).find((j) => j._aws);
    expect(emf).toMatchObject({
      Region: "eu-west-1",
      AuditEventsEmitted: events.length,
      AuditEventsDelivered: events.length,
      DecisionsAllowed: events.filter((e) => e.decision === "allow").length,
      DecisionsDenied: 2,
    });
    expect(emf!.AuditEventLag).toBeGreaterThanOrEqual(0);

    // The same payload again (Lambda's retry of the forwarder): the events go on the bus again.
    await capture(() => forwarder(delivery(all), ctx(30_000)));
    const again = eb.accepted.slice(accepted0 + events.length);
    expect(again.map((a) => (a.detail as AuditEvent).id)).toEqual(events.map((e) => e.id));

    // The writer, the store rule's target, stores each event once, however often the bus carried it.
    const store = new DynamoDbAuditStore(ddb.client, ddb.names.audit, {
      retentionDays: 365,
      clock: systemClock,
    });
    const write = createAuditWriter({ store, log: createLogger({ level: "silent" }) });
    const busEvents = (xs: typeof onBus) =>
      xs.map((a) => ({ source: a.entry.Source, "detail-type": a.entry.DetailType, detail: a.detail }));
    expect(await write(busEvents(onBus))).toEqual({ written: events.length, duplicates: 0, rejected: 0 });
    expect(await write(busEvents(again))).toEqual({ written: 0, duplicates: events.length, rejected: 0 });
    // All of them are the new tenant's (its creation included), in the query API's order.
    const tenant = events.find((e) => e.type === "authz.check")!.tenant;
    expect(events.every((e) => e.tenant === tenant)).toBe(true);
    const page = await store.query(tenant, {}, { limit: 50 });
    expect(page.items.map((e) => e.id)).toEqual(events.map((e) => e.id).reverse());
  });

  it("a write that fails spills the invocation's events to SQS; then, and only then, the function writes an EMF line, of what went wrong", async () => {
    const h = createHandlers(c);
    const messages0 = sqs.messages.length;
    let status: number | undefined;
    const written = await captureStdout(
      async () => {
        status = (
          await h.admin!(
            apiEvent({
              method: "POST",
              path: "/admin/v1/tenants",
              headers: bearer(ADMIN),
              body: { name: "Pipe" },
            }),
            ctx(),
          )
        ).statusCode;
      },
      // write(2) on a standard output whose reader is gone.
      {
        failWrite: (chunk) =>
          chunk.startsWith(AUDIT_LINE_START)
            ? Object.assign(new Error("EPIPE"), { code: "EPIPE" })
            : undefined,
      },
    );
    expect(status).toBe(201);
    const spilled = sqs.messages
      .slice(messages0)
      .map((m) => JSON.parse(m) as { reason: string; event: AuditEvent });
    expect(spilled.map((m) => [m.reason, m.event.type])).toEqual([["log write failed", "tenant.created"]]);
    const emf = written.map((l) => JSON.parse(l) as Record<string, unknown>).filter((j) => j._aws);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ Region: "eu-west-1", AuditEventsSpilled: 1 });
    // Only what went wrong: the routine counters are the forwarder's.
    expect(emf[0]!.AuditEventsEmitted).toBeUndefined();
    expect(emf[0]!.DecisionsAllowed).toBeUndefined();
  });

  it("in a Lambda function, an invocation's log lines and audit lines go out in one write; if it fails, the events are spilled", async () => {
    // As the function entries build their container (functions/_shared/from-env.ts).
    const lc = createContainer(
      configFromEnv(
        {
          PORTCULLIS_ADMIN_KEY: ADMIN,
          PORTCULLIS_LOG_LEVEL: "info",
          PORTCULLIS_AUDIT_BUS: "log",
          PORTCULLIS_SQS_ENDPOINT: sqs.url,
          PORTCULLIS_AUDIT_DLQ_URL: sqs.queueUrl,
          PORTCULLIS_REGION: "eu-west-1",
        },
        { issuer: "http://localhost" },
      ),
      { output: new InvocationOutput() },
    );
    try {
      const h = createHandlers(lc);
      const create = (name: string) =>
        h.admin!(
          apiEvent({ method: "POST", path: "/admin/v1/tenants", headers: bearer(ADMIN), body: { name } }),
          ctx(),
        );
      const writes = await captureWrites(async () => expect((await create("One")).statusCode).toBe(201));
      expect(writes).toHaveLength(1);
      const lines = writes[0]!.split("\n").filter(Boolean);
      expect(
        lines.map((l) => (isAuditLine(l) ? eventOf(l).type : (JSON.parse(l) as { msg: string }).msg)),
      ).toEqual([
        "request", // the access line, held until the end of the invocation
        "tenant.created",
      ]);
      // Outside an invocation, lines go out as they come.
      const outside = await captureWrites(async () => lc.log.info("cold start"));
      expect(outside).toHaveLength(1);

      const messages0 = sqs.messages.length;
      const failed = await captureWrites(async () => expect((await create("Two")).statusCode).toBe(201), {
        failWrite: (chunk) =>
          chunk.includes(AUDIT_LINE_START) ? Object.assign(new Error("EPIPE"), { code: "EPIPE" }) : undefined,
      });
      const spilled = sqs.messages.slice(messages0).map((m) => JSON.parse(m) as { event: AuditEvent });
      expect(spilled.map((m) => m.event.type)).toEqual(["tenant.created"]);
      // What went out after: the error line of the failed write, then the EMF line of the spill.
      expect(failed.join("")).toContain("audit log write failed");
      expect(failed.join("")).toContain('"AuditEventsSpilled":1');
    } finally {
      await lc.audit.destroy();
    }
  });

  it("a burst of 10,000 checks, EventBridge failing 20% of entries: every decision is delivered or spilled, counted", async () => {
    // 10,000 check invocations of the authz handler, as Lambda runs them, one after the other.
    const h = createHandlers(c);
    let key = "";
    let storeId = "";
    const authz = authzCall(h, () => key);
    const setup = await capture(async () => {
      const tenant = await c.tenants.create("burst");
      key = (await c.tenants.createApiKey(tenant.id, "k")).key;
      storeId = (await authz("/stores", { name: "burst" })).id!;
      await authz(`/stores/${storeId}/authorization-models`, DOCUMENT_VIEWER_MODEL);
      await authz(`/stores/${storeId}/write`, {
        writes: { tuple_keys: [{ user: "user:u0", relation: "viewer", object: "document:d0" }] },
      });
    });
    const lines = await capture(async () => {
      for (let i = 0; i < 10_000; i++)
        await authz(`/stores/${storeId}/check`, {
          tuple_key: { user: `user:u${i % 2}`, relation: "viewer", object: "document:d0" },
        });
    });
    const checks = lines.filter(isAuditLine);
    expect(checks).toHaveLength(10_000);
    const ids = checks.map((l) => eventOf(l).id);

    eb.set({ failRate: 0.2 });
    const accepted0 = eb.accepted.length;
    const spilled0 = sqs.messages.length;
    const out: string[] = [];
    try {
      // Deliveries of 1,000 lines, as CloudWatch Logs batches a busy log stream.
      for (let i = 0; i < checks.length; i += 1000)
        out.push(...(await capture(() => forwarder(delivery(checks.slice(i, i + 1000)), ctx(60_000)))));
    } finally {
      eb.set({ failRate: 0 });
    }
    const delivered = new Set(eb.accepted.slice(accepted0).map((a) => (a.detail as AuditEvent).id));
    const spilled = new Set(
      sqs.messages.slice(spilled0).map((m) => (JSON.parse(m) as { event: AuditEvent }).event.id),
    );
    for (const id of ids) expect(delivered.has(id) || spilled.has(id), id).toBe(true);
    expect(eb.stats.failedEntries).toBeGreaterThan(0);
    const emf = out.map((l) => JSON.parse(l) as Record<string, number>).filter((j) => j._aws);
    const sum = (k: string) => emf.reduce((n, j) => n + (j[k] ?? 0), 0);
    expect(sum("AuditEventsDelivered")).toBe(delivered.size);
    expect(sum("AuditEventsDelivered") + sum("AuditEventsSpilled")).toBe(10_000);
    expect(sum("AuditEntriesFailed")).toBeGreaterThan(0);
    expect(sum("DecisionsAllowed")).toBe(5_000);
    expect(sum("DecisionsDenied")).toBe(5_000);
    expect(setup.filter(isAuditLine).map((l) => eventOf(l).type)).toEqual([
      "authz.store.created",
      "authz.model.written",
      "authz.tuples.written",
    ]);
  }, 120_000);

  it("an unreadable audit line is rejected (counted, located, never logged whole); the others go through", async () => {
    const [a, b] = [eventAt("t-bad", 1), eventAt("t-bad", 2)];
    const truncated = auditLine(b).slice(0, 120);
    const invalid = `${AUDIT_LINE_START}1,"event":{"id":"not-an-id","secret":"hunter2"}}`;
    const accepted0 = eb.accepted.length;
    const out = await capture(() =>
      forwarder(delivery([auditLine(a), truncated, invalid, "START RequestId: x Version: $LATEST"]), ctx()),
    );
    expect(eb.accepted.slice(accepted0).map((x) => (x.detail as AuditEvent).id)).toEqual([a.id]);
    const json = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.find((j) => j._aws)).toMatchObject({ AuditEventsRejected: 2, AuditEventsDelivered: 1 });
    // Where each rejected line is (log group, stream, log event id), and why; never its content.
    const rejected = json.filter((j) => j.msg === "audit line rejected");
    expect(rejected.map((j) => [j.logGroup, j.logEventId])).toEqual([
      ["/portcullis/test/functions/authz", "36000001"],
      ["/portcullis/test/functions/authz", "36000002"],
    ]);
    const logged = out.join("\n");
    expect(logged).not.toContain("hunter2");
    expect(logged).not.toContain(b.id);
  });

  it("a control message forwards nothing; input that is not a delivery is rejected; a delivery that does not decode fails (retried, dead-lettered)", async () => {
    const accepted0 = eb.accepted.length;
    const out = await capture(() => forwarder(delivery([], "CONTROL_MESSAGE"), ctx()));
    expect(eb.accepted.length).toBe(accepted0);
    expect(out.filter((l) => l.includes('"_aws"'))).toEqual([]);
    const bad = await capture(() => forwarder({ records: [] }, ctx()));
    const emf = bad.map((l) => JSON.parse(l) as Record<string, number>).find((j) => j._aws);
    expect(emf).toMatchObject({ AuditEventsRejected: 1 });
    await expect(capture(() => forwarder({ awslogs: { data: "bm90IGd6aXA=" } }, ctx()))).rejects.toThrow();
    // A decompression bomb: refused past 16 MiB, before it is held as one string.
    const bomb = { awslogs: { data: gzipSync(Buffer.alloc(32 * 1024 * 1024, 32)).toString("base64") } };
    await expect(capture(() => forwarder(bomb, ctx()))).rejects.toThrow(/buffer|length|large/i);
    expect(eb.accepted.length).toBe(accepted0);
  });

  it("takes lines only from this account's emitting log groups, naming this region", async () => {
    const e = eventAt("t-src", 1);
    const elsewhere = { ...eventAt("t-src", 2), region: "us-east-1" };
    const accepted0 = eb.accepted.length;
    const from = (options: { owner?: string; logGroup?: string }, lines = [auditLine(e)], context = ctx()) =>
      capture(() => forwarder(subscriptionDelivery(lines, options), context));
    const emfOf = (out: string[]) =>
      out.map((l) => JSON.parse(l) as Record<string, number>).find((j) => j._aws);
    expect(emfOf(await from({ owner: "210987654321" }))).toMatchObject({ AuditEventsRejected: 1 });
    expect(emfOf(await from({ logGroup: "/aws/lambda/someone-else" }))).toMatchObject({
      AuditEventsRejected: 1,
    });
    const mixed = await from({}, [auditLine(elsewhere), auditLine(e)]);
    expect(emfOf(mixed)).toMatchObject({ AuditEventsRejected: 1, AuditEventsDelivered: 1 });
    // Located like any rejected line: its log event.
    expect(
      mixed.map((l) => JSON.parse(l) as Record<string, unknown>).find((j) => j.msg === "audit line rejected"),
    ).toMatchObject({ logEventId: "36000000", why: "event of region us-east-1, not eu-west-1" });
    // Without the account of its own ARN, the forwarder takes nothing (it fails closed).
    expect(
      emfOf(await from({}, [auditLine(e)], { ...ctx(), invokedFunctionArn: "" } as Context)),
    ).toMatchObject({
      AuditEventsRejected: 1,
    });
    expect(eb.accepted.slice(accepted0).map((a) => (a.detail as AuditEvent).id)).toEqual([e.id]);
  });

  it("with EventBridge and SQS both down, the forwarder fails the invocation (Lambda retries, then dead-letters)", async () => {
    eb.set({ requestFailRate: 1 });
    sqs.set({ down: true });
    const e = eventAt("t-down", 1);
    try {
      await expect(capture(() => forwarder(delivery([auditLine(e)]), ctx(2_000)))).rejects.toThrow(
        /neither delivered nor spilled/,
      );
    } finally {
      eb.set({ requestFailRate: 0 });
      sqs.set({ down: false });
    }
  });
});
