/**
 * Admin API for OAuth clients: `/admin/v1/tenants/{tenantId}/clients…`. The platform admin, or a
 * bearer token of that tenant with the `tenant:admin` scope. Responses use RFC 7591 §3.2.1 names;
 * a client secret appears only in the response that created it.
 */
import { z } from "zod";
import { decodeContinuation, encodeContinuation } from "../http/pagination.ts";
import { json, noContent } from "../http/router.ts";
import type { RequestContext, Route } from "../http/types.ts";
import { pageSizeSchema, parseJsonBody, parseWith } from "../http/validation.ts";
import type { ClientService } from "./clients.ts";
import { AUTH_METHODS, GRANT_TYPES, type OAuthClient } from "./model.ts";

/** Largest JWK kept (members beyond the key's own are stored and echoed back, so they are bounded). */
const MAX_JWK_BYTES = 8 * 1024;

const jwkSchema = z
  .looseObject({ kty: z.enum(["EC", "RSA", "OKP"]), kid: z.string().max(128).optional() })
  .refine((k) => JSON.stringify(k).length <= MAX_JWK_BYTES, {
    message: `a key must not be larger than ${MAX_JWK_BYTES} bytes of JSON`,
  });

const registrationSchema = z.strictObject({
  client_name: z
    .string()
    .trim()
    .min(1, "must not be blank")
    .max(128)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters"),
  grant_types: z.array(z.enum(GRANT_TYPES)).max(4).optional(),
  redirect_uris: z.array(z.string().max(512)).max(10).optional(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
  scope: z.string().max(1024).optional(),
  jwks: z.strictObject({ keys: z.array(jwkSchema).min(1).max(5) }).optional(),
  resources: z.array(z.string().max(256)).min(1).max(10).optional(),
  access_token_lifetime: z.number().int().optional(),
  post_logout_redirect_uris: z.array(z.string().max(512)).max(10).optional(),
  third_party: z.boolean().optional(),
  organization_usage: z.enum(["none", "require"]).optional(),
});

const listQuery = z.object({
  page_size: pageSizeSchema(100, 50),
  continuation_token: z.string().max(2048).optional(),
});

/** A client as the admin API shows it (RFC 7591 §3.2.1 names; never the secret hash). */
export function clientJson(c: OAuthClient, secret?: string): Record<string, unknown> {
  return {
    client_id: c.clientId,
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(c.createdAt / 1000),
    tenant_id: c.tenantId,
    client_name: c.clientName,
    grant_types: c.grantTypes,
    redirect_uris: c.redirectUris,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    scope: c.scope.join(" "),
    resources: c.resources,
    access_token_lifetime: c.accessTokenLifetime,
    ...(c.jwks ? { jwks: { keys: c.jwks } } : {}),
    ...(c.postLogoutRedirectUris ? { post_logout_redirect_uris: c.postLogoutRedirectUris } : {}),
    ...(c.thirdParty ? { third_party: true } : {}),
    ...(c.organizationUsage ? { organization_usage: c.organizationUsage } : {}),
  };
}

/**
 * Who calls: the platform admin (multi-tenant clients are theirs alone), or a tenant credential
 * with the permissions it carries (a client it registers gets no platform scope beyond them).
 */
const byOf = (ctx: RequestContext) => {
  const p = ctx.principal;
  return p?.kind === "tenant" ? { platform: false, scopes: p.scopes } : { platform: p?.kind === "platform" };
};

/** Admin routes for OAuth clients. */
export function clientRoutes(clients: ClientService): Route[] {
  const base = "/admin/v1/tenants/{tenantId}/clients";
  const access = { kind: "tenant", param: "tenantId", scope: "tenant:admin" } as const;
  return [
    {
      method: "POST",
      path: base,
      access,
      handler: async (req, ctx) => {
        const body = parseJsonBody(req, registrationSchema);
        const tenantId = ctx.params.tenantId!;
        const { client, secret } = await clients.register(tenantId, body, byOf(ctx));
        ctx.log.info("oauth client registered", { tenant: tenantId, client_id: client.clientId });
        return json(201, clientJson(client, secret), {
          location: `/admin/v1/tenants/${tenantId}/clients/${client.clientId}`,
        });
      },
    },
    {
      method: "GET",
      path: base,
      access,
      handler: async (req, ctx) => {
        const tenantId = ctx.params.tenantId!;
        const q = parseWith(listQuery, req.query, "Query string");
        const scope = `clients:${tenantId}`;
        const page = await clients.list(
          tenantId,
          q.page_size,
          decodeContinuation(scope, q.continuation_token),
        );
        return json(200, {
          clients: page.items.map((c) => clientJson(c)),
          continuation_token: encodeContinuation(scope, page.cursor),
        });
      },
    },
    {
      method: "GET",
      path: `${base}/{clientId}`,
      access,
      handler: async (_req, ctx) => {
        return json(200, clientJson(await clients.get(ctx.params.tenantId!, ctx.params.clientId!)));
      },
    },
    {
      method: "POST",
      path: `${base}/{clientId}/secret`,
      access,
      handler: async (_req, ctx) => {
        const { client, secret } = await clients.rotateSecret(
          ctx.params.tenantId!,
          ctx.params.clientId!,
          byOf(ctx),
        );
        ctx.log.info("oauth client secret rotated", { tenant: client.tenantId, client_id: client.clientId });
        return json(200, clientJson(client, secret));
      },
    },
    {
      method: "DELETE",
      path: `${base}/{clientId}`,
      access,
      handler: async (_req, ctx) => {
        await clients.delete(ctx.params.tenantId!, ctx.params.clientId!, byOf(ctx));
        ctx.log.info("oauth client deleted", { tenant: ctx.params.tenantId, client_id: ctx.params.clientId });
        return noContent();
      },
    },
  ];
}
