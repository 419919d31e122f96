import { z } from "zod";
import { decodeContinuation, encodeContinuation } from "../http/pagination.ts";
import { json } from "../http/router.ts";
import type { Route } from "../http/types.ts";
import { pageSizeSchema, parseJsonBody, parseWith } from "../http/validation.ts";
import { isoTime } from "../shared/clock.ts";
import type { ApiKeyRecord, Tenant } from "./model.ts";
import type { TenantService } from "./service.ts";

const nameSchema = z
  .string()
  .trim()
  .min(1, "must not be blank")
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

const createTenantBody = z.strictObject({ name: nameSchema });
const createKeyBody = z.strictObject({ name: nameSchema.optional() });
const listQuery = z.object({
  page_size: pageSizeSchema(100, 50),
  continuation_token: z.string().max(2048).optional(),
});

export const tenantJson = (t: Tenant) => ({
  id: t.id,
  name: t.name,
  created_at: isoTime(t.createdAt),
  deleted_at: t.deletedAt === undefined ? null : isoTime(t.deletedAt),
});

export const apiKeyJson = (k: ApiKeyRecord) => ({
  id: k.id,
  tenant_id: k.tenantId,
  name: k.name,
  prefix: k.prefix,
  created_at: isoTime(k.createdAt),
  revoked_at: k.revokedAt === undefined ? null : isoTime(k.revokedAt),
});

/** The tenants admin API (`/admin/v1/tenants…`). */
export function tenantRoutes(tenants: TenantService): Route[] {
  const base = "/admin/v1/tenants";
  return [
    {
      method: "POST",
      path: base,
      access: { kind: "platform" },
      handler: async (req) => {
        const body = parseJsonBody(req, createTenantBody);
        const t = await tenants.create(body.name);
        return json(201, tenantJson(t), { location: `${base}/${t.id}` });
      },
    },
    {
      method: "GET",
      path: base,
      access: { kind: "platform" },
      handler: async (req) => {
        const q = parseWith(listQuery, req.query, "Query string");
        const page = await tenants.list(q.page_size, decodeContinuation("tenants", q.continuation_token));
        return json(200, {
          tenants: page.items.map(tenantJson),
          continuation_token: encodeContinuation("tenants", page.cursor),
        });
      },
    },
    {
      method: "GET",
      path: `${base}/{tenantId}`,
      access: { kind: "tenant", param: "tenantId" },
      handler: async (_req, ctx) => json(200, tenantJson(await tenants.get(ctx.params.tenantId!))),
    },
    {
      method: "DELETE",
      path: `${base}/{tenantId}`,
      access: { kind: "platform" },
      handler: async (_req, ctx) => json(200, tenantJson(await tenants.softDelete(ctx.params.tenantId!))),
    },
    {
      method: "POST",
      path: `${base}/{tenantId}/api-keys`,
      access: { kind: "platform" },
      handler: async (req, ctx) => {
        const body = req.body ? parseJsonBody(req, createKeyBody) : {};
        const tenantId = ctx.params.tenantId!;
        const { record, key } = await tenants.createApiKey(tenantId, body.name ?? "api key");
        ctx.log.info("api key created", { tenant: tenantId, key_id: record.id });
        return json(
          201,
          { ...apiKeyJson(record), key },
          { location: `${base}/${tenantId}/api-keys/${record.id}` },
        );
      },
    },
    {
      method: "GET",
      path: `${base}/{tenantId}/api-keys`,
      access: { kind: "platform" },
      handler: async (req, ctx) => {
        const tenantId = ctx.params.tenantId!;
        const q = parseWith(listQuery, req.query, "Query string");
        const scope = `apikeys:${tenantId}`;
        const page = await tenants.listApiKeys(
          tenantId,
          q.page_size,
          decodeContinuation(scope, q.continuation_token),
        );
        return json(200, {
          api_keys: page.items.map(apiKeyJson),
          continuation_token: encodeContinuation(scope, page.cursor),
        });
      },
    },
    {
      method: "GET",
      path: `${base}/{tenantId}/api-keys/{keyId}`,
      access: { kind: "platform" },
      handler: async (_req, ctx) =>
        json(200, apiKeyJson(await tenants.getApiKey(ctx.params.tenantId!, ctx.params.keyId!))),
    },
    {
      method: "DELETE",
      path: `${base}/{tenantId}/api-keys/{keyId}`,
      access: { kind: "platform" },
      handler: async (_req, ctx) => {
        const k = await tenants.revokeApiKey(ctx.params.tenantId!, ctx.params.keyId!);
        ctx.log.info("api key revoked", { tenant: k.tenantId, key_id: k.id });
        return json(200, apiKeyJson(k));
      },
    },
  ];
}
