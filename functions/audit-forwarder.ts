/**
 * Lambda entry of the audit forwarder (src/audit/forwarder.ts): the destination of the CloudWatch
 * Logs subscription filters on the log groups of the functions whose audit bus is `log`. Puts each
 * audit line's event on the EventBridge bus (`PORTCULLIS_EVENT_BUS`), spilling what the bus refuses
 * to `PORTCULLIS_AUDIT_DLQ_URL`, within the invocation's time; then writes one EMF line (decisions,
 * events, delivered, rejected, spilled, lag: the alarms of lib/stacks/audit-stack.ts). Takes lines
 * only from this account's log groups under `PORTCULLIS_AUDIT_LOG_GROUP_PREFIX`, naming this region.
 * Its own log group is never subscribed. Reads no table, no admin key, no signing keys.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { createAuditForwarder } from "../src/audit/forwarder.ts";
import { AuditMetrics } from "../src/audit/metrics.ts";
import { auditSettingsFromEnv } from "../src/audit/settings.ts";
import { eventBridgeBus } from "../src/audit/setup.ts";
import { systemClock } from "../src/shared/clock.ts";
import { createLogger, parseLogLevel } from "../src/shared/logger.ts";

/** Time kept back from the invocation's deadline: what is not delivered by then is spilled. */
const RESERVE_MS = 1000;

const env = process.env;
const region = env.PORTCULLIS_REGION ?? env.AWS_REGION ?? "local";
const log = createLogger({ level: parseLogLevel(env.PORTCULLIS_LOG_LEVEL), base: { fn: "audit-forwarder" } });
const metrics = new AuditMetrics();
const forward = createAuditForwarder({
  bus: eventBridgeBus({
    settings: auditSettingsFromEnv(env, { store: "dynamodb" }),
    log,
    clock: systemClock,
    region,
    metrics,
    destroyers: [],
  }),
  metrics,
  log,
  sources: {
    region,
    ...(env.PORTCULLIS_AUDIT_LOG_GROUP_PREFIX
      ? { logGroupPrefix: env.PORTCULLIS_AUDIT_LOG_GROUP_PREFIX }
      : {}),
  },
});

/** The account of the invoked function's ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
const accountOf = (arn: string | undefined) => arn?.split(":")[4] || undefined;

export const handler = middy<unknown, void>().handler(async (event, context: Context) => {
  try {
    const remaining = context.getRemainingTimeInMillis?.();
    const r = await forward(event, {
      ...(remaining === undefined ? {} : { deadline: Date.now() + Math.max(0, remaining - RESERVE_MS) }),
      // Lines only from this account's log groups (an unknown account matches none).
      account: accountOf(context.invokedFunctionArn) ?? "unknown",
    });
    log.info("audit lines forwarded", { ...r });
  } finally {
    const line = metrics.takeEmf(Date.now(), { Region: region });
    if (line) process.stdout.write(`${line}\n`);
  }
});
