/**
 * Settings of the audit pipeline, from the environment, read once per cold start.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `PORTCULLIS_AUDIT_BUS` | `in-process` (local store), `eventbridge` (`PutEvents` from the function), `log` (audit lines on standard output, forwarded to EventBridge by a CloudWatch Logs subscription: src/audit/adapters/log-lines.ts), `off` | `eventbridge` with DynamoDB in AWS, else `in-process` (the CDK app sets `log` or `eventbridge`) |
 * | `PORTCULLIS_AUDIT_EVENT_BUS` | EventBridge bus name or ARN (else `PORTCULLIS_EVENT_BUS`, set by the CDK app) | `default` |
 * | `PORTCULLIS_AUDIT_DLQ_URL` | SQS queue URL of undeliverable events | – (log only, counted) |
 * | `PORTCULLIS_AUDIT_RETENTION_DAYS` | days events are kept in the audit table (TTL) | 365 |
 * | `PORTCULLIS_AUDIT_EMF` | write EMF metric lines at the end of each invocation | `true` with `eventbridge` and `log` |
 * | `PORTCULLIS_AUDIT_FLUSH` | `after-response` (in Lambda: an internal extension flushes after the response is sent, falling back to `in-invocation` if it cannot register), `in-invocation` (middy `after`/`onError`, before the response), `end-of-turn` (a long-running server: the events of an event-loop turn's requests are built and delivered in one batch after their responses; `in-invocation` in Lambda) | `end-of-turn` in `npm start` (startLocalPlatform); `after-response` with `eventbridge`, else `in-invocation` |
 * | `PORTCULLIS_AUDIT_LOCAL_STORE` | where the memory audit store runs: `worker` (a worker thread fed through shared memory, off the request thread) or `in-thread` | `worker` in `npm start` (startLocalPlatform), else `in-thread` |
 * | `PORTCULLIS_EVENTBRIDGE_ENDPOINT`, `PORTCULLIS_SQS_ENDPOINT` | endpoint overrides (tests' stand-ins) | – |
 */
import { z } from "zod";

export type AuditBusKind = "in-process" | "eventbridge" | "log" | "off";

/**
 * When an invocation's events are flushed (functions/_shared/audit-extension.ts): after the response
 * went out (Lambda Extensions API; only in Lambda and only if registration succeeds), inside the
 * invocation, before the response, or (a long-running server, never in Lambda, where a frozen
 * environment runs nothing between invocations) at the end of each event-loop turn, for all the
 * turn's requests at once (src/audit/emitter.ts).
 */
export type AuditFlushMode = "after-response" | "in-invocation" | "end-of-turn";

export interface AuditSettings {
  readonly bus: AuditBusKind;
  readonly eventBusName: string;
  readonly deadLetterQueueUrl?: string;
  readonly retentionDays: number;
  readonly emf: boolean;
  readonly flush: AuditFlushMode;
  /** Where the memory audit store runs (memory platform store only). */
  readonly localStore: "worker" | "in-thread";
  readonly eventBridgeEndpoint?: string;
  readonly sqsEndpoint?: string;
}

const schema = z.object({
  PORTCULLIS_AUDIT_BUS: z.enum(["in-process", "eventbridge", "log", "off"]).optional(),
  PORTCULLIS_AUDIT_EVENT_BUS: z.string().min(1).max(1600).optional(),
  PORTCULLIS_EVENT_BUS: z.string().min(1).max(1600).optional(),
  PORTCULLIS_AUDIT_DLQ_URL: z.url().optional(),
  PORTCULLIS_AUDIT_RETENTION_DAYS: z.coerce.number().min(1).max(3650).default(365),
  PORTCULLIS_AUDIT_EMF: z.enum(["true", "false"]).optional(),
  PORTCULLIS_AUDIT_FLUSH: z.enum(["after-response", "in-invocation", "end-of-turn"]).optional(),
  PORTCULLIS_AUDIT_LOCAL_STORE: z.enum(["worker", "in-thread"]).default("in-thread"),
  PORTCULLIS_EVENTBRIDGE_ENDPOINT: z.url().optional(),
  PORTCULLIS_SQS_ENDPOINT: z.url().optional(),
});

/** Reads the audit settings; throws naming the offending variables (never their values). */
export function auditSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  platform: { readonly store: "memory" | "dynamodb"; readonly dynamodbEndpoint?: string },
): AuditSettings {
  const r = schema.safeParse(env);
  if (!r.success) {
    const bad = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid configuration: ${bad}`);
  }
  const e = r.data;
  const inAws = platform.store === "dynamodb" && !platform.dynamodbEndpoint;
  const bus = e.PORTCULLIS_AUDIT_BUS ?? (inAws ? "eventbridge" : "in-process");
  return {
    bus,
    eventBusName: e.PORTCULLIS_AUDIT_EVENT_BUS ?? e.PORTCULLIS_EVENT_BUS ?? "default",
    ...(e.PORTCULLIS_AUDIT_DLQ_URL ? { deadLetterQueueUrl: e.PORTCULLIS_AUDIT_DLQ_URL } : {}),
    retentionDays: e.PORTCULLIS_AUDIT_RETENTION_DAYS,
    emf: e.PORTCULLIS_AUDIT_EMF ? e.PORTCULLIS_AUDIT_EMF === "true" : bus === "eventbridge" || bus === "log",
    flush: flushMode(e.PORTCULLIS_AUDIT_FLUSH, bus, env.AWS_LAMBDA_RUNTIME_API !== undefined),
    localStore: e.PORTCULLIS_AUDIT_LOCAL_STORE,
    ...(e.PORTCULLIS_EVENTBRIDGE_ENDPOINT ? { eventBridgeEndpoint: e.PORTCULLIS_EVENTBRIDGE_ENDPOINT } : {}),
    ...(e.PORTCULLIS_SQS_ENDPOINT ? { sqsEndpoint: e.PORTCULLIS_SQS_ENDPOINT } : {}),
  };
}

function flushMode(
  configured: AuditFlushMode | undefined,
  bus: AuditBusKind,
  inLambda: boolean,
): AuditFlushMode {
  if (configured === "end-of-turn" && inLambda) return "in-invocation";
  return configured ?? (bus === "eventbridge" ? "after-response" : "in-invocation");
}
