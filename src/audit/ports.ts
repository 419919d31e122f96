import type { AuditEvent, AuditEventType, Decision } from "./events.ts";

/**
 * Where emitted events go. `publish` only enqueues (O(1), never throws, never awaits): a decision
 * is never blocked or failed by audit. `flush` delivers what is queued (at the end of each Lambda
 * invocation) and never rejects: what cannot be delivered is spilled, and what cannot be spilled is
 * logged and counted. Adapters: in-process (local store), EventBridge (+ SQS dead letters).
 */
export interface EventBus {
  publish(event: AuditEvent): void;
  /** @param options.deadline epoch ms after which remaining events are spilled instead of retried */
  flush(options?: { readonly deadline?: number }): Promise<void>;
  /** Events queued and not yet flushed. */
  readonly pending: number;
  /**
   * `flush` without a promise, for buses that deliver in memory: true when everything queued was
   * delivered (or counted as failed) synchronously; false when the caller must `flush`.
   */
  flushSync?(): boolean;
}

/** Query filters of the audit store; times in epoch ms, both bounds inclusive. */
export interface AuditFilter {
  readonly from?: number;
  readonly to?: number;
  readonly type?: AuditEventType;
  readonly actor?: string;
  readonly resource?: string;
  readonly decision?: Decision;
}

export interface AuditPage {
  readonly items: AuditEvent[];
  readonly cursor?: string;
}

/**
 * Stored events per tenant. Contract: test/contract/audit-store.suite.ts (memory, DynamoDB Local).
 * `put` is idempotent by event id (redelivery by EventBridge is normal); `query` is newest first.
 */
export interface AuditStore {
  put(events: readonly AuditEvent[]): Promise<{ written: number; duplicates: number }>;
  /** `put` without a promise, for stores that write in memory (the in-process bus uses it). */
  putSync?(events: readonly AuditEvent[]): { written: number; duplicates: number };
  /**
   * Takes events to store without waiting (the in-process bus prefers it): stored in the
   * background, visible to every `query` made after the call; never throws.
   */
  enqueue?(events: readonly AuditEvent[]): void;
  /** Releases what the store holds (threads, clients). */
  close?(): Promise<void>;
  query(
    tenant: string,
    filter: AuditFilter,
    page: { readonly limit: number; readonly cursor?: string },
  ): Promise<AuditPage>;
}
