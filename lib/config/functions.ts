/**
 * The Lambda functions and their HTTP routes come from ONE table, `API_GROUPS` in
 * src/shared/api-groups.ts (shared with the local server); this file validates it for the CDK app.
 */
import {
  API_GROUPS,
  type FunctionSpec,
  type RouteKey,
  type RouteMethod,
} from "../../src/shared/api-groups.ts";

export type { FunctionSpec, RouteKey, RouteMethod, TableAccess } from "../../src/shared/api-groups.ts";

/** Every function the API stack deploys. */
export const FUNCTIONS: readonly FunctionSpec[] = API_GROUPS;

const ID_RE = /^[a-z][a-z0-9-]{0,30}$/;
const ROUTE_RE = /^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/[A-Za-z0-9._~{}+-]*)+$/;

/** Checks ids and route keys are well-formed and unique; throws on the first problem. */
export const validateFunctions = (specs: readonly FunctionSpec[]): void => {
  const ids = new Set<string>();
  const routes = new Map<string, string>();
  for (const spec of specs) {
    if (!ID_RE.test(spec.id)) throw new Error(`function id "${spec.id}" must match ${ID_RE}`);
    if (ids.has(spec.id)) throw new Error(`function id "${spec.id}" is declared twice`);
    ids.add(spec.id);
    if (!/^functions\/[A-Za-z0-9_/.-]+\.ts$/.test(spec.entry) || spec.entry.includes("..")) {
      throw new Error(`function "${spec.id}": entry "${spec.entry}" must be a .ts file under functions/`);
    }
    if (spec.authenticates === false && !spec.publicAccess) {
      throw new Error(`function "${spec.id}": publicAccess must say how its routes are authorized`);
    }
    for (const route of spec.routes) {
      if (!ROUTE_RE.test(route))
        throw new Error(`function "${spec.id}": route "${route}" is not a route key`);
      const owner = routes.get(route);
      if (owner !== undefined)
        throw new Error(`route "${route}" is served by both "${owner}" and "${spec.id}"`);
      routes.set(route, spec.id);
    }
  }
};

/** Splits a route key into method and path. */
export const parseRouteKey = (route: RouteKey): { method: RouteMethod; path: string } => {
  const space = route.indexOf(" ");
  return { method: route.slice(0, space) as RouteMethod, path: route.slice(space + 1) };
};
