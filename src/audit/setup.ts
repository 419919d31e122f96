/**
 * Wires the audit pipeline from its settings: the store (memory or the DynamoDB `audit` table),
 * the bus (in-process into that store; EventBridge, or audit lines on standard output for the
 * forwarder, each with the SQS dead-letter queue) and the emitter. The composition used by functions/_shared/container.ts.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Clock } from "../shared/clock.ts";
import type { IdGenerator } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import { DynamoDbAuditStore } from "./adapters/dynamodb.ts";
import { createEventBridgeClient, type DeadLetterSink, EventBridgeEventBus } from "./adapters/eventbridge.ts";
import { InProcessEventBus } from "./adapters/in-process.ts";
import { LogLineEventBus } from "./adapters/log-lines.ts";
import { MemoryAuditStore } from "./adapters/memory.ts";
import { createSqsClient, SqsDeadLetters } from "./adapters/sqs.ts";
import { WorkerAuditStore } from "./adapters/worker-store.ts";
import { AuditEmitter } from "./emitter.ts";
import { AuditMetrics } from "./metrics.ts";
import type { AuditStore, EventBus } from "./ports.ts";
import type { AuditSettings } from "./settings.ts";

/** The audit pipeline of one container. */
export interface Audit {
  readonly settings: AuditSettings;
  readonly emitter: AuditEmitter;
  readonly bus: EventBus;
  /** The store the query API reads (and the in-process bus writes). */
  readonly store: AuditStore;
  readonly metrics: AuditMetrics;
  /** Releases SDK clients and the store's worker thread (resolves once the worker has stopped). */
  destroy(): Promise<void>;
}

export interface AuditDeps {
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly log: Logger;
  readonly region: string;
  /** The DynamoDB client and audit table name, when the platform store is DynamoDB. */
  readonly dynamodb?: { readonly client: DynamoDBClient; readonly table: string };
  /**
   * Where the `log` bus writes its lines; throws when the write fails. @default writeStdout
   * (src/shared/stdout.ts); in a Lambda function, its `InvocationOutput`.
   */
  readonly writeLine?: (chunk: string) => void;
}

/** Dead letters when no queue is configured: every event is logged in full and counted as not spilled. */
const logOnly = (log: Logger): DeadLetterSink => ({
  async send(events, reason) {
    log.warn("audit dead-letter queue not configured", { reason, events: events.length });
    return [...events];
  },
});

/** What the EventBridge bus and the dead letters are built from; `destroyers` collects SDK clients. */
export interface TransportDeps {
  readonly settings: Pick<
    AuditSettings,
    "eventBusName" | "deadLetterQueueUrl" | "eventBridgeEndpoint" | "sqsEndpoint"
  >;
  readonly log: Logger;
  readonly clock: Clock;
  /** `local`: the SDK's default region. */
  readonly region: string;
  readonly metrics: AuditMetrics;
  readonly destroyers: (() => void)[];
}

const sdkRegion = (region: string) => (region !== "local" ? { region } : {});

/** The spill queue (SQS) when configured, else the log (counted as not spilled). */
export function deadLettersOf(t: TransportDeps): DeadLetterSink {
  if (!t.settings.deadLetterQueueUrl) return logOnly(t.log);
  const sqs = createSqsClient({
    ...sdkRegion(t.region),
    ...(t.settings.sqsEndpoint ? { endpoint: t.settings.sqsEndpoint } : {}),
  });
  t.destroyers.push(() => sqs.destroy());
  return new SqsDeadLetters(sqs, t.settings.deadLetterQueueUrl);
}

/** The EventBridge bus with its dead letters (the emitters' `eventbridge` bus, the forwarder's). */
export function eventBridgeBus(t: TransportDeps): EventBridgeEventBus {
  const client = createEventBridgeClient({
    ...sdkRegion(t.region),
    ...(t.settings.eventBridgeEndpoint ? { endpoint: t.settings.eventBridgeEndpoint } : {}),
  });
  t.destroyers.push(() => client.destroy());
  return new EventBridgeEventBus({
    client,
    eventBusName: t.settings.eventBusName,
    deadLetters: deadLettersOf(t),
    metrics: t.metrics,
    log: t.log,
    clock: t.clock,
  });
}

export function createAudit(settings: AuditSettings, d: AuditDeps): Audit {
  const metrics = new AuditMetrics();
  const store: AuditStore = d.dynamodb
    ? new DynamoDbAuditStore(d.dynamodb.client, d.dynamodb.table, {
        retentionDays: settings.retentionDays,
        clock: d.clock,
      })
    : settings.localStore === "worker" && settings.bus === "in-process"
      ? new WorkerAuditStore({ retentionDays: settings.retentionDays, clock: d.clock, log: d.log })
      : new MemoryAuditStore({ retentionDays: settings.retentionDays, clock: d.clock });
  const destroyers: (() => void)[] = [];
  const transport = { settings, log: d.log, clock: d.clock, region: d.region, metrics, destroyers };
  const bus: EventBus =
    settings.bus === "eventbridge"
      ? eventBridgeBus(transport)
      : settings.bus === "log"
        ? new LogLineEventBus({
            deadLetters: deadLettersOf(transport),
            metrics,
            log: d.log,
            ...(d.writeLine ? { write: d.writeLine } : {}),
          })
        : new InProcessEventBus({ store, metrics, log: d.log });
  const emitter = new AuditEmitter({
    bus,
    clock: d.clock,
    ids: d.ids,
    region: d.region,
    metrics,
    log: d.log,
    enabled: settings.bus !== "off",
    byTurn: settings.flush === "end-of-turn",
  });
  return {
    settings,
    emitter,
    bus,
    store,
    metrics,
    destroy: async () => {
      // What the last turn queued is delivered before the store closes.
      await emitter.flush();
      for (const f of destroyers) f();
      await store.close?.();
    },
  };
}
