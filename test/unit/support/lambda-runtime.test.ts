/**
 * The Runtime API part of the Lambda runtime stand-in (test/support/lambda-runtime-standin.ts) and
 * the runtime client that mirrors the AWS Node.js runtime's loop (test/support/lambda-runtime-client.ts):
 * real handlers driven through the protocol on 127.0.0.1, raw HTTP for the protocol's edges, an
 * extension registered over HTTP next to the runtime (the end of an invocation is the later of the
 * response and the extension's `next`), and clean-up: `stop()` and `close()` leave nothing open.
 */
import { type IncomingHttpHeaders, request } from "node:http";
import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type RuntimeClient, startRuntimeClient } from "../../support/lambda-runtime-client.ts";
import {
  type LambdaRuntimeStandin,
  startLambdaRuntimeStandin,
} from "../../support/lambda-runtime-standin.ts";
import { readBody } from "../../support/read-body.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function standin(): Promise<LambdaRuntimeStandin> {
  const rt = await startLambdaRuntimeStandin();
  cleanups.push(() => rt.close());
  return rt;
}

/** A runtime client on `rt`, attached (waiting in `next`) when this resolves; stopped after the test. */
async function runtime<E>(
  rt: LambdaRuntimeStandin,
  handler: (event: E, context: Context) => unknown,
): Promise<RuntimeClient> {
  const c = startRuntimeClient({ api: rt.api, handler });
  cleanups.push(() => c.stop()); // before the stand-in closes
  await rt.waitForRuntime();
  return c;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One raw request on a connection of its own (no agent). */
function http(
  api: string,
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const i = api.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.slice(0, i),
        port: Number(api.slice(i + 1)),
        method,
        path,
        headers: o.headers,
        agent: false,
      },
      (res) =>
        readBody(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
          reject,
        ),
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const NEXT = "/2018-06-01/runtime/invocation/next";
const invocation = (id: string, what: "response" | "error") => `/2018-06-01/runtime/invocation/${id}/${what}`;

/** Registers an internal extension for INVOKE over HTTP, as an extension does; returns its id. */
async function registerExtension(rt: LambdaRuntimeStandin): Promise<string> {
  const r = await http(rt.api, "POST", "/2020-01-01/extension/register", {
    headers: { "Lambda-Extension-Name": "test-extension" },
    body: JSON.stringify({ events: ["INVOKE"] }),
  });
  expect(r.status).toBe(200);
  return String(r.headers["lambda-extension-identifier"]);
}

/** The extension's `next` call (blocks until an event); a poll left open at the end fails quietly. */
function extensionNext(rt: LambdaRuntimeStandin, id: string): Promise<Reply> {
  const p = http(rt.api, "GET", "/2020-01-01/extension/event/next", {
    headers: { "Lambda-Extension-Identifier": id },
  });
  p.catch(() => {});
  return p;
}

/** Polls `ok` for up to 1 s (with no timer left behind, unlike vi.waitFor while it runs). */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await sleep(10);
}

/** Open handles of the kinds a stand-in or client could leak: sockets, servers, timers. */
const handles = () => {
  const all = process.getActiveResourcesInfo();
  return ["TCPSocketWrap", "TCPServerWrap", "Timeout"].map((k) => all.filter((r) => r === k).length);
};

describe("Lambda Runtime API stand-in driven by the runtime client", () => {
  it("hands the event to the handler and its result to invoke; the context follows the invocation", async () => {
    const rt = await standin();
    const seen: { ctx: Context; remaining: number; remainingLater: number }[] = [];
    const c = await runtime(rt, async (event: { n: number }, ctx: Context) => {
      const remaining = ctx.getRemainingTimeInMillis();
      await sleep(50);
      seen.push({ ctx, remaining, remainingLater: ctx.getRemainingTimeInMillis() });
      return { doubled: event.n * 2, id: ctx.awsRequestId };
    });
    expect(rt.runtimeAttached).toBe(true);

    const t0 = Date.now();
    const deadlineMs = t0 + 4000;
    const r = await rt.invoke("req-1", { event: { n: 21 }, deadlineMs });
    expect(r.response).toEqual({ doubled: 42, id: "req-1" });
    expect(r.error).toBeUndefined();
    expect(r.reset).toBe(false);
    expect(r.respondedAt).toBeGreaterThanOrEqual(t0 + 45); // after the handler's 50 ms
    expect(r.respondedAt).toBeLessThanOrEqual(r.completedAt);
    const first = seen[0]!;
    expect(first.ctx).toMatchObject({
      awsRequestId: "req-1",
      invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:standin",
      functionName: "standin",
      functionVersion: "$LATEST",
      memoryLimitInMB: "512",
      logGroupName: "/aws/lambda/standin",
      logStreamName: expect.stringMatching(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/),
      callbackWaitsForEmptyEventLoop: true,
    });
    // The remaining time is the deadline header minus now, and runs down.
    expect(first.remaining).toBeLessThanOrEqual(4000);
    expect(first.remaining).toBeGreaterThan(3000);
    expect(first.remaining - first.remainingLater).toBeGreaterThanOrEqual(45);

    // Another deadline, another remaining time; every invocation on the same keep-alive connection.
    const r2 = await rt.invoke("req-2", { event: { n: 1 }, deadlineMs: Date.now() + 1500 });
    expect(r2.response).toEqual({ doubled: 2, id: "req-2" });
    expect(seen[1]!.ctx.awsRequestId).toBe("req-2");
    expect(seen[1]!.remaining).toBeLessThanOrEqual(1500);
    expect(seen[1]!.remaining).toBeGreaterThan(1000);
    await rt.invoke("req-3", { event: { n: 2 } });
    await rt.waitForRuntime();
    expect(rt.runtimeNextCalls).toBe(4);
    expect(rt.connections).toBe(1);
    expect(c.stats).toEqual({ invocations: 3, errors: 0 });
    expect(c.failure).toBeUndefined();
  });

  it("a throwing handler ends the invocation with its error; the next invocation still works", async () => {
    const rt = await standin();
    const c = await runtime(rt, async (event: { fail?: "error" | "string" }) => {
      if (event.fail === "error") throw new TypeError("bad input");
      if (event.fail === "string") throw "plain";
      return "ok";
    });
    const r = await rt.invoke("e-1", { event: { fail: "error" } });
    expect(r.response).toBeUndefined();
    expect(r.respondedAt).toBeLessThanOrEqual(r.completedAt);
    expect(r.error).toMatchObject({
      type: "Runtime.UnhandledError",
      errorType: "TypeError",
      errorMessage: "bad input",
    });
    expect(r.error!.stackTrace![0]).toBe("TypeError: bad input");
    expect(Object.keys(JSON.parse(r.error!.body)).sort()).toEqual([
      "errorMessage",
      "errorType",
      "stackTrace",
    ]);
    expect(rt.runtimeErrors).toEqual([expect.objectContaining({ kind: "invocation", requestId: "e-1" })]);

    const ok = await rt.invoke("e-2", { event: {} });
    expect(ok.response).toBe("ok");
    expect(ok.error).toBeUndefined();

    const plain = await rt.invoke("e-3", { event: { fail: "string" } });
    expect(plain.error).toMatchObject({ errorType: "string", errorMessage: "plain", stackTrace: [] });
    expect(c.stats).toEqual({ invocations: 3, errors: 2 });
  });

  it("runs invocations one at a time: an invoke made during another starts when that one ended", async () => {
    const rt = await standin();
    const log: string[] = [];
    const startedAt = new Map<string, number>();
    await runtime(rt, async (_event: unknown, ctx: Context) => {
      startedAt.set(ctx.awsRequestId, Date.now());
      log.push(`start ${ctx.awsRequestId}`);
      await sleep(60);
      log.push(`end ${ctx.awsRequestId}`);
      return ctx.awsRequestId;
    });
    const [a, b, c] = await Promise.all([rt.invoke("s-1"), rt.invoke("s-2"), rt.invoke("s-3")]);
    expect([a.response, b.response, c.response]).toEqual(["s-1", "s-2", "s-3"]);
    expect(log).toEqual(["start s-1", "end s-1", "start s-2", "end s-2", "start s-3", "end s-3"]);
    expect(startedAt.get("s-2")!).toBeGreaterThanOrEqual(a.completedAt);
    expect(startedAt.get("s-3")!).toBeGreaterThanOrEqual(b.completedAt);
  });

  it("an invocation the runtime does not answer in time rejects; a late response is refused", async () => {
    const rt = await standin();
    let release = () => {};
    const c = await runtime(rt, async (event: { hang?: boolean }, ctx: Context) => {
      if (event.hang) await new Promise<void>((r) => (release = r));
      return { id: ctx.awsRequestId };
    });
    await expect(rt.invoke("t-1", { event: { hang: true }, timeoutMs: 100 })).rejects.toThrow(
      "invocation t-1: the runtime did not post a response",
    );
    // The handler ends later: its response is refused, the runtime goes on to the next invocation.
    release();
    const r = await rt.invoke("t-2", { event: {} });
    expect(r.response).toEqual({ id: "t-2" });
    expect(c.stats).toEqual({ invocations: 2, errors: 0 });
    expect(c.failure).toBeUndefined();
  });
});

describe("Lambda Runtime API stand-in: the protocol", () => {
  it("next headers, 202 and 400 answers, init errors, an invocation handed out before the next poll", async () => {
    const rt = await standin();
    // Without a runtime or an extension there is nothing to invoke, as before.
    await expect(rt.invoke("none")).rejects.toThrow("no extension registered");
    const poll = http(rt.api, "GET", NEXT);
    await rt.waitForRuntime();
    const deadlineMs = Date.now() + 3000;
    let settled = false;
    const done = rt.invoke("p-1", { event: { hello: "world" }, deadlineMs });
    done.then(
      () => (settled = true),
      () => {},
    );
    const n = await poll;
    expect(n.status).toBe(200);
    expect(JSON.parse(n.body)).toEqual({ hello: "world" });
    expect(n.headers["lambda-runtime-aws-request-id"]).toBe("p-1");
    expect(Number(n.headers["lambda-runtime-deadline-ms"])).toBe(deadlineMs);
    expect(n.headers["lambda-runtime-invoked-function-arn"]).toBe(
      "arn:aws:lambda:eu-west-1:123456789012:function:standin",
    );
    expect(n.headers["lambda-runtime-trace-id"]).toMatch(/^Root=1-[0-9a-f]+-[0-9a-f-]{24}$/);

    const unknown = await http(rt.api, "POST", invocation("nope", "response"), { body: "{}" });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toMatchObject({ errorType: "InvalidRequestID" });
    await sleep(30);
    expect(settled).toBe(false); // no response yet

    const ok = await http(rt.api, "POST", invocation("p-1", "response"), { body: '{"a":1}' });
    expect(ok.status).toBe(202);
    expect(JSON.parse(ok.body)).toEqual({ status: "OK" });
    const r = await done;
    expect(r.response).toEqual({ a: 1 });
    for (const what of ["response", "error"] as const) {
      const again = await http(rt.api, "POST", invocation("p-1", what), { body: "{}" });
      expect(again.status).toBe(400);
      expect(JSON.parse(again.body)).toMatchObject({ errorType: "InvalidStateTransition" });
    }

    // The runtime is attached but not polling: the invocation waits for its next `next`.
    const queued = rt.invoke("p-2");
    await sleep(30);
    // Not handed out yet: no answer can be posted for it.
    const early = await http(rt.api, "POST", invocation("p-2", "response"), { body: "{}" });
    expect(early.status).toBe(400);
    expect(JSON.parse(early.body)).toMatchObject({ errorType: "InvalidRequestID" });
    const n2 = await http(rt.api, "GET", NEXT);
    expect(n2.headers["lambda-runtime-aws-request-id"]).toBe("p-2");
    expect(JSON.parse(n2.body)).toEqual({}); // the default event
    expect((await http(rt.api, "POST", invocation("p-2", "response"))).status).toBe(202);
    expect((await queued).response).toBeNull(); // an empty body

    const init = await http(rt.api, "POST", "/2018-06-01/runtime/init/error", {
      headers: { "Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError" },
      body: JSON.stringify({ errorType: "Error", errorMessage: "cannot find module", stackTrace: [] }),
    });
    expect(init.status).toBe(202);
    expect(rt.runtimeErrors).toEqual([
      expect.objectContaining({
        kind: "init",
        type: "Runtime.ImportModuleError",
        errorMessage: "cannot find module",
      }),
    ]);
    expect(rt.runtimeNextCalls).toBe(2);
  });

  it("with an extension: invoke ends only after the response AND the extension's next (extension last)", async () => {
    const rt = await standin();
    const id = await registerExtension(rt);
    let poll = extensionNext(rt, id);
    await rt.waitForNext();
    await runtime(rt, async (_e: unknown, ctx: Context) => ({ id: ctx.awsRequestId }));
    const deadlineMs = Date.now() + 5000;
    const done = rt.invoke("x-1", { deadlineMs });
    const event = JSON.parse((await poll).body);
    expect(event).toMatchObject({ eventType: "INVOKE", requestId: "x-1", deadlineMs });
    // The extension works on after the response, then calls next.
    await sleep(100);
    const extNextAt = Date.now();
    poll = extensionNext(rt, id);
    const r = await done;
    expect(r.response).toEqual({ id: "x-1" });
    expect(r.respondedAt!).toBeLessThan(extNextAt);
    expect(r.completedAt).toBeGreaterThanOrEqual(extNextAt);
    expect(rt.nextCalls.get(id)).toBe(2);
  });

  it("with an extension: invoke ends only after the response AND the extension's next (response last)", async () => {
    const rt = await standin();
    const id = await registerExtension(rt);
    let poll = extensionNext(rt, id);
    await rt.waitForNext();
    let release = () => {};
    let started = 0;
    await runtime(rt, async (_e: unknown, ctx: Context) => {
      await new Promise<void>((r) => {
        release = r;
        started++;
      });
      return { id: ctx.awsRequestId };
    });
    let settled = false;
    const done = rt.invoke("y-1");
    done.then(
      () => (settled = true),
      () => {},
    );
    await poll;
    poll = extensionNext(rt, id); // the extension is done at once
    await vi.waitFor(() => expect(rt.nextCalls.get(id)).toBe(2));
    await vi.waitFor(() => expect(started).toBe(1));
    await sleep(50);
    expect(settled).toBe(false); // the handler is still running
    const releasedAt = Date.now();
    release();
    const r = await done;
    expect(r.response).toEqual({ id: "y-1" });
    expect(r.respondedAt!).toBeGreaterThanOrEqual(releasedAt);
    expect(r.completedAt).toBeGreaterThanOrEqual(r.respondedAt!);
    // An exit error ends the extension's part (reset, as before); the response still comes in.
    const r2Done = rt.invoke("y-2");
    await poll;
    await vi.waitFor(() => expect(started).toBe(2));
    release();
    const exit = await http(rt.api, "POST", "/2020-01-01/extension/exit/error", {
      headers: {
        "Lambda-Extension-Identifier": id,
        "Lambda-Extension-Function-Error-Type": "Extension.Test",
      },
    });
    expect(exit.status).toBe(202);
    const r2 = await r2Done;
    expect(r2.reset).toBe(true);
    expect(r2.response).toEqual({ id: "y-2" });
  });
});

describe("Lambda Runtime API stand-in and client: clean-up", () => {
  it("stop() aborts the waiting next at once; close() rejects what is in progress and ends every socket", async () => {
    await until(() => handles()[0] === 0); // the sockets of earlier tests are gone
    const before = handles();
    const rt = await startLambdaRuntimeStandin();
    const c = startRuntimeClient({ api: rt.api, handler: async () => "ok" });
    await rt.waitForRuntime();
    expect(rt.connections).toBe(1);
    expect((await rt.invoke("c-1")).response).toBe("ok");
    let t0 = performance.now();
    await c.stop();
    expect(performance.now() - t0).toBeLessThan(200);
    expect(c.failure).toBeUndefined();
    await vi.waitFor(() => expect(rt.connections).toBe(0));

    // A runtime in a handler, an invocation waiting behind it, an extension waiting in next.
    let release = () => {};
    let started = 0;
    const c2 = startRuntimeClient({
      api: rt.api,
      handler: () =>
        new Promise<void>((r) => {
          release = r;
          started++;
        }),
    });
    await rt.waitForRuntime();
    const id = await registerExtension(rt);
    const extPoll = extensionNext(rt, id);
    await rt.waitForNext();
    const running = rt.invoke("c-2");
    const waiting = rt.invoke("c-3");
    await extPoll; // c-2 handed out; the extension calls next again and waits
    const extPoll2 = extensionNext(rt, id);
    await vi.waitFor(() => expect(rt.nextCalls.get(id)).toBe(2));
    await vi.waitFor(() => expect(started).toBe(1));
    t0 = performance.now();
    await rt.close();
    expect(performance.now() - t0).toBeLessThan(200);
    await expect(running).rejects.toThrow("stand-in closed");
    await expect(waiting).rejects.toThrow("stand-in closed");
    await expect(extPoll2).rejects.toThrow();
    expect(rt.connections).toBe(0);
    // The handler ends after the Runtime API went away: the client's loop ends with the failure.
    release();
    await vi.waitFor(() => expect(c2.failure).toBeInstanceOf(Error));
    await c2.stop();
    await expect(rt.invoke("c-4")).rejects.toThrow("stand-in closed");
    // Nothing of the stand-in or the clients is left: no socket, no server, no timer of theirs.
    const left = () => handles().map((n, i) => Math.max(0, n - before[i]!));
    await until(() => left().every((n) => n === 0));
    expect(left()).toEqual([0, 0, 0]);
  });
});
