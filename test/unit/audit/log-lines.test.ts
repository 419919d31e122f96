/**
 * The log-line event bus (src/audit/adapters/log-lines.ts): one synchronous write of one JSON line
 * per event; what cannot be written whole, or when the write fails, goes to the dead-letter queue
 * (SQS stand-in), counted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUDIT_LINE_FILTER_PATTERN,
  AUDIT_LINE_MARKER,
  AUDIT_LINE_START,
  auditLine,
  LogLineEventBus,
  MAX_AUDIT_LINE_BYTES,
} from "../../../src/audit/adapters/log-lines.ts";
import { createSqsClient, SqsDeadLetters } from "../../../src/audit/adapters/sqs.ts";
import type { AuditEvent } from "../../../src/audit/events.ts";
import { auditEventsOf } from "../../../src/audit/forwarder.ts";
import { AuditMetrics } from "../../../src/audit/metrics.ts";
import { createLogger } from "../../../src/shared/logger.ts";
import { checkEventAt } from "../../support/audit-events.ts";
import { type SqsStandin, startSqsStandin } from "../../support/sqs-standin.ts";

let sqs: SqsStandin;
let client: ReturnType<typeof createSqsClient>;
beforeAll(async () => {
  sqs = await startSqsStandin();
  client = createSqsClient({ endpoint: sqs.url });
});
afterAll(async () => {
  client?.destroy();
  await sqs?.close();
});

const T0 = Date.UTC(2099, 0, 1);

function busWith(write: (chunk: string) => void) {
  const metrics = new AuditMetrics();
  const logs: string[] = [];
  const bus = new LogLineEventBus({
    deadLetters: new SqsDeadLetters(client, sqs.queueUrl),
    metrics,
    log: createLogger({ level: "error", write: (l) => logs.push(l) }),
    write,
  });
  return { bus, metrics, logs };
}

describe("LogLineEventBus", () => {
  it("writes everything queued in one write, one audit line per event, read back whole by the forwarder", () => {
    const writes: string[] = [];
    const { bus, metrics } = busWith((c) => writes.push(c));
    const events = [1, 2, 3].map((i) => checkEventAt("t1", i, T0));
    for (const e of events) bus.publish(e);
    expect(bus.pending).toBe(3);
    expect(writes).toEqual([]);
    expect(bus.flushSync()).toBe(true);
    expect(bus.pending).toBe(0);
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split("\n");
    expect(lines.pop()).toBe(""); // newline-terminated
    expect(lines).toEqual(events.map(auditLine));
    // The subscription filter's term is in every line, at its start (a line cut short keeps it).
    expect(AUDIT_LINE_FILTER_PATTERN).toBe(`"${AUDIT_LINE_MARKER}"`);
    for (const l of lines) {
      expect(l.startsWith(AUDIT_LINE_START)).toBe(true);
      expect((JSON.parse(l) as Record<string, unknown>)[AUDIT_LINE_MARKER]).toBe(1);
    }
    const read = auditEventsOf({
      messageType: "DATA_MESSAGE",
      logEvents: lines.map((message) => ({ message })),
    });
    expect(read).toEqual({ events, rejected: [], skipped: 0 });
    expect(metrics.totals.AuditEventsLogged).toBe(3);
    // Nothing queued: nothing written.
    expect(bus.flushSync()).toBe(true);
    expect(writes).toHaveLength(1);
  });

  it("an event whose line CloudWatch Logs would not take whole is spilled, not written; the rest is written", async () => {
    const writes: string[] = [];
    const { bus, metrics } = busWith((c) => writes.push(c));
    const small = checkEventAt("t1", 1, T0);
    // 100,000 three-byte characters: under the limit in UTF-16 units, over it in UTF-8 bytes.
    const wide = checkEventAt("t1", 2, T0, { reason: "€".repeat(100_000) });
    expect(auditLine(wide).length).toBeLessThan(MAX_AUDIT_LINE_BYTES);
    expect(Buffer.byteLength(auditLine(wide))).toBeGreaterThan(MAX_AUDIT_LINE_BYTES);
    const near = checkEventAt("t1", 3, T0, { reason: "x".repeat(200_000) });
    const messages0 = sqs.messages.length;
    for (const e of [small, wide, near]) bus.publish(e);
    expect(bus.flushSync()).toBe(false); // the spill is under way
    await bus.flush();
    expect(writes.join("").split("\n").filter(Boolean)).toEqual([auditLine(small), auditLine(near)]);
    expect(metrics.totals.AuditEventsLogged).toBe(2);
    // The SQS message limit is 256 KB too: the spill queue refuses it, counted and logged.
    expect(sqs.messages.length).toBe(messages0);
    expect(metrics.totals.AuditSpillFailures).toBe(1);
  });

  it("a failed write spills the events to the dead-letter queue; flush resolves once they are there", async () => {
    const { bus, metrics, logs } = busWith(() => {
      throw Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    });
    const events = [1, 2].map((i) => checkEventAt("t1", i, T0, { reason: "secret-free" }));
    const messages0 = sqs.messages.length;
    for (const e of events) bus.publish(e);
    await bus.flush();
    const spilled = sqs.messages
      .slice(messages0)
      .map((m) => JSON.parse(m) as { reason: string; event: AuditEvent });
    expect(spilled).toEqual(events.map((event) => ({ reason: "log write failed", event })));
    expect(metrics.totals.AuditEventsSpilled).toBe(2);
    expect(metrics.totals.AuditEventsLogged).toBe(0);
    expect(logs.some((l) => l.includes("audit log write failed"))).toBe(true);
    expect(bus.flushSync()).toBe(true);
  });

  it("with the dead-letter queue down too, the loss is counted and the event logged in full, never silently dropped", async () => {
    sqs.set({ down: true });
    try {
      const { bus, metrics, logs } = busWith(() => {
        throw new Error("closed");
      });
      const e = checkEventAt("t1", 1, T0);
      bus.publish(e);
      await bus.flush();
      expect(metrics.totals.AuditSpillFailures).toBe(1);
      const line = logs.find((l) => l.includes("audit event not delivered"))!;
      expect(JSON.parse(line)).toMatchObject({ level: "error", reason: "log write failed", event: e });
    } finally {
      sqs.set({ down: false });
    }
  });
});
