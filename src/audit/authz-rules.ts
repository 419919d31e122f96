/**
 * Audit rules of the authorization API (OpenFGA HTTP API): one `authz.check` per check and per
 * item of a batch check, one `authz.list_objects` / `authz.list_users` per query, one
 * `authz.tuples.written` per tuple written or deleted, `authz.model.written`, `authz.store.created`
 * and `authz.store.deleted`. Built from the request, the principal and the response at the route
 * edge. Checks and batch checks read what the handler decided from the response's `meta` (no
 * re-parse of the bodies): allowed checks carry the granting path as `reason` (the engine's
 * explanation in one line, cached with the result), denied ones "no path".
 */
import type { CheckMeta } from "../authz/http/queries.ts";
import type { HttpRequest } from "../http/types.ts";
import { AUDIT_SCHEMA_VERSION, type AuditEvent } from "./events.ts";
import { type AuditedCall, type AuditRule, type Built, errorCode } from "./route-audit.ts";

/** Request and response headers the rules read (the authz API's own names). */
const TENANT_HEADER = "x-portcullis-tenant";
const TOKEN_HEADER = "x-portcullis-consistency-token";
const MODEL_HEADER = "openfga-authorization-model-id";

export interface AuthzAuditDeps {
  /** Owner of a store, for calls of the platform admin that name no tenant. */
  readonly tenantOfStore: (storeId: string) => Promise<string | undefined>;
}

type J = Record<string, unknown>;

/**
 * An event literal with every envelope field present (`undefined` until set; JSON and the stores
 * leave undefined fields out).
 */
type Shaped = { [K in EventKey]: AuditEvent[K] | undefined };
type EventKey = keyof AuditEvent;
const obj = (v: unknown): J | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as J) : undefined;
const s = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function requestJson(req: HttpRequest): J {
  if (!req.body) return {};
  try {
    return obj(JSON.parse(req.body)) ?? {};
  } catch {
    return {};
  }
}

export function authzAuditRules(d: AuthzAuditDeps): AuditRule[] {
  const tenantOf = (c: AuditedCall): string | Promise<string> => {
    const p = c.ctx.principal;
    if (p?.kind === "tenant") return p.tenantId;
    const named = c.req.headers[TENANT_HEADER]?.trim();
    if (named) return named;
    const storeId = c.params.storeId;
    if (!storeId) return "_platform";
    return d.tenantOfStore(storeId).then(
      (t) => t ?? "_platform",
      () => "_platform",
    );
  };
  /** Sets the model id and consistency token of the call on `e` (when the call has them). */
  const addCommon = <E extends Pick<Built, "model_id" | "consistency_token">>(e: E, c: AuditedCall): E => {
    const model = c.response?.headers?.[MODEL_HEADER];
    if (model) e.model_id = model;
    const token = c.response?.headers?.[TOKEN_HEADER] ?? c.req.headers[TOKEN_HEADER];
    if (token) e.consistency_token = token;
    return e;
  };
  const common = (c: AuditedCall) => addCommon<Pick<Built, "model_id" | "consistency_token">>({}, c);
  const store = (c: AuditedCall) => `store:${c.params.storeId ?? "?"}`;
  /** A failed request: one `failure` event with the error code. */
  const failed =
    (type: Built["type"], action: string) =>
    async (c: AuditedCall): Promise<Built> => ({
      type,
      tenant: await tenantOf(c),
      resource: store(c),
      action,
      decision: "failure",
      reason: errorCode(c.error),
    });
  /**
   * One `authz.check` event (the hot path: one per check), built as one object literal with every
   * envelope field in the schema's order, so the route edge and the emitter only fill values in:
   * one allocation and no shape changes. `modelId` from the check's meta, else the response header.
   */
  const checkEvent = (
    tenant: string,
    c: AuditedCall,
    tk: { user?: unknown; relation?: unknown; object?: unknown } | undefined,
    allowed: boolean,
    path: string | undefined,
    modelId: string | undefined,
    correlationId?: string,
  ): Built => {
    const storeId = c.params.storeId ?? null;
    const e: Shaped = {
      v: AUDIT_SCHEMA_VERSION,
      id: "",
      time: "",
      tenant,
      type: "authz.check",
      actor: undefined,
      subject: s(tk?.user),
      resource: s(tk?.object) ?? "?",
      action: s(tk?.relation) ?? "?",
      decision: allowed ? "allow" : "deny",
      // Allowed without a path: a hop came from the sub-problem cache of a remote store.
      reason: allowed ? (path ?? "allowed") : "no path",
      region: "",
      request: undefined,
      latency_ms: undefined,
      model_id: modelId || c.response?.headers?.[MODEL_HEADER] || undefined,
      consistency_token: c.req.headers[TOKEN_HEADER] || undefined,
      detail:
        correlationId === undefined
          ? { store_id: storeId }
          : { store_id: storeId, correlation_id: correlationId },
    };
    return e as Built;
  };
  const S = "/stores/{storeId}";
  return [
    {
      method: "POST",
      path: `${S}/check`,
      ok: (c) => {
        const m = c.response?.meta as CheckMeta | undefined;
        const tk = m ? m.tuple_key : obj(requestJson(c.req).tuple_key);
        const allowed = m ? m.allowed : c.body?.allowed === true;
        const t = tenantOf(c);
        return typeof t === "string"
          ? checkEvent(t, c, tk, allowed, m?.path, m?.model_id)
          : t.then((tenant) => checkEvent(tenant, c, tk, allowed, m?.path, m?.model_id));
      },
      failed: failed("authz.check", "check"),
    },
    {
      method: "POST",
      path: `${S}/batch-check`,
      ok: async (c) => {
        const tenant = await tenantOf(c);
        const result = obj(c.body?.result) ?? {};
        const paths = (c.response?.meta as { paths?: Record<string, string> } | undefined)?.paths;
        const checks = requestJson(c.req).checks;
        const out: Built[] = [];
        for (const item of Array.isArray(checks) ? checks : []) {
          const it = obj(item);
          const cid = s(it?.correlation_id) ?? "";
          const r = obj(result[cid]);
          const tk = obj(it?.tuple_key);
          const error = obj(r?.error);
          out.push(
            error
              ? {
                  ...checkEvent(tenant, c, tk, false, undefined, undefined, cid),
                  decision: "failure",
                  reason: s(error.message) ?? "error",
                }
              : checkEvent(tenant, c, tk, r?.allowed === true, paths?.[cid], undefined, cid),
          );
        }
        return out;
      },
      failed: failed("authz.check", "batch-check"),
    },
    ...(["list-objects", "streamed-list-objects"] as const).map(
      (op): AuditRule => ({
        method: "POST",
        path: `${S}/${op}`,
        ok: async (c) => {
          const q = requestJson(c.req);
          // streamed-list-objects answers NDJSON: one line per object.
          const n = Array.isArray(c.body?.objects)
            ? c.body.objects.length
            : (c.response?.body?.match(/\n/g)?.length ?? 0);
          return {
            type: "authz.list_objects",
            tenant: await tenantOf(c),
            ...(s(q.user) ? { subject: s(q.user)! } : {}),
            resource: `type:${s(q.type) ?? "?"}`,
            action: s(q.relation) ?? "?",
            decision: n > 0 ? "allow" : "deny",
            reason: n > 0 ? `${n} objects` : "no path",
            ...common(c),
            detail: { store_id: c.params.storeId ?? null, objects: n, streamed: op !== "list-objects" },
          };
        },
        failed: failed("authz.list_objects", op),
      }),
    ),
    {
      method: "POST",
      path: `${S}/list-users`,
      ok: async (c) => {
        const q = requestJson(c.req);
        const o = obj(q.object);
        const n = Array.isArray(c.body?.users) ? c.body.users.length : 0;
        return {
          type: "authz.list_users",
          tenant: await tenantOf(c),
          resource: o ? `${s(o.type) ?? "?"}:${s(o.id) ?? "?"}` : "?",
          action: s(q.relation) ?? "?",
          decision: n > 0 ? "allow" : "deny",
          reason: n > 0 ? `${n} users` : "no path",
          ...common(c),
          detail: { store_id: c.params.storeId ?? null, users: n },
        };
      },
      failed: failed("authz.list_users", "list-users"),
    },
    {
      method: "POST",
      path: `${S}/write`,
      ok: async (c) => {
        const tenant = await tenantOf(c);
        const q = requestJson(c.req);
        const out: Built[] = [];
        const each = (part: unknown, action: "write" | "delete") => {
          const keys = obj(part)?.tuple_keys;
          for (const k of Array.isArray(keys) ? keys : []) {
            const tk = obj(k);
            out.push({
              type: "authz.tuples.written",
              tenant,
              ...(s(tk?.user) ? { subject: s(tk?.user)! } : {}),
              resource: s(tk?.object) ?? "?",
              action: `${action}:${s(tk?.relation) ?? "?"}`,
              decision: "success",
              ...common(c),
              detail: {
                store_id: c.params.storeId ?? null,
                operation: action,
                relation: s(tk?.relation) ?? null,
              },
            });
          }
        };
        each(q.writes, "write");
        each(q.deletes, "delete");
        return out;
      },
      failed: failed("authz.tuples.written", "write"),
    },
    {
      method: "POST",
      path: `${S}/authorization-models`,
      ok: async (c) => ({
        type: "authz.model.written",
        tenant: await tenantOf(c),
        resource: store(c),
        action: "write_model",
        decision: "success",
        ...common(c),
        ...(s(c.body?.authorization_model_id) ? { model_id: s(c.body?.authorization_model_id)! } : {}),
      }),
      failed: failed("authz.model.written", "write_model"),
    },
    {
      method: "POST",
      path: "/stores",
      ok: async (c) => {
        const id = s(c.body?.id);
        const tenant =
          c.ctx.principal?.kind === "tenant"
            ? c.ctx.principal.tenantId
            : c.req.headers[TENANT_HEADER]?.trim();
        return {
          type: "authz.store.created",
          tenant: tenant || (id ? await tenantOf({ ...c, params: { storeId: id } }) : "_platform"),
          resource: `store:${id ?? "?"}`,
          action: "create",
          decision: "success",
          detail: { name: s(c.body?.name) ?? null },
        };
      },
      failed: async (c) => ({
        type: "authz.store.created",
        tenant: await tenantOf(c),
        resource: "store",
        action: "create",
        decision: "failure",
        reason: errorCode(c.error),
      }),
    },
    {
      method: "DELETE",
      path: S,
      // The owner must be known before the store is gone (platform admin calls).
      before: (req, ctx) =>
        ctx.principal?.kind === "tenant" || req.headers[TENANT_HEADER] || !ctx.params.storeId
          ? undefined
          : d.tenantOfStore(ctx.params.storeId),
      ok: async (c) => ({
        type: "authz.store.deleted",
        tenant: typeof c.pre === "string" ? c.pre : await tenantOf(c),
        resource: store(c),
        action: "delete",
        decision: "success",
      }),
      failed: failed("authz.store.deleted", "delete"),
    },
  ];
}
