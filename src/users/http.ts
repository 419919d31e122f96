/**
 * Admin API for users: `/admin/v1/tenants/{tenantId}/users…`. The platform admin, or a credential
 * of that tenant (tokens need `tenant:admin`). Password hashes are never returned.
 */
import { z } from "zod";
import { decodeContinuation, encodeContinuation } from "../http/pagination.ts";
import { json, noContent } from "../http/router.ts";
import type { Route } from "../http/types.ts";
import { pageSizeSchema, parseJsonBody, parseWith } from "../http/validation.ts";
import { isoTime } from "../shared/clock.ts";
import type { User } from "./model.ts";
import type { UserService } from "./service.ts";

/**
 * What a user change did, for the route-edge audit (`HttpResponse.meta`): `disabled_now` when this
 * request disabled the user (and so revoked their sessions), not when they were disabled already.
 */
export interface UserChangeMeta {
  readonly disabled_now: boolean;
}

const text = z
  .string()
  .trim()
  .min(1, "must not be blank")
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");
const email = z.string().trim().max(254).pipe(z.email());
const password = z.string().max(1024);

const createBody = z.strictObject({
  email,
  name: text,
  password: password.optional(),
  email_verified: z.boolean().optional(),
  disabled: z.boolean().optional(),
});
const updateBody = z.strictObject({
  email: email.optional(),
  name: text.optional(),
  password: password.optional(),
  email_verified: z.boolean().optional(),
  disabled: z.boolean().optional(),
});
const listQuery = z.object({
  page_size: pageSizeSchema(100, 50),
  continuation_token: z.string().max(2048).optional(),
  email: z.string().max(254).optional(),
  disabled: z.enum(["true", "false"]).optional(),
});

/** A user as the admin API shows it (never the password hash). */
export const userJson = (u: User) => ({
  id: u.id,
  tenant_id: u.tenantId,
  email: u.email,
  email_verified: u.emailVerified,
  name: u.name,
  disabled: u.disabled,
  has_password: u.passwordHash !== undefined,
  created_at: isoTime(u.createdAt),
  updated_at: isoTime(u.updatedAt),
});

/** Admin routes for users. */
export function userRoutes(users: UserService): Route[] {
  const base = "/admin/v1/tenants/{tenantId}/users";
  const access = { kind: "tenant", param: "tenantId", scope: "tenant:admin" } as const;
  return [
    {
      method: "POST",
      path: base,
      access,
      handler: async (req, ctx) => {
        const body = parseJsonBody(req, createBody);
        const tenantId = ctx.params.tenantId!;
        const u = await users.create(tenantId, body);
        ctx.log.info("user created", { tenant: tenantId, user_id: u.id });
        return json(201, userJson(u), { location: `/admin/v1/tenants/${tenantId}/users/${u.id}` });
      },
    },
    {
      method: "GET",
      path: base,
      access,
      handler: async (req, ctx) => {
        const tenantId = ctx.params.tenantId!;
        const q = parseWith(listQuery, req.query, "Query string");
        const filter = {
          ...(q.email !== undefined ? { email: q.email } : {}),
          ...(q.disabled !== undefined ? { disabled: q.disabled === "true" } : {}),
        };
        const scope = `users:${tenantId}:${q.email ?? ""}:${q.disabled ?? ""}`;
        const page = await users.list(
          tenantId,
          q.page_size,
          decodeContinuation(scope, q.continuation_token),
          filter,
        );
        return json(200, {
          users: page.items.map(userJson),
          continuation_token: encodeContinuation(scope, page.cursor),
        });
      },
    },
    {
      method: "GET",
      path: `${base}/{userId}`,
      access,
      handler: async (_req, ctx) => {
        return json(200, userJson(await users.get(ctx.params.tenantId!, ctx.params.userId!)));
      },
    },
    {
      method: "PATCH",
      path: `${base}/{userId}`,
      access,
      handler: async (req, ctx) => {
        const body = parseJsonBody(req, updateBody);
        const { user: u, disabledNow } = await users.change(ctx.params.tenantId!, ctx.params.userId!, body);
        ctx.log.info("user updated", { tenant: u.tenantId, user_id: u.id });
        const meta: UserChangeMeta = { disabled_now: disabledNow };
        return { ...json(200, userJson(u)), meta };
      },
    },
    {
      method: "POST",
      path: `${base}/{userId}/disable`,
      access,
      handler: async (_req, ctx) => {
        const { user: u, disabledNow } = await users.change(ctx.params.tenantId!, ctx.params.userId!, {
          disabled: true,
        });
        ctx.log.info("user disabled", { tenant: u.tenantId, user_id: u.id });
        const meta: UserChangeMeta = { disabled_now: disabledNow };
        return { ...json(200, userJson(u)), meta };
      },
    },
    {
      method: "DELETE",
      path: `${base}/{userId}`,
      access,
      handler: async (_req, ctx) => {
        await users.delete(ctx.params.tenantId!, ctx.params.userId!);
        ctx.log.info("user deleted", { tenant: ctx.params.tenantId, user_id: ctx.params.userId });
        return noContent();
      },
    },
  ];
}
