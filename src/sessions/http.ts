/**
 * Admin API for sessions: a user's sessions (list, revoke one, revoke all), the tenant's session
 * timeouts, and a user's remembered consents (list, revoke one). Same access as the users API.
 */
import { z } from "zod";
import { json, noContent } from "../http/router.ts";
import type { HttpResponse, RequestContext, Route } from "../http/types.ts";
import { parseJsonBody } from "../http/validation.ts";
import { isoTime } from "../shared/clock.ts";
import type { User } from "../users/model.ts";
import type { UserService } from "../users/service.ts";
import type { ConsentService } from "./consents.ts";
import type { Consent, Session } from "./model.ts";
import type { SessionService } from "./service.ts";

const policyBody = z.strictObject({
  idle_timeout: z
    .number()
    .int()
    .min(60)
    .max(90 * 86400),
  absolute_timeout: z
    .number()
    .int()
    .min(60)
    .max(90 * 86400),
});

export const sessionJson = (s: Session) => ({
  id: s.id,
  user_id: s.userId,
  created_at: isoTime(s.createdAt),
  auth_time: isoTime(s.authTime),
  last_seen_at: isoTime(s.lastSeenAt),
  idle_expires_at: isoTime(s.idleExpiresAt),
  expires_at: isoTime(s.absoluteExpiresAt),
  amr: s.amr,
  acr: s.acr,
  ...(s.userAgent ? { user_agent: s.userAgent } : {}),
  ...(s.ip ? { ip: s.ip } : {}),
});

/** Same access as the users API: the platform admin, or a tenant credential of the path's tenant. */
const access = { kind: "tenant", param: "tenantId", scope: "tenant:admin" } as const;

/** A route on one user's sub-resource: the handler gets the user of the path (404 when unknown). */
const userRoute = (
  users: UserService,
  method: string,
  path: string,
  handle: (u: User, ctx: RequestContext) => Promise<HttpResponse>,
): Route => ({
  method,
  path,
  access,
  handler: async (_req, ctx) => handle(await users.get(ctx.params.tenantId!, ctx.params.userId!), ctx),
});

/** Admin routes for sessions. */
export function sessionRoutes(sessions: SessionService, users: UserService): Route[] {
  const base = "/admin/v1/tenants/{tenantId}/users/{userId}/sessions";
  return [
    userRoute(users, "GET", base, async (u) =>
      json(200, { sessions: (await sessions.list(u.tenantId, u.id)).map(sessionJson) }),
    ),
    userRoute(users, "DELETE", base, async (u, ctx) => {
      const n = await sessions.revokeAll(u.tenantId, u.id);
      ctx.log.info("sessions revoked", { tenant: u.tenantId, user_id: u.id, count: n });
      return json(200, { revoked: n });
    }),
    {
      method: "DELETE",
      path: `${base}/{sessionId}`,
      access,
      handler: async (_req, ctx) => {
        await sessions.revoke(ctx.params.tenantId!, ctx.params.userId!, ctx.params.sessionId!);
        ctx.log.info("session revoked", { tenant: ctx.params.tenantId, session_id: ctx.params.sessionId });
        return noContent();
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/{tenantId}/session-policy",
      access,
      handler: async (_req, ctx) => {
        const p = await sessions.policy(ctx.params.tenantId!);
        return json(200, { idle_timeout: p.idleTimeoutSeconds, absolute_timeout: p.absoluteTimeoutSeconds });
      },
    },
    {
      method: "PUT",
      path: "/admin/v1/tenants/{tenantId}/session-policy",
      access,
      handler: async (req, ctx) => {
        const b = parseJsonBody(req, policyBody);
        const p = await sessions.setPolicy(ctx.params.tenantId!, {
          idleTimeoutSeconds: b.idle_timeout,
          absoluteTimeoutSeconds: b.absolute_timeout,
        });
        return json(200, { idle_timeout: p.idleTimeoutSeconds, absolute_timeout: p.absoluteTimeoutSeconds });
      },
    },
  ];
}

export const consentJson = (c: Consent) => ({
  client_id: c.clientId,
  scopes: c.scopes,
  created_at: isoTime(c.createdAt),
  updated_at: isoTime(c.updatedAt),
});

/** Admin routes for a user's remembered consents. */
export function consentRoutes(consents: ConsentService, users: UserService): Route[] {
  const base = "/admin/v1/tenants/{tenantId}/users/{userId}/consents";
  return [
    userRoute(users, "GET", base, async (u) =>
      json(200, { consents: (await consents.list(u.tenantId, u.id)).map(consentJson) }),
    ),
    userRoute(users, "DELETE", `${base}/{clientId}`, async (u, ctx) => {
      const families = await consents.revoke(u.tenantId, u.id, ctx.params.clientId!);
      ctx.log.info("consent revoked", {
        tenant: u.tenantId,
        user_id: u.id,
        client_id: ctx.params.clientId,
        refresh_families_revoked: families,
      });
      return noContent();
    }),
  ];
}
