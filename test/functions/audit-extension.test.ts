/**
 * The audit extension (functions/_shared/audit-extension.ts) against protocol-level stand-ins of the
 * Lambda Extensions API (test/support/lambda-runtime-standin.ts) and of EventBridge / SQS: the
 * authz Lambda handler answers before `PutEvents` completes, the extension calls `next` only after
 * the events were delivered (or spilled), never past the deadline, handler signals are matched
 * strictly by request id (a late one ends no later invocation), and registration failures fall
 * back to flushing inside the invocation. The test plays the Lambda service: it sends the INVOKE
 * event and calls the handler with the same `awsRequestId`. Every extension, stand-in and socket a
 * test opens is closed after it.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AuditExtension, auditExtensionFor } from "../../functions/_shared/audit-extension.ts";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { type Container, createContainer } from "../../functions/_shared/container.ts";
import { auditFlushOptions, createHandlers, lambdaHandlers } from "../../functions/_shared/handlers.ts";
import type { LambdaHttpHandler } from "../../functions/_shared/lambda.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { type EventBridgeStandin, startEventBridgeStandin } from "../support/eventbridge-standin.ts";
import { apiEvent, bearer } from "../support/events.ts";
import {
  type LambdaRuntimeStandin,
  type LambdaRuntimeStandinOptions,
  startLambdaRuntimeStandin,
} from "../support/lambda-runtime-standin.ts";
import { DOCUMENT_VIEWER_MODEL } from "../support/models.ts";
import { type SqsStandin, startSqsStandin } from "../support/sqs-standin.ts";

const ADMIN = "admin-key-for-audit-extension-tests";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface Fixture {
  readonly c: Container;
  readonly eb: EventBridgeStandin;
  readonly rt: LambdaRuntimeStandin;
  readonly sqs?: SqsStandin;
  readonly logs: string[];
  readonly key: string;
  readonly storeId: string;
}

/** A container on the EventBridge stand-in with a store that allows `user:anne` to view `document:roadmap`. */
async function fixture(
  o: { runtime?: LambdaRuntimeStandinOptions; sqs?: boolean; emf?: boolean } = {},
): Promise<Fixture> {
  const eb = await startEventBridgeStandin();
  cleanups.push(() => eb.close());
  const rt = await startLambdaRuntimeStandin(o.runtime);
  cleanups.push(() => rt.close());
  const sqs = o.sqs ? await startSqsStandin() : undefined;
  if (sqs) cleanups.push(() => sqs.close());
  const logs: string[] = [];
  const c = createContainer(
    configFromEnv(
      {
        PORTCULLIS_ADMIN_KEY: ADMIN,
        PORTCULLIS_LOG_LEVEL: "silent",
        PORTCULLIS_AUDIT_BUS: "eventbridge",
        PORTCULLIS_AUDIT_EMF: o.emf ? "true" : "false",
        PORTCULLIS_EVENTBRIDGE_ENDPOINT: eb.url,
        PORTCULLIS_REGION: "eu-west-1",
        ...(sqs ? { PORTCULLIS_SQS_ENDPOINT: sqs.url, PORTCULLIS_AUDIT_DLQ_URL: sqs.queueUrl } : {}),
      },
      { issuer: "http://localhost" },
    ),
    { log: createLogger({ level: "warn", write: (l) => logs.push(l) }) },
  );
  cleanups.push(() => c.audit.destroy());
  expect(c.config.audit.flush).toBe("after-response");
  const t = await c.tenants.create("acme");
  const { key } = await c.tenants.createApiKey(t.id, "k");
  // Set-up through the plain handler (flushes inside each invocation).
  const plain = createHandlers(c).authz!;
  const call = async (path: string, body: unknown) => {
    const r = await plain(
      apiEvent({ method: "POST", path, headers: bearer(key), body }),
      context(randomUUID(), Date.now() + 10_000),
    );
    expect(r.statusCode, `${path}: ${r.body}`).toBeLessThan(300);
    return JSON.parse(r.body ?? "{}") as Record<string, string>;
  };
  const { id: storeId } = await call("/stores", { name: "docs" });
  await call(`/stores/${storeId}/authorization-models`, DOCUMENT_VIEWER_MODEL);
  await call(`/stores/${storeId}/write`, {
    writes: { tuple_keys: [{ user: "user:anne", relation: "viewer", object: "document:roadmap" }] },
  });
  return { c, eb, rt, ...(sqs ? { sqs } : {}), logs, key, storeId: storeId! };
}

/** The Lambda context of request `id` with the invocation deadline `deadlineMs`. */
const context = (id: string, deadlineMs: number) =>
  ({
    awsRequestId: id,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  }) as unknown as Context;

const check = (f: Fixture) =>
  apiEvent({
    method: "POST",
    path: `/stores/${f.storeId}/check`,
    headers: bearer(f.key),
    body: { tuple_key: { user: "user:anne", relation: "viewer", object: "document:roadmap" } },
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the extension as a function entry does (`AWS_LAMBDA_RUNTIME_API` set). */
async function extension(f: Fixture, registerTimeoutMs?: number): Promise<AuditExtension> {
  const ext = await auditExtensionFor(
    auditFlushOptions(f.c),
    f.c.config.audit.flush,
    { AWS_LAMBDA_RUNTIME_API: f.rt.api },
    registerTimeoutMs === undefined ? {} : { registerTimeoutMs },
  );
  expect(ext).toBeDefined();
  cleanups.unshift(() => ext!.stop()); // stopped before the stand-ins close
  return ext!;
}

interface Invocation {
  readonly res: APIGatewayProxyStructuredResultV2;
  /** ms until the handler resolved (the response). */
  readonly responseMs: number;
  /** Entries EventBridge had accepted when the response was ready. */
  readonly deliveredAtResponse: number;
  /** ms until the extension called `next` again (the invocation is complete). */
  readonly completeMs: number;
  /** Entries EventBridge had accepted when the extension called `next`. */
  readonly deliveredAtNext: number;
  /** Events still queued when the extension called `next`. */
  readonly pendingAtNext: number;
  /** Messages the SQS stand-in (spill queue) had received when the extension called `next`. */
  readonly spilledAtNext: number;
  readonly completedAt: number;
  /** The invocation ended by an exit error (Lambda resets the environment). */
  readonly reset: boolean;
}

/** One invocation as Lambda runs it: the INVOKE event to the extension, the event to the handler. */
async function invoke(
  f: Fixture,
  handler: LambdaHttpHandler,
  /** `handlerDelayMs`: time the handler takes before it starts (a slow handler). */
  o: { deadlineMs?: number; handlerFirst?: boolean; handlerDelayMs?: number } = {},
): Promise<Invocation> {
  const id = randomUUID();
  const deadlineMs = o.deadlineMs ?? Date.now() + 10_000;
  const t0 = performance.now();
  let completion:
    | Promise<{
        completedAt: number;
        delivered: number;
        pending: number;
        spilled: number;
        ms: number;
        reset: boolean;
      }>
    | undefined;
  const start = () => {
    completion = f.rt.invoke(id, { deadlineMs }).then((r) => ({
      completedAt: r.completedAt,
      delivered: f.eb.accepted.length,
      pending: f.c.audit.bus.pending,
      spilled: f.sqs?.messages.length ?? 0,
      ms: performance.now() - t0,
      reset: r.reset,
    }));
  };
  if (!o.handlerFirst) start();
  if (o.handlerDelayMs) await sleep(o.handlerDelayMs);
  const res = await handler(check(f), context(id, deadlineMs));
  const responseMs = performance.now() - t0;
  const deliveredAtResponse = f.eb.accepted.length;
  if (o.handlerFirst) start();
  const done = await completion!;
  return {
    res,
    responseMs,
    deliveredAtResponse,
    completeMs: done.ms,
    deliveredAtNext: done.delivered,
    pendingAtNext: done.pending,
    spilledAtNext: done.spilled,
    completedAt: done.completedAt,
    reset: done.reset,
  };
}

describe("audit extension: flush after the response (Lambda Extensions API stand-in)", () => {
  it("registers for INVOKE at init; the response precedes PutEvents; next follows the delivery", async () => {
    // EMF lines go to stdout (set-up invocations write theirs too): captured for the whole test.
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    cleanups.push(() => spy.mockRestore());
    const f = await fixture({ emf: true });
    const ext = await extension(f);
    expect(ext.state).toBe("active");
    expect(f.rt.registrations).toEqual([
      { id: expect.any(String), name: "portcullis-audit", events: ["INVOKE"] },
    ]);
    await f.rt.waitForNext(); // init done: the extension waits for the first event
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    // Slow, but under the client's 150 ms request timeout.
    f.eb.set({ delayMs: 80 });
    const before = f.eb.accepted.length;
    const mark = writes.length;
    const inv = await invoke(f, h);
    expect(inv.res.statusCode).toBe(200);
    expect(JSON.parse(inv.res.body!)).toMatchObject({ allowed: true });
    // The response was ready before EventBridge had taken anything...
    expect(inv.deliveredAtResponse).toBe(before);
    expect(inv.responseMs).toBeLessThan(80);
    // ...and the invocation ended only once it had.
    expect(inv.deliveredAtNext).toBe(before + 1);
    expect(inv.completeMs).toBeGreaterThanOrEqual(80);
    expect((f.eb.accepted.at(-1)!.detail as AuditEvent).type).toBe("authz.check");
    expect(f.c.audit.bus.pending).toBe(0);
    // The EMF line is written by the extension after the flush, as the middleware did.
    const emf = writes
      .slice(mark)
      .map((w) => JSON.parse(w))
      .find((j) => j._aws);
    expect(emf).toMatchObject({ Region: "eu-west-1", AuditEventsEmitted: 1, AuditEventsDelivered: 1 });
    expect(ext.stats).toMatchObject({ invocations: 1, signalTimeouts: 0, flushTimeouts: 0 });
  });

  it("works whichever comes first, the INVOKE event or the handler's end; one invocation after another", async () => {
    const f = await fixture();
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    f.eb.set({ delayMs: 40 });
    const before = f.eb.accepted.length;
    for (let i = 0; i < 6; i++) {
      const inv = await invoke(f, h, { handlerFirst: i % 2 === 1 });
      expect(inv.res.statusCode).toBe(200);
      if (i % 2 === 0) expect(inv.deliveredAtResponse).toBe(before + i);
      expect(inv.deliveredAtNext).toBe(before + i + 1);
    }
    expect(ext.stats).toMatchObject({ invocations: 6, signalTimeouts: 0, flushTimeouts: 0 });
    expect(f.rt.nextCalls.get(f.rt.registrations[0]!.id)).toBe(7);
  });

  it("a failing EventBridge blocks no response: the event is spilled to SQS before next", async () => {
    const f = await fixture({ sqs: true });
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    f.eb.set({ requestFailRate: 1, delayMs: 60 });
    const spilled = f.c.audit.metrics.totals.AuditEventsSpilled;
    const messages = f.sqs!.messages.length;
    const inv = await invoke(f, h);
    expect(inv.res.statusCode).toBe(200);
    expect(inv.deliveredAtResponse).toBe(f.eb.accepted.length);
    expect(inv.responseMs).toBeLessThan(60);
    expect(inv.spilledAtNext).toBe(messages + 1);
    expect(f.c.audit.metrics.totals.AuditEventsSpilled - spilled).toBe(1);
    expect(f.sqs!.messages.length).toBe(messages + 1);
    expect(JSON.parse(f.sqs!.messages.at(-1)!).event).toMatchObject({
      type: "authz.check",
      decision: "allow",
    });
    expect(f.eb.stats.failedRequests).toBeGreaterThan(0);
  });

  it("respects the deadline: a hanging PutEvents times out and its event is spilled before next", async () => {
    const f = await fixture({ sqs: true });
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    f.eb.set({ delayMs: 1500 });
    const before = f.eb.accepted.length;
    const messages = f.sqs!.messages.length;
    const t = { ...f.c.audit.metrics.totals };
    const deadlineMs = Date.now() + 800;
    const inv = await invoke(f, h, { deadlineMs });
    expect(inv.res.statusCode).toBe(200);
    // next by the deadline, not after the 1.5 s PutEvents...
    expect(inv.completedAt).toBeLessThan(deadlineMs);
    // ...and nothing abandoned in flight: the requests timed out (150 ms), the bus stopped retrying
    // at deadline − 300 ms and the event was in the spill queue before the extension called next.
    expect(inv.deliveredAtNext).toBe(before);
    expect(inv.spilledAtNext).toBe(messages + 1);
    expect(inv.pendingAtNext).toBe(0);
    expect(f.c.audit.metrics.totals.AuditEventsSpilled - t.AuditEventsSpilled).toBe(1);
    expect(f.c.audit.metrics.totals.AuditEntriesFailed - t.AuditEntriesFailed).toBeGreaterThan(0);
    expect(ext.stats).toMatchObject({ flushTimeouts: 0, eventsInFlightAtCutoff: 0 });
    expect(f.logs.join("")).toMatch(/TimeoutError/);
  });

  it("deliveries still in flight at the cutoff (deadline − 50 ms) are logged and counted, and not lost", async () => {
    const f = await fixture({ sqs: true });
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    await f.rt.waitForNext();
    f.eb.set({ delayMs: 1500 });
    f.sqs!.set({ delayMs: 300 });
    const messages = f.sqs!.messages.length;
    const t = { ...f.c.audit.metrics.totals };
    // The handler ended just before the INVOKE event reached the extension, 120 ms before the
    // deadline, past the bus deadline: the PutEvents started then is cut after 50 ms and its event
    // spilled, but the spill (SQS answering in 300 ms) is still running at the cutoff.
    const deadlineMs = Date.now() + 120;
    const inv = await invoke(f, h, { deadlineMs, handlerFirst: true });
    expect(inv.res.statusCode).toBe(200);
    expect(inv.completedAt).toBeLessThan(deadlineMs);
    expect(inv.completedAt).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(ext.stats).toMatchObject({ flushTimeouts: 1, eventsInFlightAtCutoff: 1 });
    const warning = f.logs.find((l) => l.includes("audit flush still running at the invocation cutoff"));
    expect(JSON.parse(warning!)).toMatchObject({ level: "warn", in_flight: 1, queued: 0 });
    // Not dropped: the spill completes (when the environment runs again).
    f.sqs!.set({ delayMs: 0 });
    await f.c.audit.emitter.flush();
    expect(f.sqs!.messages.length).toBe(messages + 1);
    const d = f.c.audit.metrics.totals;
    expect(
      d.AuditEventsSpilled - t.AuditEventsSpilled + d.AuditEventsDelivered - t.AuditEventsDelivered,
    ).toBe(1);
  });

  it("without the handler's signal (runtime crash) the extension stops waiting at the deadline", async () => {
    const f = await fixture();
    const ext = await extension(f);
    await f.rt.waitForNext();
    const deadlineMs = Date.now() + 600;
    const r = await f.rt.invoke(randomUUID(), { deadlineMs });
    expect(r.completedAt).toBeLessThan(deadlineMs);
    expect(r.ms).toBeGreaterThanOrEqual(250); // waited until deadline − 300 ms
    expect(ext.stats.signalTimeouts).toBe(1);
    expect(ext.active).toBe(true);
  });

  it("a handler that ends after the extension's wait: its late signal ends no later invocation early", async () => {
    const f = await fixture();
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    await f.rt.waitForNext();
    f.eb.set({ delayMs: 20 });
    const before = f.eb.accepted.length;
    // Invocation 1: the handler still runs when the extension's wait ends (deadline − 300 ms)...
    const id1 = randomUUID();
    const deadline1 = Date.now() + 500;
    const first = await f.rt.invoke(id1, { deadlineMs: deadline1 });
    expect(first.completedAt).toBeLessThan(deadline1);
    expect(ext.stats.signalTimeouts).toBe(1);
    // ...and ends later (e.g. middy's early-timeout onError at deadline − 5 ms), while the extension
    // waits in next: its event is queued, for the next flush.
    const late = await h(check(f), context(id1, deadline1));
    expect(late.statusCode).toBe(200);
    expect(f.c.audit.bus.pending).toBe(1);
    // Invocations 2..4 (handlers that take 50 ms): each ends only after its own event was delivered.
    for (let i = 2; i <= 4; i++) {
      const inv = await invoke(f, h, { handlerDelayMs: 50 });
      expect(inv.res.statusCode).toBe(200);
      expect(inv.completeMs).toBeGreaterThanOrEqual(inv.responseMs);
      expect(inv.deliveredAtNext).toBe(before + i); // invocation 1's late event, then 2..i
      expect(inv.pendingAtNext).toBe(0);
    }
    expect(ext.stats).toMatchObject({
      invocations: 4,
      signalTimeouts: 1,
      lateSignals: 1,
      idMismatches: 0,
      flushTimeouts: 0,
    });
  });

  it("a handler signal under another request id is not taken (logged once): the wait ends at the deadline", async () => {
    const f = await fixture();
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    await f.rt.waitForNext();
    const before = f.eb.accepted.length;
    const deadlineMs = Date.now() + 600;
    const complete = f.rt.invoke(randomUUID(), { deadlineMs });
    const res = await h(check(f), context(randomUUID(), deadlineMs));
    expect(res.statusCode).toBe(200);
    const r = await complete;
    // Waited for its own signal until deadline − 300 ms, then flushed what was queued.
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.completedAt).toBeLessThan(deadlineMs);
    expect(f.eb.accepted.length).toBe(before + 1);
    expect(ext.stats).toMatchObject({ idMismatches: 1, signalTimeouts: 1 });
    expect(f.logs.join("")).toMatch(/another request id than the INVOKE event/);
  });

  it("registration refused → one warning, flushing inside the invocation (events delivered before the response)", async () => {
    const f = await fixture({ runtime: { registerStatus: 500 } });
    const h = (await lambdaHandlers(f.c, { AWS_LAMBDA_RUNTIME_API: f.rt.api })).authz!;
    expect(f.rt.registrations).toEqual([]);
    f.eb.set({ delayMs: 100 });
    const before = f.eb.accepted.length;
    const t0 = performance.now();
    const res = await h(check(f), context(randomUUID(), Date.now() + 10_000));
    expect(res.statusCode).toBe(200);
    expect(f.eb.accepted.length).toBe(before + 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    const warnings = f.logs.filter((l) => l.includes("audit extension registration failed"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: "warn", reason: "HTTP 500" });
    // The inactive extension (made by lambdaHandlers, no handle to stop it) keeps no socket open.
    await vi.waitFor(() => expect(f.rt.connections).toBe(0));
  });

  it("unreachable Extensions API → fallback", async () => {
    const f = await fixture();
    const flush = auditFlushOptions(f.c);
    const ext = await auditExtensionFor(flush, "after-response", { AWS_LAMBDA_RUNTIME_API: "127.0.0.1:1" });
    cleanups.unshift(() => ext?.stop());
    expect(ext?.state).toBe("fallback");
    expect(ext?.active).toBe(false);
    // Not in Lambda, or in-invocation: no extension at all.
    expect(await auditExtensionFor(flush, "after-response", {})).toBeUndefined();
    expect(
      await auditExtensionFor(flush, "in-invocation", { AWS_LAMBDA_RUNTIME_API: f.rt.api }),
    ).toBeUndefined();
    expect(f.rt.registrations).toEqual([]);
  });

  it("registration timeout → fallback; a registration answered late is driven passively", async () => {
    const f = await fixture({ runtime: { registerDelayMs: 300 } });
    const t0 = performance.now();
    const ext = await extension(f, 100);
    expect(performance.now() - t0).toBeLessThan(280);
    expect(ext.state).toBe("fallback");
    expect(f.logs.join("")).toMatch(/registration timed out/);
    // Lambda registered it after all: the extension calls next so Lambda never waits for it...
    await f.rt.waitForNext();
    expect(ext.state).toBe("passive");
    // ...while the middleware keeps flushing inside the invocation.
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    f.eb.set({ delayMs: 50 });
    const before = f.eb.accepted.length;
    const inv = await invoke(f, h);
    expect(inv.deliveredAtResponse).toBe(before + 1);
    expect(inv.completeMs).toBeLessThan(2000);
    expect(ext.stats.signalTimeouts).toBe(0);
  });

  it("passive mode only calls next: no flush and no EMF line while the handler runs", async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    cleanups.push(() => spy.mockRestore());
    const f = await fixture({ runtime: { registerDelayMs: 300 }, emf: true });
    const ext = await extension(f, 100);
    await f.rt.waitForNext();
    expect(ext.state).toBe("passive");
    expect(ext.active).toBe(false);
    // A handler is running and has emitted; its middleware flushes when it ends.
    f.c.audit.emitter.emit({
      tenant: "acme",
      type: "authz.check",
      actor: "anonymous",
      resource: "document:roadmap",
      action: "viewer",
      decision: "allow",
    });
    const before = f.eb.accepted.length;
    const mark = writes.length;
    const r = await f.rt.invoke(randomUUID());
    expect(r.reset).toBe(false);
    expect(f.c.audit.bus.pending).toBe(1);
    expect(f.eb.accepted.length).toBe(before);
    expect(writes.slice(mark).filter((w) => w.includes('"_aws"'))).toEqual([]);
    // The middleware flushes in the invocation (the queued event with the handler's own).
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    const inv = await invoke(f, h);
    expect(inv.deliveredAtResponse).toBe(before + 2);
    expect(writes.slice(mark).filter((w) => w.includes('"_aws"'))).toHaveLength(1);
  });

  it("next refused → exit error reported, extension inactive, the middleware flushes again", async () => {
    const f = await fixture();
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    await f.rt.waitForNext();
    f.rt.set({ nextStatus: 500 });
    const before = f.eb.accepted.length;
    const first = await invoke(f, h);
    expect(first.deliveredAtNext).toBe(before + 1);
    await vi.waitFor(() => expect(f.rt.errors).toHaveLength(1));
    expect(f.rt.errors[0]).toMatchObject({ kind: "exit", type: "Extension.NextFailed" });
    expect(ext.state).toBe("failed");
    const res = await h(check(f), context(randomUUID(), Date.now() + 10_000));
    expect(res.statusCode).toBe(200);
    expect(f.eb.accepted.length).toBe(before + 2);
  });

  it("next failing on the network: the exit error (Lambda resets) comes before the invocation's deadline", async () => {
    const f = await fixture();
    const ext = await extension(f);
    const h = createHandlers(f.c, { auditExtension: ext }).authz!;
    await f.rt.waitForNext();
    // next calls are cut off before Lambda takes them: the invocation stays open until the exit error.
    f.rt.set({ nextNetworkError: true });
    const before = f.eb.accepted.length;
    const deadlineMs = Date.now() + 200;
    const inv = await invoke(f, h, { deadlineMs, handlerFirst: true });
    expect(inv.res.statusCode).toBe(200);
    expect(inv.reset).toBe(true);
    expect(inv.completedAt).toBeLessThan(deadlineMs);
    expect(inv.deliveredAtNext).toBe(before + 1);
    expect(ext.stats.nextFailures).toBe(5);
    expect(ext.state).toBe("failed");
    expect(f.rt.errors).toEqual([expect.objectContaining({ kind: "exit", type: "Extension.NextFailed" })]);
  });

  it("the function entry registers during its module init (top-level await), before it exports the handler", async () => {
    const rt = await startLambdaRuntimeStandin();
    cleanups.push(() => rt.close());
    const root = fileURLToPath(new URL("../../", import.meta.url));
    // The child imports functions/authz.ts (as the Lambda runtime does), gives the loop's first
    // `next` time to arrive, and exits (the pending `next` would keep it alive).
    const script = `const m = await import(${JSON.stringify(`${root}functions/authz.ts`)});
      console.log(JSON.stringify({ handler: typeof m.handler }));
      setTimeout(() => process.exit(0), 300);`;
    const args = ["--import", "tsx", "--input-type=module", "--eval", script];
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        AWS_LAMBDA_RUNTIME_API: rt.api,
        PORTCULLIS_ADMIN_KEY: ADMIN,
        PORTCULLIS_LOG_LEVEL: "silent",
        PORTCULLIS_AUDIT_BUS: "eventbridge",
        PORTCULLIS_AUDIT_FLUSH: "after-response",
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({ handler: "function" });
    expect(rt.registrations).toEqual([
      { id: expect.any(String), name: "portcullis-audit", events: ["INVOKE"] },
    ]);
    // The loop started: the extension asked for its first event (its init is done).
    expect(rt.nextCalls.get(rt.registrations[0]!.id)).toBe(1);
  }, 40_000);

  it("stop ends the loop while it waits in next", async () => {
    const f = await fixture();
    const ext = await extension(f);
    await f.rt.waitForNext();
    await ext.stop();
    expect(ext.state).toBe("stopped");
    expect(ext.active).toBe(false);
  });
});
