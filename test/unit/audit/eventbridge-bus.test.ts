import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  createEventBridgeClient,
  EventBridgeEventBus,
  PUT_EVENTS_MAX_BYTES,
} from "../../../src/audit/adapters/eventbridge.ts";
import { createSqsClient, SqsDeadLetters } from "../../../src/audit/adapters/sqs.ts";
import { AuditEmitter } from "../../../src/audit/emitter.ts";
import { type AuditEvent, parseAuditEvent } from "../../../src/audit/events.ts";
import { AuditMetrics } from "../../../src/audit/metrics.ts";
import { systemClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { createLogger } from "../../../src/shared/logger.ts";
import { type EventBridgeStandin, startEventBridgeStandin } from "../../support/eventbridge-standin.ts";
import { type SqsStandin, startSqsStandin } from "../../support/sqs-standin.ts";

let eb: EventBridgeStandin;
let sqs: SqsStandin;
beforeAll(async () => {
  eb = await startEventBridgeStandin();
  sqs = await startSqsStandin();
});
afterAll(async () => {
  await eb?.close();
  await sqs?.close();
});

function setup(options: { maxAttempts?: number; autoFlushAt?: number } = {}) {
  const metrics = new AuditMetrics();
  const logged: string[] = [];
  const log = createLogger({ level: "error", write: (l) => logged.push(l) });
  const client = createEventBridgeClient({ endpoint: eb.url });
  const sqsClient = createSqsClient({ endpoint: sqs.url });
  const bus = new EventBridgeEventBus({
    client,
    eventBusName: "portcullis-audit",
    deadLetters: new SqsDeadLetters(sqsClient, sqs.queueUrl),
    metrics,
    log,
    clock: systemClock,
    baseDelayMs: 1,
    maxDelayMs: 4,
    ...options,
  });
  const emitter = new AuditEmitter({
    bus,
    clock: systemClock,
    ids: ulidGenerator,
    region: "eu-west-1",
    metrics,
    log,
  });
  const reset = () => {
    eb.accepted.length = 0;
    sqs.messages.length = 0;
    Object.assign(eb.stats, { requests: 0, failedEntries: 0, failedRequests: 0, maxEntries: 0, maxBytes: 0 });
  };
  reset();
  return {
    bus,
    emitter,
    metrics,
    logged,
    close: () => {
      client.destroy();
      sqsClient.destroy();
    },
  };
}

const check = (i: number, allowed: boolean) => ({
  type: "authz.check" as const,
  tenant: "01JTENANT0000000000000000A",
  actor: "credential:01JKEY00000000000000000000",
  subject: `user:u${i}`,
  resource: `document:d${i}`,
  action: "viewer",
  decision: allowed ? ("allow" as const) : ("deny" as const),
  reason: allowed ? "document:d#viewer <- user:u" : "no path",
  model_id: "01JMODEL000000000000000000",
  latency_ms: 0.4,
});

describe("EventBridge event bus (protocol-level stand-ins)", () => {
  it("batches 10 entries per PutEvents through the real SDK serialisation", async () => {
    eb.set({ failRate: 0, requestFailRate: 0 });
    const s = setup();
    for (let i = 0; i < 95; i++) s.emitter.emit(check(i, i % 2 === 0));
    expect(s.bus.pending).toBe(95);
    await s.emitter.flush();
    expect(eb.stats.requests).toBe(10);
    expect(eb.stats.maxEntries).toBe(10);
    expect(eb.accepted).toHaveLength(95);
    const first = eb.accepted[0]!;
    expect(first.entry).toMatchObject({
      Source: "portcullis.audit",
      DetailType: "authz.check",
      EventBusName: "portcullis-audit",
    });
    expect(typeof first.entry.Time).toBe("number");
    parseAuditEvent(first.detail);
    expect(s.metrics.totals).toMatchObject({
      AuditEventsDelivered: 95,
      DecisionsAllowed: 48,
      DecisionsDenied: 47,
    });
    s.close();
  });

  it("splits batches at 256 KB and spills an entry that alone exceeds it", () => {
    const big = (n: number): AuditEvent => ({
      ...parseAuditEvent({
        v: 1,
        id: ulidGenerator.ulid(),
        time: new Date().toISOString(),
        region: "r",
        ...check(n, true),
      }),
      detail: { blob: "x".repeat(60_000) },
    });
    const { batches, oversized } = batchesOf([big(1), big(2), big(3), big(4), big(5)], "b");
    expect(oversized).toHaveLength(0);
    expect(batches.map((b) => b.entries.length)).toEqual([4, 1]);
    const huge = { ...big(6), detail: { a: "x".repeat(PUT_EVENTS_MAX_BYTES) } };
    expect(batchesOf([huge], "b").oversized).toHaveLength(1);
  });

  it("retries only the failed entries, then spills to SQS with a count", async () => {
    eb.set({ failRate: 0.5, seed: 7 });
    const s = setup({ maxAttempts: 2 });
    for (let i = 0; i < 200; i++) s.emitter.emit(check(i, true));
    await s.emitter.flush();
    const t = s.metrics.totals;
    // Each retry re-sends only entries that failed: no event is accepted twice.
    const ids = eb.accepted.map((a) => (a.detail as AuditEvent).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(t.AuditRetries).toBeGreaterThan(0);
    expect(t.AuditRetries).toBeLessThan(200);
    expect(t.AuditEventsSpilled).toBe(sqs.messages.length);
    expect(t.AuditEventsSpilled).toBeGreaterThan(0);
    expect(t.AuditEventsDelivered + t.AuditEventsSpilled).toBe(200);
    const spilled = JSON.parse(sqs.messages[0]!) as { reason: string; event: AuditEvent };
    expect(spilled.reason).toMatch(/InternalFailure|ThrottlingException/);
    parseAuditEvent(spilled.event);
    s.close();
  });

  it("retries the dead-letter entries SQS reports failed (partial SendMessageBatch failure)", async () => {
    eb.set({ failRate: 1, requestFailRate: 0 });
    sqs.set({ failRate: 0.3 });
    const s = setup({ maxAttempts: 1 });
    for (let i = 0; i < 40; i++) s.emitter.emit(check(i, true));
    await s.emitter.flush();
    sqs.set({ failRate: 0 });
    eb.set({ failRate: 0 });
    expect(sqs.stats.failedEntries).toBeGreaterThan(0);
    expect(s.metrics.totals.AuditEventsSpilled).toBe(40);
    expect(s.metrics.totals.AuditSpillFailures).toBe(0);
    const ids = sqs.messages.map((m) => (JSON.parse(m) as { event: AuditEvent }).event.id);
    expect(new Set(ids).size).toBe(40);
    s.close();
  });

  it("never throws and logs in full what even the dead-letter queue refused", async () => {
    eb.set({ failRate: 1 });
    sqs.set({ down: true });
    const s = setup({ maxAttempts: 2 });
    for (let i = 0; i < 3; i++) s.emitter.emit(check(i, false));
    await expect(s.emitter.flush()).resolves.toBeUndefined();
    expect(s.metrics.totals.AuditSpillFailures).toBe(3);
    expect(s.logged.filter((l) => l.includes("audit event not delivered"))).toHaveLength(3);
    sqs.set({ down: false });
    s.close();
  });

  it("a whole-request failure is retried and the invocation deadline spills instead of waiting", async () => {
    eb.set({ failRate: 0, requestFailRate: 1 });
    const s = setup({ maxAttempts: 10 });
    for (let i = 0; i < 10; i++) s.emitter.emit(check(i, true));
    await s.bus.flush({ deadline: Date.now() - 1 });
    expect(s.metrics.totals.AuditEventsSpilled).toBe(10);
    // One attempt of the bus (the SDK itself retries a 5xx once): no backoff past the deadline.
    expect(eb.stats.requests).toBeLessThanOrEqual(2);
    eb.set({ requestFailRate: 0 });
    s.close();
  });

  it("burst: 10,000 checks with 20% of entries failing loses nothing (delivered or spilled, counted)", async () => {
    eb.set({ failRate: 0.2, requestFailRate: 0, seed: 42 });
    const s = setup({ maxAttempts: 3, autoFlushAt: 500 });
    const n = 10_000;
    for (let i = 0; i < n; i++) s.emitter.emit(check(i, i % 3 !== 0));
    await s.emitter.flush();
    const t = s.metrics.totals;
    const delivered = new Set(eb.accepted.map((a) => (a.detail as AuditEvent).id));
    const spilled = new Set(sqs.messages.map((m) => (JSON.parse(m) as { event: AuditEvent }).event.id));
    expect(delivered.size).toBe(eb.accepted.length);
    for (const id of spilled) expect(delivered.has(id)).toBe(false);
    expect(delivered.size + spilled.size).toBe(n);
    expect(t.AuditEventsDelivered).toBe(delivered.size);
    expect(t.AuditEventsSpilled).toBe(spilled.size);
    expect(t.AuditSpillFailures).toBe(0);
    expect(t.AuditEventsEmitted).toBe(n);
    expect(eb.stats.failedEntries).toBeGreaterThan(1500);
    expect(spilled.size).toBeGreaterThan(0); // 0.2^3 of 10k ≈ 80
    s.close();
  }, 60_000);
});
