/**
 * `GET|PUT /admin/v1/tenants/{tenantId}/domains`: the email domains a tenant claims for
 * home-realm discovery. Platform admin only: a claim is a platform decision (no DNS verification),
 * and a domain routes sign-ins of multi-tenant applications to the tenant holding it.
 */
import { z } from "zod";
import { json } from "../http/router.ts";
import type { Route } from "../http/types.ts";
import { parseJsonBody } from "../http/validation.ts";
import { MAX_TENANT_DOMAINS, type TenantDomainService } from "./domains.ts";

const putBody = z.strictObject({
  domains: z.array(z.string().max(253)).max(MAX_TENANT_DOMAINS),
});

/** The domains admin routes. */
export function tenantDomainRoutes(domains: TenantDomainService): Route[] {
  const path = "/admin/v1/tenants/{tenantId}/domains";
  return [
    {
      method: "GET",
      path,
      access: { kind: "platform" },
      handler: async (_req, ctx) => {
        const tenantId = ctx.params.tenantId!;
        return json(200, { tenant_id: tenantId, domains: await domains.list(tenantId) });
      },
    },
    {
      method: "PUT",
      path,
      access: { kind: "platform" },
      handler: async (req, ctx) => {
        const body = parseJsonBody(req, putBody);
        const tenantId = ctx.params.tenantId!;
        const list = await domains.set(tenantId, body.domains);
        ctx.log.info("tenant domains set", { tenant: tenantId, count: list.length });
        return json(200, { tenant_id: tenantId, domains: list });
      },
    },
  ];
}
