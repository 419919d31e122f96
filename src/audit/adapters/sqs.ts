/**
 * The dead-letter destination of audit events: an SQS queue (`SendMessageBatch`, 10 messages and
 * 256 KB per request, failed entries retried). Each message is `{"reason": ..., "event": {...}}`;
 * a redrive job (docs/AUDIT.md) puts them back on the bus.
 */
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { AuditEvent } from "../events.ts";
import type { DeadLetterSink } from "./eventbridge.ts";

const MAX_BATCH = 10;
const MAX_BYTES = 256 * 1024;

export class SqsDeadLetters implements DeadLetterSink {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #attempts: number;

  constructor(client: SQSClient, queueUrl: string, options: { attempts?: number } = {}) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#attempts = options.attempts ?? 3;
  }

  async send(events: readonly AuditEvent[], reason: string): Promise<AuditEvent[]> {
    const refused: AuditEvent[] = [];
    const bodies = events.map((event) => JSON.stringify({ reason, event }));
    let i = 0;
    while (i < events.length) {
      const batch: { event: AuditEvent; body: string }[] = [];
      let bytes = 0;
      while (i < events.length && batch.length < MAX_BATCH) {
        const body = bodies[i]!;
        const size = Buffer.byteLength(body, "utf8");
        if (size > MAX_BYTES) {
          refused.push(events[i]!);
          i++;
          continue;
        }
        if (bytes + size > MAX_BYTES) break;
        batch.push({ event: events[i]!, body });
        bytes += size;
        i++;
      }
      if (batch.length > 0) refused.push(...(await this.#sendBatch(batch)));
    }
    return refused;
  }

  async #sendBatch(batch: { event: AuditEvent; body: string }[]): Promise<AuditEvent[]> {
    let pending = batch;
    for (let attempt = 1; attempt <= this.#attempts && pending.length > 0; attempt++) {
      try {
        const out = await this.#client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: pending.map((b, n) => ({ Id: String(n), MessageBody: b.body })),
          }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        const ok = new Set((out.Successful ?? []).map((s) => s.Id));
        pending = pending.filter((_, n) => failed.has(String(n)) || !ok.has(String(n)));
      } catch {
        // whole request failed: retry all of it
      }
      if (pending.length > 0 && attempt < this.#attempts)
        await new Promise((r) => setTimeout(r, 20 * attempt));
    }
    return pending.map((b) => b.event);
  }
}

/**
 * Time one `SendMessageBatch` request may take, connection included, before it fails as
 * `TimeoutError` (then it is retried, or its events are logged in full and counted). Spills happen
 * between the bus deadline (`deadlineMs` − 300 ms) and the audit extension's cutoff (`deadlineMs` −
 * 50 ms), often on a cold connection; in-region SQS normally answers in 5–30 ms.
 */
export const SQS_REQUEST_TIMEOUT_MS = 150;
/** Time to establish the TCP connection of a request. */
export const SQS_CONNECTION_TIMEOUT_MS = 100;

/** An SQS client (`endpoint`: tests' stand-in). */
export function createSqsClient(
  options: { region?: string; endpoint?: string; requestTimeoutMs?: number } = {},
): SQSClient {
  return new SQSClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          region: options.region ?? "us-east-1",
          credentials: { accessKeyId: "local", secretAccessKey: "local" },
        }
      : {}),
    maxAttempts: 2,
    requestHandler: {
      connectionTimeout: SQS_CONNECTION_TIMEOUT_MS,
      requestTimeout: options.requestTimeoutMs ?? SQS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
}
