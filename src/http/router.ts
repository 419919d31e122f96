import { DomainError, forbidden, notFound, unauthenticated, validationError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { ErrorRenderer } from "./problem.ts";
import type { Authenticator, HttpRequest, HttpResponse, Principal, RequestContext, Route } from "./types.ts";

/**
 * A route template, precompiled. Templates made of whole-segment parts (`/stores/{storeId}/check`)
 * match by comparing segments; a template with a greedy `{name+}` keeps a regular expression.
 * Either way: a `{name}` is one non-empty segment, a literal segment matches itself exactly.
 */
interface CompiledRoute {
  readonly route: Route;
  readonly names: readonly string[];
  /** Per segment: the literal, or undefined for a parameter (segment templates only). */
  readonly segments?: readonly (string | undefined)[];
  readonly re?: RegExp;
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const parts = route.path.split("/");
  let greedy = false;
  const segments = parts.map((seg) => {
    const m = /^\{(\w+)(\+?)\}$/.exec(seg);
    if (!m) return seg;
    names.push(m[1]!);
    if (m[2]) greedy = true;
    return undefined;
  });
  if (!greedy) return { route, names, segments };
  const pattern = parts
    .map((seg) => {
      const m = /^\{(\w+)(\+?)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return m[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { route, names, re: new RegExp(`^${pattern}$`) };
}

/** The raw parameter values if `path` (split at "/" into `parts`) matches, else undefined. */
function match(c: CompiledRoute, path: string, parts: readonly string[]): string[] | undefined {
  if (c.re) {
    const m = c.re.exec(path);
    return m ? m.slice(1) : undefined;
  }
  const segments = c.segments!;
  if (segments.length !== parts.length) return undefined;
  for (let i = 0; i < segments.length; i++) {
    const literal = segments[i];
    if (literal === undefined ? parts[i] === "" : literal !== parts[i]) return undefined;
  }
  const values: string[] = [];
  for (let i = 0; i < segments.length; i++) if (segments[i] === undefined) values.push(parts[i]!);
  return values;
}

export interface RouterOptions {
  readonly routes: readonly Route[];
  readonly authenticator: Authenticator;
  readonly renderError: ErrorRenderer;
}

/** What a router answers for one request; `dispatch` never throws. */
export type Dispatch = (req: HttpRequest, log: Logger) => Promise<HttpResponse>;

/** Checks a principal against a route's access rule; hides other tenants' resources as 404. */
function authorize(route: Route, principal: Principal | undefined, params: Record<string, string>): void {
  const access = route.access;
  if (access.kind === "public") return;
  if (!principal) throw unauthenticated();
  if (principal.kind === "platform") return;
  if (access.kind === "platform") throw forbidden("This endpoint needs the platform admin credential.");
  if (access.param !== undefined && params[access.param] !== principal.tenantId) throw notFound("Not found.");
  if (access.scope !== undefined && !principal.scopes.includes(access.scope)) {
    throw forbidden(`This needs the ${access.scope} scope.`);
  }
}

/**
 * Matches the path, authenticates, enforces the route's access rule, runs the handler and renders
 * any error with the group's renderer. Unknown paths are 404, known paths with another method 405.
 */
export function createRouter(options: RouterOptions): Dispatch {
  const compiled = options.routes.map(compile);
  return async (req, log) => {
    try {
      let pathMatched = false;
      const parts = req.path.split("/");
      for (const c of compiled) {
        const values = match(c, req.path, parts);
        if (!values) continue;
        pathMatched = true;
        if (c.route.method !== req.method && !(c.route.method === "GET" && req.method === "HEAD")) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < c.names.length; i++) params[c.names[i]!] = decodePathParam(values[i]!);
        const principal =
          c.route.access.kind === "public" ? undefined : await options.authenticator.authenticate(req);
        authorize(c.route, principal, params);
        const ctx: RequestContext = { params, principal, log };
        const o = c.route.observer;
        if (o === undefined) return await c.route.handler(req, ctx);
        // An observer never changes the outcome: its failures are logged. Inline rather than an
        // async helper, which would cost every observed request the promise the observer saves.
        let started: unknown;
        try {
          started = o.start(req, ctx);
          if (started instanceof Promise) started = await started;
        } catch (err) {
          log.error("route observer failed", { err, path: c.route.path });
        }
        let res: HttpResponse;
        try {
          res = await c.route.handler(req, ctx);
        } catch (err) {
          try {
            await o.failed(req, ctx, err, started);
          } catch (observerErr) {
            log.error("route observer failed", { err: observerErr, path: c.route.path });
          }
          throw err;
        }
        try {
          const seen = o.ok(req, ctx, res, started);
          if (seen !== undefined) await seen;
        } catch (err) {
          log.error("route observer failed", { err, path: c.route.path });
        }
        return res;
      }
      if (pathMatched)
        throw new DomainError("method_not_allowed", `Method ${req.method} is not allowed here.`);
      throw notFound("No such endpoint.");
    } catch (err) {
      return options.renderError(err, req, log);
    }
  };
}

/** Tries each authenticator in turn; the first that recognises the credential wins. */
export function anyOf(...authenticators: Authenticator[]): Authenticator {
  return {
    async authenticate(req) {
      for (const a of authenticators) {
        const p = await a.authenticate(req);
        if (p) return p;
      }
      return undefined;
    },
  };
}

/** The bearer token of the `Authorization` header, or undefined. */
export function bearerToken(req: HttpRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(h);
  return m?.[1];
}

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse => ({
  statusCode,
  headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  body: JSON.stringify(body),
});

export const noContent = (): HttpResponse => ({ statusCode: 204, headers: { "cache-control": "no-store" } });

/** A path segment, percent-decoded; malformed encoding (`%ZZ`) is the caller's error (400). */
function decodePathParam(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw validationError("Malformed percent-encoding in the path.");
  }
}
