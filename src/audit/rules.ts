/**
 * The audit rules of the admin and OAuth routes: which event each change or decision emits.
 * Admin changes emit `success` (or `failure` with the error code); OAuth emits `token.issued` /
 * `token.refused`, `token.introspected` (allow = active) and `token.revoked`.
 */

import { formParam } from "../oauth/form.ts";
import type { TokenMeta } from "../oauth/http.ts";
import { PATHS } from "../oauth/metadata.ts";
import type { UserChangeMeta } from "../users/http.ts";
import { type AuditEventInput, PLATFORM_TENANT } from "./events.ts";
import { type AuditedCall, type AuditRule, type Built, errorCode, str } from "./route-audit.ts";

type Change = Pick<AuditEventInput, "type" | "action"> & {
  readonly resource: (c: AuditedCall) => string;
  readonly tenant?: (c: AuditedCall) => string;
  /** On whose behalf (e.g. the user whose consent was revoked). */
  readonly subject?: (c: AuditedCall) => string;
};

const tenantParam = (c: AuditedCall) => c.params.tenantId ?? PLATFORM_TENANT;

/** A rule for an admin change: one event on success, one with `failure` on error. */
function change(method: string, path: string, ch: Change): AuditRule {
  const tenant = ch.tenant ?? tenantParam;
  return {
    method,
    path,
    ok: (c) => ({
      type: ch.type,
      tenant: tenant(c),
      ...(ch.subject ? { subject: ch.subject(c) } : {}),
      resource: ch.resource(c),
      action: ch.action,
      decision: "success",
    }),
    failed: (c) => ({
      type: ch.type,
      tenant: tenant(c),
      ...(ch.subject ? { subject: ch.subject(c) } : {}),
      resource: ch.resource(c),
      action: ch.action,
      decision: "failure",
      reason: errorCode(c.error),
    }),
  };
}

/**
 * A user change that may disable the user: `user.updated`, plus `session.revoked` (`revoke_all`)
 * when it disabled them (their sessions are revoked with it).
 */
function disabling(method: string, path: string, action: string): AuditRule {
  const base = change(method, path, {
    type: "user.updated",
    action,
    resource: (c) => `user:${c.params.userId}`,
  });
  return {
    ...base,
    ok: (c) => [
      {
        type: "user.updated",
        tenant: tenantParam(c),
        resource: `user:${c.params.userId}`,
        action,
        decision: "success",
      },
      // Only when this request disabled the user (the users service reports the transition):
      // disabling a user who is disabled already revokes nothing.
      ...((c.response?.meta as UserChangeMeta | undefined)?.disabled_now === true
        ? [
            {
              type: "session.revoked" as const,
              tenant: tenantParam(c),
              subject: c.params.userId ?? "?",
              resource: `user:${c.params.userId}`,
              action: "revoke_all",
              decision: "success" as const,
              reason: "user disabled",
            },
          ]
        : []),
    ],
  };
}

const T = "/admin/v1/tenants";
const C = `${T}/{tenantId}/clients`;
const U = `${T}/{tenantId}/users`;

/** Admin API changes: tenants, API keys, OAuth clients, users, sessions, signing keys. */
export const ADMIN_AUDIT_RULES: readonly AuditRule[] = [
  change("POST", T, {
    type: "tenant.created",
    action: "create",
    tenant: (c) => str(c.body, "id") ?? PLATFORM_TENANT,
    resource: (c) => `tenant:${str(c.body, "id") ?? "?"}`,
  }),
  change("DELETE", `${T}/{tenantId}`, {
    type: "tenant.deleted",
    action: "delete",
    resource: (c) => `tenant:${c.params.tenantId}`,
  }),
  change("PUT", `${T}/{tenantId}/domains`, {
    type: "tenant.domains_changed",
    action: "set_domains",
    resource: (c) => `tenant:${c.params.tenantId}`,
  }),
  change("POST", `${T}/{tenantId}/api-keys`, {
    type: "apikey.created",
    action: "create",
    resource: (c) => `apikey:${str(c.body, "id") ?? "?"}`,
  }),
  change("DELETE", `${T}/{tenantId}/api-keys/{keyId}`, {
    type: "apikey.revoked",
    action: "revoke",
    resource: (c) => `apikey:${c.params.keyId}`,
  }),
  change("POST", C, {
    type: "client.created",
    action: "create",
    resource: (c) => `client:${str(c.body, "client_id") ?? "?"}`,
  }),
  change("POST", `${C}/{clientId}/secret`, {
    type: "client.secret_rotated",
    action: "rotate_secret",
    resource: (c) => `client:${c.params.clientId}`,
  }),
  change("DELETE", `${C}/{clientId}`, {
    type: "client.deleted",
    action: "delete",
    resource: (c) => `client:${c.params.clientId}`,
  }),
  change("POST", U, {
    type: "user.created",
    action: "create",
    resource: (c) => `user:${str(c.body, "id") ?? "?"}`,
  }),
  // Disabling a user also ends all of their sessions: two events, the change and the revocation.
  disabling("PATCH", `${U}/{userId}`, "update"),
  disabling("POST", `${U}/{userId}/disable`, "disable"),
  change("DELETE", `${U}/{userId}`, {
    type: "user.deleted",
    action: "delete",
    resource: (c) => `user:${c.params.userId}`,
  }),
  change("DELETE", `${U}/{userId}/sessions`, {
    type: "session.revoked",
    action: "revoke_all",
    resource: (c) => `user:${c.params.userId}`,
  }),
  change("DELETE", `${U}/{userId}/sessions/{sessionId}`, {
    type: "session.revoked",
    action: "revoke",
    resource: (c) => `session:${c.params.sessionId}`,
  }),
  change("DELETE", `${U}/{userId}/consents/{clientId}`, {
    type: "consent.revoked",
    action: "revoke",
    subject: (c) => c.params.userId ?? "?",
    resource: (c) => `client:${c.params.clientId}`,
  }),
  change("POST", "/admin/v1/keys/rotate", {
    type: "key.rotated",
    action: "rotate",
    tenant: () => PLATFORM_TENANT,
    resource: (c) => `signing-keys:${str(c.body, "action") ?? "rotate"}`,
  }),
  change("POST", "/admin/v1/keys/retire", {
    type: "key.retired",
    action: "retire",
    tenant: () => PLATFORM_TENANT,
    resource: () => "signing-keys",
  }),
];

/** The unverified payload of a JWT we just issued (identifiers only), or undefined. */
function jwtPayload(token: unknown): Record<string, unknown> | undefined {
  if (typeof token !== "string") return undefined;
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The client id a token request names (form `client_id`, HTTP Basic user, or assertion `sub`). */
function clientIdOf(c: AuditedCall): string | undefined {
  // Read as the endpoint reads it (formParam), so the event names the client the endpoint checked.
  const id = formParam(c.req.body, "client_id");
  if (id) return id.slice(0, 256);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(c.req.headers.authorization ?? "");
  if (basic?.[1]) {
    const user = Buffer.from(basic[1], "base64").toString("utf8").split(":")[0];
    if (user) return decodeURIComponent(user).slice(0, 256);
  }
  const sub = jwtPayload(formParam(c.req.body, "client_assertion"))?.sub;
  return typeof sub === "string" ? sub.slice(0, 256) : undefined;
}

const grantOf = (c: AuditedCall): string => (formParam(c.req.body, "grant_type") ?? "none").slice(0, 128);

/** What the OAuth rules need: the tenant of a client, for requests that fail before it is known. */
export interface OAuthAuditDeps {
  readonly tenantOfClient: (clientId: string) => Promise<string | undefined>;
  /** Verifies a token (signature, expiry) without the revocation check; undefined when invalid. */
  readonly verify: (
    token: string,
  ) => Promise<{ tenant_id: string; client_id: string; jti: string } | undefined>;
}

/** OAuth endpoint rules: issued/refused, introspected, revoked. */
export function oauthAuditRules(d: OAuthAuditDeps): AuditRule[] {
  const callerTenant = async (c: AuditedCall) => {
    const id = clientIdOf(c);
    return (id && (await d.tenantOfClient(id).catch(() => undefined))) || PLATFORM_TENANT;
  };
  const caller = (c: AuditedCall) => {
    const id = clientIdOf(c);
    return id ? `client:${id}` : "anonymous";
  };
  /** token.issued from the response body and the token in it (grants without TokenMeta claims). */
  const issuedFromResponse = async (c: AuditedCall): Promise<Built> => {
    const claims = jwtPayload(c.body?.access_token) ?? {};
    const clientId = typeof claims.client_id === "string" ? claims.client_id : clientIdOf(c);
    const sub = typeof claims.sub === "string" ? claims.sub : undefined;
    const aud = Array.isArray(claims.aud)
      ? claims.aud.join(" ")
      : typeof claims.aud === "string"
        ? claims.aud
        : "";
    return {
      type: "token.issued",
      tenant: typeof claims.tenant_id === "string" ? claims.tenant_id : await callerTenant(c),
      actor: clientId ? `client:${clientId}` : "anonymous",
      ...(sub && sub !== clientId ? { subject: sub } : {}),
      resource: aud ? `audience:${aud}` : "token",
      action: grantOf(c),
      decision: "allow",
      detail: {
        grant_type: grantOf(c),
        scope: str(c.body, "scope") ?? null,
        jti: typeof claims.jti === "string" ? claims.jti : null,
        expires_in: typeof c.body?.expires_in === "number" ? c.body.expires_in : null,
      },
    };
  };
  return [
    {
      method: "POST",
      path: PATHS.token,
      ok: (c) => {
        // The token endpoint's meta (TokenMeta, src/oauth/http.ts): the grant and the claims as
        // signed, so nothing is re-parsed; the same event as issuedFromResponse builds.
        const m = c.response?.meta as TokenMeta | undefined;
        const t = m?.claims;
        if (!m || !t) return issuedFromResponse(c);
        const aud = Array.isArray(t.aud) ? t.aud.join(" ") : t.aud;
        return {
          type: "token.issued",
          tenant: t.tenant_id,
          actor: `client:${t.client_id}`,
          ...(t.sub && t.sub !== t.client_id ? { subject: t.sub } : {}),
          resource: aud ? `audience:${aud}` : "token",
          action: m.grant_type,
          decision: "allow",
          detail: {
            grant_type: m.grant_type,
            scope: t.scope ? t.scope : null,
            jti: t.jti,
            expires_in: t.exp - t.iat,
          },
        };
      },
      failed: async (c) => ({
        type: "token.refused",
        tenant: await callerTenant(c),
        actor: caller(c),
        resource: "token",
        action: grantOf(c),
        decision: "deny",
        reason: errorCode(c.error),
        detail: { grant_type: grantOf(c) },
      }),
    },
    {
      method: "POST",
      path: PATHS.introspect,
      ok: async (c) => {
        const active = c.body?.active === true;
        const jti = str(c.body, "jti");
        return {
          type: "token.introspected",
          tenant: (active && str(c.body, "tenant_id")) || (await callerTenant(c)),
          actor: caller(c),
          ...(active && str(c.body, "sub") ? { subject: str(c.body, "sub")! } : {}),
          resource: jti ? `token:${jti}` : "token",
          action: "introspect",
          decision: active ? "allow" : "deny",
          reason: active ? "active" : "inactive",
        };
      },
      failed: async (c) => ({
        type: "token.introspected",
        tenant: await callerTenant(c),
        actor: caller(c),
        resource: "token",
        action: "introspect",
        decision: "deny",
        reason: errorCode(c.error),
      }),
    },
    {
      method: "POST",
      path: PATHS.revoke,
      ok: async (c) => {
        const token = formParam(c.req.body, "token");
        const claims = token ? await d.verify(token).catch(() => undefined) : undefined;
        const tenant = await callerTenant(c);
        const known = claims !== undefined && claims.tenant_id === tenant;
        return {
          type: "token.revoked",
          tenant,
          actor: caller(c),
          resource: known ? `token:${claims.jti}` : "token",
          action: "revoke",
          decision: "success",
          reason: known ? "revoked" : "not an access token of this client (RFC 7009: no-op or refresh token)",
        };
      },
      failed: async (c) => ({
        type: "token.revoked",
        tenant: await callerTenant(c),
        actor: caller(c),
        resource: "token",
        action: "revoke",
        decision: "failure",
        reason: errorCode(c.error),
      }),
    },
  ];
}
