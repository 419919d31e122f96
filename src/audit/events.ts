/**
 * The audit event: one versioned envelope (docs/AUDIT.md, DESIGN "Audit events") for every access
 * decision and change. Types are dotted (`authz.check`, `token.issued`, ...). The zod schema is the
 * contract of the bus, the writer and the query API; emitters build events without parsing them
 * (hot path), the writer and tests validate.
 */
import { z } from "zod";

/** Version of the envelope; bumped on breaking changes, readers accept every version they know. */
export const AUDIT_SCHEMA_VERSION = 1;

/** Every event type that exists. */
export const AUDIT_EVENT_TYPES = [
  "authz.check",
  "authz.list_objects",
  "authz.list_users",
  "authz.tuples.written",
  "authz.model.written",
  "authz.store.created",
  "authz.store.deleted",
  "token.issued",
  "token.refused",
  "token.introspected",
  "token.revoked",
  "login.succeeded",
  "login.failed",
  "login.throttled",
  "session.created",
  "session.revoked",
  "consent.granted",
  "consent.denied",
  "consent.revoked",
  "key.rotated",
  "key.retired",
  "tenant.created",
  "tenant.deleted",
  "tenant.domains_changed",
  "apikey.created",
  "apikey.revoked",
  "client.created",
  "client.updated",
  "client.deleted",
  "client.secret_rotated",
  "user.created",
  "user.updated",
  "user.deleted",
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** `allow`/`deny` for decisions; `success`/`failure` for changes. */
export const DECISIONS = ["allow", "deny", "success", "failure"] as const;
export type Decision = (typeof DECISIONS)[number];

/** Tenant id of platform-wide events (signing keys, tenant lifecycle seen by the operator). */
export const PLATFORM_TENANT = "_platform";

const id = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
const text = (max: number) => z.string().max(max);

export const auditEventSchema = z.object({
  /** Envelope version. */
  v: z.literal(AUDIT_SCHEMA_VERSION),
  /** ULID: unique, time-ordered; the idempotency key of the writer. */
  id,
  /** RFC 3339 time of the decision or change. */
  time: z.iso.datetime(),
  tenant: text(128).min(1),
  type: z.enum(AUDIT_EVENT_TYPES),
  /** Who acted: `platform:admin-key`, `apikey:<id>`, `client:<id>`, `user:<id>`, `anonymous`. */
  actor: text(512),
  /** On whose behalf, when different from the actor (token exchange, checks: the user checked). */
  subject: text(512).optional(),
  /** What was acted on, e.g. `document:roadmap`, `tenant:<id>`, `client:<id>`. */
  resource: text(512),
  /** The relation checked or the operation, e.g. `viewer`, `create`, `rotate`. */
  action: text(256),
  decision: z.enum(DECISIONS),
  /** Checks: the explanation path when allowed, `no path` when denied; changes: a short reason. */
  reason: text(4096).optional(),
  region: text(64),
  request: z
    .object({
      id: text(256).optional(),
      ip: text(64).optional(),
      user_agent: text(512).optional(),
    })
    .optional(),
  latency_ms: z.number().nonnegative().optional(),
  /** Authorization model id, when relevant. */
  model_id: text(64).optional(),
  /** Consistency token of a write or a check, when relevant (an opaque revision, not a secret). */
  consistency_token: text(512).optional(),
  /** Type-specific detail; scalar values only, passed through the redaction guard. */
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;

/** What an emitter supplies; the envelope (`v`, `id`, `time`, `region`) is filled in. */
export type AuditEventInput = Omit<AuditEvent, "v" | "id" | "time" | "region"> & {
  /** Event time in ms; @default clock.now() */
  readonly at?: number;
};

/** Envelope and schema fields in the schema's order (readable exports); the rest follow. */
const SCHEMA_ORDER = [
  "v",
  "id",
  "time",
  "tenant",
  "type",
  "actor",
  "subject",
  "resource",
  "action",
  "decision",
  "reason",
  "region",
  "request",
  "latency_ms",
  "model_id",
  "consistency_token",
  "detail",
] as const;

/**
 * A copy of an event with its keys in the schema's order (emitted events carry them in the order
 * they were set); what stores hand to readers.
 */
export function inSchemaOrder(e: AuditEvent): AuditEvent {
  const out: Record<string, unknown> = {};
  for (const k of SCHEMA_ORDER) if (e[k] !== undefined) out[k] = e[k];
  for (const k in e) {
    const v = (e as Record<string, unknown>)[k];
    if (v !== undefined && !(k in out)) out[k] = v;
  }
  return out as AuditEvent;
}

/** Parses an event coming from the bus (writer) or the store; throws a ZodError when malformed. */
export const parseAuditEvent = (value: unknown): AuditEvent => auditEventSchema.parse(value);
