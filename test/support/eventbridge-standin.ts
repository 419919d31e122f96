/**
 * A protocol-level Amazon EventBridge stand-in for tests: a node:http server on 127.0.0.1 speaking
 * the JSON 1.1 protocol of `AWSEvents.PutEvents` (`X-Amz-Target`, `application/x-amz-json-1.1`,
 * errors as `{__type, message}`), so the real `@aws-sdk/client-eventbridge` serialisation runs.
 * It enforces the service limits (1..10 entries, 256 KB per request) and can fail a share of the
 * entries (`failRate`, per-entry `InternalFailure`/`ThrottlingException`) or whole requests, and
 * answer slowly (`delayMs`: nothing is accepted or counted before the delay is over).
 */

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./read-body.ts";

export interface PutEventsEntryJson {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number;
}

export interface EventBridgeStandinOptions {
  /** Share of entries answered with a per-entry error (0..1). @default 0 */
  failRate?: number;
  /** Share of whole requests answered with a 500 `InternalException`. @default 0 */
  requestFailRate?: number;
  /** Seed of the deterministic failure sequence. @default 1 */
  seed?: number;
  /** Time each request waits before it is handled (accepted, counted, answered). @default 0 */
  delayMs?: number;
}

export interface EventBridgeStandin {
  readonly url: string;
  /** Entries accepted, in arrival order (Detail parsed). */
  readonly accepted: { entry: PutEventsEntryJson; detail: unknown }[];
  /** PutEvents requests seen, and entries refused per-entry. */
  readonly stats: {
    requests: number;
    failedEntries: number;
    failedRequests: number;
    maxEntries: number;
    maxBytes: number;
  };
  /** Changes failure rates at run time. */
  set(options: EventBridgeStandinOptions): void;
  close(): Promise<void>;
}

/** Mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startEventBridgeStandin(
  options: EventBridgeStandinOptions = {},
): Promise<EventBridgeStandin> {
  let opts = { failRate: 0, requestFailRate: 0, delayMs: 0, ...options };
  let rand = prng(options.seed ?? 1);
  const accepted: EventBridgeStandin["accepted"] = [];
  const stats = { requests: 0, failedEntries: 0, failedRequests: 0, maxEntries: 0, maxBytes: 0 };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (opts.delayMs > 0) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (res.destroyed) return;
    const send = (status: number, json: unknown) => {
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
      });
      res.end(JSON.stringify(json));
    };
    const error = (status: number, type: string, message: string) => send(status, { __type: type, message });
    if (req.method !== "POST") return error(400, "UnknownOperationException", "POST only");
    if (!/AWS4-HMAC-SHA256/.test(req.headers.authorization ?? ""))
      return error(400, "MissingAuthenticationTokenException", "Request is not signed");
    if (req.headers["x-amz-target"] !== "AWSEvents.PutEvents")
      return error(400, "UnknownOperationException", `Unknown target ${req.headers["x-amz-target"]}`);
    if (!String(req.headers["content-type"]).startsWith("application/x-amz-json-1.1"))
      return error(400, "SerializationException", "Wrong content type");
    stats.requests++;
    let input: { Entries?: PutEventsEntryJson[] };
    try {
      input = JSON.parse(body);
    } catch {
      return error(400, "SerializationException", "Malformed JSON");
    }
    const entries = input.Entries ?? [];
    if (entries.length < 1 || entries.length > 10)
      return error(400, "ValidationException", "Entries must have between 1 and 10 items");
    let bytes = 0;
    for (const e of entries)
      bytes +=
        (e.Time !== undefined ? 14 : 0) +
        Buffer.byteLength(e.Source ?? "") +
        Buffer.byteLength(e.DetailType ?? "") +
        Buffer.byteLength(e.Detail ?? "");
    if (bytes > 256 * 1024)
      return error(400, "ValidationException", "Total size of the entries exceeds 256KB");
    stats.maxEntries = Math.max(stats.maxEntries, entries.length);
    stats.maxBytes = Math.max(stats.maxBytes, bytes);
    if (rand() < opts.requestFailRate) {
      stats.failedRequests++;
      return error(500, "InternalException", "Injected failure");
    }
    let failed = 0;
    const results = entries.map((e) => {
      if (!e.Source || !e.DetailType || !e.Detail) {
        failed++;
        return { ErrorCode: "MalformedDetail", ErrorMessage: "Source, DetailType and Detail are required" };
      }
      if (rand() < opts.failRate) {
        failed++;
        return rand() < 0.5
          ? { ErrorCode: "InternalFailure", ErrorMessage: "Injected failure" }
          : { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
      }
      accepted.push({ entry: e, detail: JSON.parse(e.Detail) });
      return { EventId: randomUUID() };
    });
    stats.failedEntries += failed;
    send(200, { FailedEntryCount: failed, Entries: results });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted,
    stats,
    set(o) {
      opts = { ...opts, ...o };
      if (o.seed !== undefined) rand = prng(o.seed);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
