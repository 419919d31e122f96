/**
 * Sign-in events in the platform's audit envelope (src/audit/events.ts): `login.succeeded`,
 * `login.failed`, `login.throttled`, `session.created`, `session.revoked`, `consent.granted`,
 * `consent.denied`. The actor is the signed-in user (`user:<id>`, also the `subject`) or
 * `anonymous`; failures name no account (the email may not be one).
 */
import type { AuditEventInput, Decision } from "../audit/events.ts";
import type { LoginEvent } from "./throttle.ts";

const DEFAULT_DECISION: Record<LoginEvent["type"], Decision> = {
  "login.succeeded": "allow",
  "login.failed": "deny",
  "login.throttled": "deny",
  "session.created": "success",
  "session.revoked": "success",
  "consent.granted": "allow",
  "consent.denied": "deny",
};

/** The audit input of a sign-in event; `detail` keeps scalars only (arrays are joined). */
export function loginAuditInput(e: LoginEvent): AuditEventInput {
  const detail: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(e.detail ?? {})) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null) detail[k] = v;
    else if (Array.isArray(v)) detail[k] = v.join(" ");
  }
  const clientId = typeof e.detail?.client_id === "string" ? e.detail.client_id : "unknown";
  return {
    tenant: e.tenant,
    type: e.type,
    actor: e.subject ? `user:${e.subject}` : "anonymous",
    ...(e.subject ? { subject: e.subject } : {}),
    resource: e.resource ?? `client:${clientId}`,
    action: e.action ?? "login",
    decision: e.decision ?? DEFAULT_DECISION[e.type],
    ...(e.reason ? { reason: e.reason } : {}),
    request: {
      id: e.request.request_id,
      ip: e.request.ip,
      ...(e.request.user_agent ? { user_agent: e.request.user_agent } : {}),
    },
    at: Date.parse(e.time),
    detail,
  };
}
