/**
 * A protocol-level Amazon SQS stand-in for tests: node:http on 127.0.0.1 speaking SQS's JSON
 * protocol (`X-Amz-Target: AmazonSQS.SendMessage` / `AmazonSQS.SendMessageBatch`,
 * `application/x-amz-json-1.0`). Answers carry the real `MD5OfMessageBody`, which the SDK checks.
 * Can fail a share of batch entries, or everything (`down`), or answer late (`delayMs`).
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./read-body.ts";

export interface SqsStandin {
  readonly url: string;
  /** A queue URL on this stand-in (the SDK sends to the queue URL's host). */
  readonly queueUrl: string;
  /** Message bodies received, in order. */
  readonly messages: string[];
  readonly stats: { requests: number; failedEntries: number };
  set(options: { failRate?: number; down?: boolean; delayMs?: number }): void;
  close(): Promise<void>;
}

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

export async function startSqsStandin(
  options: { failRate?: number; down?: boolean; delayMs?: number } = {},
): Promise<SqsStandin> {
  let opts = { failRate: 0, down: false, delayMs: 0, ...options };
  let n = 0;
  const messages: string[] = [];
  const stats = { requests: 0, failedEntries: 0 };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (opts.delayMs > 0) await new Promise((r) => setTimeout(r, opts.delayMs));
    const send = (status: number, json: unknown) => {
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-requestid": randomUUID(),
      });
      res.end(JSON.stringify(json));
    };
    const error = (status: number, type: string, message: string) =>
      send(status, { __type: `com.amazonaws.sqs#${type}`, message });
    if (!/AWS4-HMAC-SHA256/.test(req.headers.authorization ?? ""))
      return error(400, "MissingAuthenticationTokenException", "Request is not signed");
    if (!String(req.headers["content-type"]).startsWith("application/x-amz-json-1.0"))
      return error(400, "InvalidParameterValue", "Wrong content type");
    stats.requests++;
    if (opts.down) return error(500, "InternalError", "Injected outage");
    const input = JSON.parse(body) as {
      QueueUrl?: string;
      MessageBody?: string;
      Entries?: { Id: string; MessageBody: string }[];
    };
    if (!input.QueueUrl) return error(400, "MissingParameter", "QueueUrl is required");
    const target = req.headers["x-amz-target"];
    if (target === "AmazonSQS.SendMessage") {
      const b = input.MessageBody ?? "";
      messages.push(b);
      return send(200, { MessageId: randomUUID(), MD5OfMessageBody: md5(b) });
    }
    if (target === "AmazonSQS.SendMessageBatch") {
      const entries = input.Entries ?? [];
      if (entries.length < 1 || entries.length > 10)
        return error(400, "TooManyEntriesInBatchRequest", "1..10 entries");
      const total = entries.reduce((s, e) => s + Buffer.byteLength(e.MessageBody), 0);
      if (total > 256 * 1024) return error(400, "BatchRequestTooLong", "Batch exceeds 256 KB");
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const e of entries) {
        // deterministic: every k-th entry fails at the configured rate
        if (opts.failRate > 0 && (n++ * opts.failRate) % 1 > 1 - opts.failRate) {
          stats.failedEntries++;
          Failed.push({ Id: e.Id, SenderFault: false, Code: "InternalError", Message: "Injected" });
          continue;
        }
        messages.push(e.MessageBody);
        Successful.push({ Id: e.Id, MessageId: randomUUID(), MD5OfMessageBody: md5(e.MessageBody) });
      }
      return send(200, { Successful, Failed });
    }
    return error(400, "UnsupportedOperation", `Unknown target ${target}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    queueUrl: `${url}/123456789012/portcullis-audit-dlq`,
    messages,
    stats,
    set(o) {
      opts = { ...opts, ...o };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
