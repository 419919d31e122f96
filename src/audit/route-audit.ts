/**
 * Audit at the route edge: an observer (`Route.observer`, called by the router) on the routes named
 * in a rule table, which emits exactly one event per request (success or failure), built from the
 * request, the principal, the path parameters and the JSON response. Modules stay unaware of audit,
 * and the response body is only read for identifiers (never for secrets: the redaction guard runs
 * anyway). With an emitter batched by event-loop turn (the local platform), the handler's outcome is
 * only captured on the request path: the rule runs, and the event is built, at the end of the turn.
 */
import type { HttpRequest, HttpResponse, RequestContext, Route, RouteObserver } from "../http/types.ts";
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
}

/** An event as a rule builds it; the call's fields (`Call.stamp`) and the envelope are added. */
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

/** What the observer's `start` hands over: the start time, or with a `before` hook its result too. */
type Started = number | { readonly t0: number; readonly pre: unknown };

/**
 * One call as rules see it; the response body is parsed only if a rule reads `body`. The envelope
 * fields common to the call's events (actor, request, latency) are set on each event by `stamp`:
 * one object per call, nothing else (the check path emits one event per request).
 */
class Call implements AuditedCall {
  readonly req: HttpRequest;
  readonly ctx: RequestContext;
  readonly response: HttpResponse | undefined;
  readonly error: unknown;
  readonly pre: unknown;
  readonly #latencyMs: number;
  #body: Record<string, unknown> | undefined | null = null;
  constructor(
    req: HttpRequest,
    ctx: RequestContext,
    response: HttpResponse | undefined,
    error: unknown,
    started: Started,
  ) {
    this.req = req;
    this.ctx = ctx;
    this.response = response;
    this.error = error;
    const simple = typeof started === "number";
    this.pre = simple ? undefined : started.pre;
    const t0 = simple ? started : started.t0;
    this.#latencyMs = Math.round((performance.now() - t0) * 1000) / 1000;
  }
  get params(): Readonly<Record<string, string>> {
    return this.ctx.params;
  }
  get body(): Record<string, unknown> | undefined {
    if (this.#body === null) this.#body = this.response ? parseBody(this.response) : undefined;
    return this.#body;
  }
  /** A rule's event with the envelope fields of the call (the rule's own actor wins). */
  stamp(e: Built): AuditEventInput {
    const out = e as AuditEventInput & { actor?: string };
    if (out.actor === undefined) out.actor = actorOf(this.ctx.principal);
    out.request = requestInfo(this.req);
    out.latency_ms = this.#latencyMs;
    return out;
  }
}

/**
 * The routes that have a rule, with an observer that audits them (`Route.observer`: the router
 * tells it each outcome); the others are returned unchanged.
 */
export function auditedRoutes(
  routes: readonly Route[],
  rules: readonly AuditRule[],
  sink: AuditSink,
  log?: Logger,
): Route[] {
  const later = sink.later?.bind(sink);
  return routes.map((route) => {
    const rule = rules.find((r) => r.method === route.method && r.path === route.path);
    if (!rule) return route;
    if (route.observer) throw new Error(`route ${route.method} ${route.path} is observed already`);
    const send = (c: Call, e: Events) => {
      if (e === undefined) return;
      if (!Array.isArray(e)) sink.emit(c.stamp(e as Built));
      else for (const one of e as readonly Built[]) sink.emit(c.stamp(one));
    };
    const fail = (err: unknown) => log?.error("audit event not built", { err, path: route.path });
    const emit = (build: AuditRule["ok"], c: Call): void | Promise<void> => {
      try {
        const out = build(c);
        if (out instanceof Promise) return out.then((e) => send(c, e)).catch(fail);
        send(c, out);
      } catch (err) {
        fail(err);
      }
    };
    /**
     * The call's event, built at the end of the turn when the sink batches by turn; else now (the
     * answer waits for a rule that looks something up).
     */
    const audit = (build: AuditRule["ok"], c: Call): void | Promise<void> => {
      if (later?.(() => emit(build, c))) return;
      return emit(build, c);
    };
    const { before, ok, failed } = rule;
    const observer: RouteObserver = {
      start:
        before === undefined
          ? () => performance.now()
          : async (req, ctx): Promise<Started> => {
              const t0 = performance.now();
              try {
                return { t0, pre: await before(req, ctx) };
              } catch {
                return { t0, pre: undefined };
              }
            },
      ok: (req, ctx, res, started) => {
        return audit(ok, new Call(req, ctx, res, undefined, started as Started));
      },
      failed: (req, ctx, err, started) => {
        if (failed === undefined) return;
        return audit(failed, new Call(req, ctx, undefined, err, started as Started));
      },
    };
    return { ...route, observer };
  });
}

/** A string field of a response body, or undefined. */
export const str = (body: Record<string, unknown> | undefined, key: string): string | undefined => {
  const v = body?.[key];
  return typeof v === "string" ? v : undefined;
};
