/**
 * Audit at the route edge: a decorator that wraps the handlers of the routes named in a rule table
 * and emits exactly one event per request (success or failure), built from the request, the
 * principal, the path parameters and the JSON response. Modules stay unaware of audit, and the
 * response body is only read for identifiers (never for secrets: the redaction guard runs anyway).
 */
import type { HttpRequest, HttpResponse, RequestContext, Route } from "../http/types.ts";
import { DomainError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { type AuditSink, actorOf, requestInfo } from "./emitter.ts";
import type { AuditEventInput } from "./events.ts";

/** What a rule sees about one request. */
export interface AuditedCall {
  readonly req: HttpRequest;
  readonly ctx: RequestContext;
  readonly params: Readonly<Record<string, string>>;
  /** The parsed JSON body of a successful response (undefined for empty or non-JSON bodies). */
  readonly body: Record<string, unknown> | undefined;
  readonly response: HttpResponse | undefined;
  /** The error of a failed request. */
  readonly error: unknown;
  /** What the rule's `before` hook returned (e.g. a store's owner, before the store is deleted). */
  readonly pre: unknown;
  /** Envelope fields common to every event: actor, request, latency. */
  readonly base: Pick<AuditEventInput, "actor" | "request" | "latency_ms">;
}

/** An event as a rule builds it; the envelope and `base` are added. */
export type Built = Omit<AuditEventInput, "actor" | "request" | "latency_ms"> &
  Partial<Pick<AuditEventInput, "actor">>;
type Events = Built | readonly Built[] | undefined;

export interface AuditRule {
  readonly method: string;
  /** Path template exactly as in the route. */
  readonly path: string;
  /** Runs before the handler (never fails it); its result is `pre` of the call. */
  readonly before?: (req: HttpRequest, ctx: RequestContext) => unknown;
  /** The event (or events: one per item of a batch) of a successful request. */
  readonly ok: (c: AuditedCall) => Events | Promise<Events>;
  /** Event of a failed request; absent: failures are not audited. */
  readonly failed?: (c: AuditedCall) => Events | Promise<Events>;
}

/** A short, safe reason for an error: its stable code. */
export function errorCode(err: unknown): string {
  if (err instanceof DomainError) return err.code;
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  return "internal";
}

const parseBody = (res: HttpResponse): Record<string, unknown> | undefined => {
  if (!res.body || !/json/.test(res.headers?.["content-type"] ?? "")) return undefined;
  try {
    const v: unknown = JSON.parse(res.body);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** Wraps the routes that have a rule; the others are returned unchanged. */
export function auditedRoutes(
  routes: readonly Route[],
  rules: readonly AuditRule[],
  sink: AuditSink,
  log?: Logger,
): Route[] {
  return routes.map((route) => {
    const rule = rules.find((r) => r.method === route.method && r.path === route.path);
    if (!rule) return route;
    const handler: Route["handler"] = async (req, ctx) => {
      const t0 = performance.now();
      let pre: unknown;
      if (rule.before) {
        try {
          pre = await rule.before(req, ctx);
        } catch {
          pre = undefined;
        }
      }
      const call = (response: HttpResponse | undefined, error: unknown): AuditedCall => ({
        req,
        ctx,
        params: ctx.params,
        body: response ? parseBody(response) : undefined,
        response,
        error,
        pre,
        base: {
          actor: actorOf(ctx.principal),
          request: requestInfo(req),
          latency_ms: Math.round((performance.now() - t0) * 1000) / 1000,
        },
      });
      const emit = async (build: AuditRule["ok"] | undefined, c: AuditedCall) => {
        if (!build) return;
        try {
          const out = build(c);
          const e = out instanceof Promise ? await out : out;
          if (Array.isArray(e)) for (const one of e as readonly Built[]) sink.emit({ ...c.base, ...one });
          else if (e) sink.emit({ ...c.base, ...(e as Built) });
        } catch (err) {
          log?.error("audit event not built", { err, path: route.path });
        }
      };
      let res: HttpResponse;
      try {
        res = await route.handler(req, ctx);
      } catch (err) {
        await emit(rule.failed, call(undefined, err));
        throw err;
      }
      await emit(rule.ok, call(res, undefined));
      return res;
    };
    return { ...route, handler };
  });
}

/** A string field of a response body, or undefined. */
export const str = (body: Record<string, unknown> | undefined, key: string): string | undefined => {
  const v = body?.[key];
  return typeof v === "string" ? v : undefined;
};
