/** The audit module's public surface. */
export { type AuditEmitter, type AuditSink, actorOf, noAudit, requestInfo } from "./emitter.ts";
export {
  AUDIT_EVENT_TYPES,
  AUDIT_SCHEMA_VERSION,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  auditEventSchema,
  type Decision,
  PLATFORM_TENANT,
  parseAuditEvent,
} from "./events.ts";
export { auditRoutes } from "./http.ts";
export { AuditMetrics } from "./metrics.ts";
export type { AuditFilter, AuditStore, EventBus } from "./ports.ts";
export { findSecrets, redactEvent } from "./redact.ts";
export { type AuditSettings, auditSettingsFromEnv } from "./settings.ts";
export { type Audit, createAudit } from "./setup.ts";
export { createAuditWriter } from "./writer.ts";
