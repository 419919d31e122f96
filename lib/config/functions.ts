/**
 * The Lambda functions and their HTTP routes come from ONE table, `API_GROUPS` in
 * src/shared/api-groups.ts (shared with the local server); this file validates it for the CDK app.
 */
import {
  API_GROUPS,
  type FunctionSpec,
  type RouteKey,
  type RouteMethod,
  routeMatcher,
} from "../../src/shared/api-groups.ts";

export type { FunctionSpec, RouteKey, RouteMethod, TableAccess } from "../../src/shared/api-groups.ts";

/** Every function the API stack deploys. */
export const FUNCTIONS: readonly FunctionSpec[] = API_GROUPS;

/**
 * The request that rotates signing keys (src/keys/http.ts). The function serving it runs as the
 * key admin role, which may create, tag and replicate signing keys (lib/constructs/key-policies.ts).
 */
export const KEY_ROTATION_REQUEST = { method: "POST", path: "/admin/v1/keys/rotate" } as const;

/** Whether the function serves {@link KEY_ROTATION_REQUEST}. */
export const rotatesKeys = (spec: FunctionSpec): boolean =>
  spec.routes.some((r) => routeMatcher(r)(KEY_ROTATION_REQUEST.method, KEY_ROTATION_REQUEST.path));

const ID_RE = /^[a-z][a-z0-9-]{0,30}$/;
const ROUTE_RE = /^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/[A-Za-z0-9._~{}+-]*)+$/;

/**
 * Checks ids and route keys are well-formed and unique, and that the grants a function's flags
 * imply are declared; throws on the first problem.
 *
 * - A function that authenticates callers (`authenticates`, the default) reads the platform table
 *   on every request: API keys, the key ring (`pk=KEYRING` Query) for bearer tokens and their
 *   revocations (`REVOKED#<jti>` GetItem). It must declare `tables.platform` (read or readwrite):
 *   the table stays the complete statement of a function's access, nothing is granted implicitly.
 * - At most one function signs (it runs as the signer role the key policies name) and at most one
 *   serves key rotation (the key admin role); they must be different functions.
 */
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
    if (spec.authenticates !== false && spec.tables.platform === undefined) {
      throw new Error(
        `function "${spec.id}": it authenticates callers, which reads the platform table (API keys, key ring, token revocations); declare tables.platform`,
      );
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
  const signers = specs.filter((s) => s.signs === true).map((s) => s.id);
  if (signers.length > 1)
    throw new Error(`only one function may sign (it runs as the signer role): ${signers.join(", ")}`);
  const rotators = specs.filter(rotatesKeys).map((s) => s.id);
  if (rotators.length > 1)
    throw new Error(`only one function may serve key rotation (the key admin role): ${rotators.join(", ")}`);
  if (rotators[0] !== undefined && rotators[0] === signers[0])
    throw new Error(`function "${rotators[0]}" may not both sign and rotate keys (separate roles)`);
};

/** Splits a route key into method and path. */
export const parseRouteKey = (route: RouteKey): { method: RouteMethod; path: string } => {
  const space = route.indexOf(" ");
  return { method: route.slice(0, space) as RouteMethod, path: route.slice(space + 1) };
};
