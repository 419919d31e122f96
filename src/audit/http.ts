/**
 * The audit query API (`audit` group): `GET /audit/v1/events`, tenant-scoped with the same
 * credentials as the other APIs (tenant credentials need the `audit:read` scope and see only their
 * tenant; the platform admin names the tenant with `?tenant=`). Filters `from`/`to` (RFC 3339,
 * inclusive), `type`, `actor`, `resource`, `decision`; newest first; `{"events", "continuation_token"}`.
 * `Accept: application/x-ndjson` exports one event per line (up to `page_size` events, 5 MB), with
 * the continuation token of the rest in the `portcullis-continuation-token` header.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { decodeContinuation, encodeContinuation } from "../http/pagination.ts";
import { json } from "../http/router.ts";
import type { RequestContext, Route } from "../http/types.ts";
import { parseWith } from "../http/validation.ts";
import { forbidden, notFound, validationError } from "../shared/errors.ts";
import { AUDIT_EVENT_TYPES, DECISIONS } from "./events.ts";
import type { AuditFilter, AuditStore } from "./ports.ts";

const rfc3339 = z.iso.datetime({ offset: true });
const text = z.string().min(1).max(512);

const querySchema = z.strictObject({
  tenant: z.string().min(1).max(128).optional(),
  from: rfc3339.optional(),
  to: rfc3339.optional(),
  type: z.enum(AUDIT_EVENT_TYPES).optional(),
  actor: text.optional(),
  resource: text.optional(),
  decision: z.enum(DECISIONS).optional(),
  page_size: z.coerce.number().int().min(1).max(1000).optional(),
  continuation_token: z.string().max(4096).optional(),
});

/** Most events and bytes of one NDJSON export response. */
const EXPORT_MAX_EVENTS = 10_000;
const EXPORT_MAX_BYTES = 5 * 1024 * 1024;

function tenantOf(ctx: RequestContext, asked: string | undefined): string {
  const p = ctx.principal;
  if (p?.kind === "tenant") {
    if (!p.scopes.includes("audit:read")) throw forbidden("The credential lacks the 'audit:read' scope.");
    if (asked !== undefined && asked !== p.tenantId) throw notFound("Not found.");
    return p.tenantId;
  }
  if (asked === undefined) throw validationError("Name the tenant with the `tenant` query parameter.");
  return asked;
}

/**
 * Routes of the `audit` API group. `delivered` resolves once the events of the requests answered
 * before it are stored (the local platform delivers them at the end of each event-loop turn): a
 * query sees every decision whose response its caller has seen.
 */
export function auditRoutes(deps: {
  readonly store: AuditStore;
  readonly delivered?: () => Promise<void>;
}): Route[] {
  return [
    {
      method: "GET",
      path: "/audit/v1/events",
      access: { kind: "tenant" },
      handler: async (req, ctx) => {
        const q = parseWith(querySchema, req.query, "Query string");
        const tenant = tenantOf(ctx, q.tenant);
        const filter: AuditFilter = {
          ...(q.from ? { from: Date.parse(q.from) } : {}),
          ...(q.to ? { to: Date.parse(q.to) } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.actor ? { actor: q.actor } : {}),
          ...(q.resource ? { resource: q.resource } : {}),
          ...(q.decision ? { decision: q.decision } : {}),
        };
        if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
          throw validationError("`from` must not be after `to`.");
        // A token is bound to the tenant and the filters it was issued for.
        const scope = `audit:${tenant}:${createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 16)}`;
        let cursor = decodeContinuation(scope, q.continuation_token);
        await deps.delivered?.();
        if (/application\/x-ndjson/i.test(req.headers.accept ?? "")) {
          const max = Math.min(q.page_size ?? EXPORT_MAX_EVENTS, EXPORT_MAX_EVENTS);
          const lines: string[] = [];
          let bytes = 0;
          do {
            const page = await deps.store.query(tenant, filter, {
              limit: Math.min(500, max - lines.length),
              ...(cursor ? { cursor } : {}),
            });
            for (const e of page.items) {
              const line = JSON.stringify(e);
              lines.push(line);
              bytes += line.length + 1;
            }
            cursor = page.cursor;
          } while (cursor && lines.length < max && bytes < EXPORT_MAX_BYTES);
          const token = encodeContinuation(scope, cursor);
          return {
            statusCode: 200,
            headers: {
              "content-type": "application/x-ndjson",
              "cache-control": "no-store",
              ...(token ? { "portcullis-continuation-token": token } : {}),
            },
            body: lines.length ? `${lines.join("\n")}\n` : "",
          };
        }
        const page = await deps.store.query(tenant, filter, {
          limit: q.page_size ?? 100,
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { events: page.items, continuation_token: encodeContinuation(scope, page.cursor) });
      },
    },
  ];
}
