import type { AuditEvent } from "../../src/audit/events.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";

/**
 * The `i`-th check event of a tenant, `i` ms after `t0` (a fresh id each call): every envelope
 * field set, decisions and reasons varying with `i`, as the audit stores' tests need them.
 */
export function checkEventAt(
  tenant: string,
  i: number,
  t0: number,
  over: Partial<AuditEvent> = {},
): AuditEvent {
  return {
    v: 1,
    id: ulidGenerator.ulid(),
    time: new Date(t0 + i).toISOString(),
    tenant,
    type: "authz.check",
    actor: "apikey:k1",
    subject: `user:u${i % 10}`,
    resource: `document:d${i}`,
    action: "viewer",
    decision: i % 3 ? "allow" : "deny",
    reason: i % 3 ? "document:d#viewer <- user:u" : "no path",
    region: "local",
    request: { id: `r${i}`, ip: "127.0.0.1" },
    latency_ms: (i % 100) / 1000,
    detail: { store_id: "s1" },
    ...over,
  };
}
