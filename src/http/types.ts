import type { Logger } from "../shared/logger.ts";

/** A request as the handlers see it, independent of the event source. Header names are lowercase. */
export interface HttpRequest {
  readonly method: string;
  /** Path without query string, e.g. `/admin/v1/tenants`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Decoded body text; undefined when the request had none. */
  readonly body: string | undefined;
  readonly requestId: string;
  readonly sourceIp: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /**
   * What the handler decided, already parsed, for the route-edge decorators (audit): they read it
   * instead of re-parsing the request and response bodies. Never sent.
   */
  readonly meta?: object;
}

/** Who is calling, after authentication. */
export type Principal =
  | { readonly kind: "platform"; readonly credentialId: string }
  | {
      readonly kind: "tenant";
      readonly tenantId: string;
      readonly credentialId: string;
      /** Permissions this credential carries (API keys carry all tenant permissions). */
      readonly scopes: readonly string[];
    };

/**
 * Turns the `Authorization` header into a principal. `undefined` = this authenticator does not
 * recognise the credential (the next one may); a recognised but invalid credential also yields
 * undefined, so callers cannot tell which check failed.
 */
export interface Authenticator {
  authenticate(req: HttpRequest): Promise<Principal | undefined>;
}

export interface RequestContext {
  readonly params: Readonly<Record<string, string>>;
  readonly principal: Principal | undefined;
  readonly log: Logger;
}

export type RouteHandler = (req: HttpRequest, ctx: RequestContext) => Promise<HttpResponse>;

/**
 * Who may call a route. `platform`: the platform admin only. `tenant`: the platform admin, or a
 * tenant credential whose tenant equals the path parameter `param` (absent: any tenant).
 */
export type Access =
  | { readonly kind: "public" }
  | { readonly kind: "platform" }
  | {
      readonly kind: "tenant";
      readonly param?: string;
      /** A permission tenant credentials must carry (the platform admin has all). */
      readonly scope?: string;
    };

export interface Route {
  readonly method: string;
  /** Path template with `{name}` segments, e.g. `/admin/v1/tenants/{tenantId}`. */
  readonly path: string;
  readonly access: Access;
  readonly handler: RouteHandler;
  /** Told the handler's outcome by the router (the audit edge: src/audit/route-audit.ts). */
  readonly observer?: RouteObserver;
}

/**
 * What a cross-cutting concern (audit) hooks into a route instead of wrapping its handler: a
 * wrapper costs every request a promise of its own, the router's `await` of the handler is there
 * anyway. The router calls `start` once the caller is authorised, before the handler (awaiting it
 * when it returns a promise), then `ok` or `failed` with the outcome and what `start` returned,
 * before it answers (awaiting a promise they return). An observer never changes the outcome: the
 * router logs what it throws.
 */
export interface RouteObserver {
  start(req: HttpRequest, ctx: RequestContext): unknown;
  ok(req: HttpRequest, ctx: RequestContext, res: HttpResponse, started: unknown): void | Promise<void>;
  failed(req: HttpRequest, ctx: RequestContext, err: unknown, started: unknown): void | Promise<void>;
}
