import type { TableId } from "./tables.ts";

/*
 * The API groups: one Lambda function each in AWS, the same handlers behind the local server.
 * ONE table, read by the CDK app (functions, routes, least-privilege IAM; lib/config/functions.ts)
 * and by `npm start` (routing; src/local/server.ts). A new group is one entry here plus its
 * `functions/<id>.ts`.
 */

/** Methods API Gateway HTTP APIs accept in a route key. */
export type RouteMethod = "ANY" | "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";

/** An HTTP API route key, e.g. `GET /healthz` or `ANY /admin/v1/{proxy+}`. */
export type RouteKey = `${RouteMethod} /${string}`;

/** What a function may do with a table (indexes included). */
export type TableAccess = "read" | "readwrite";

export interface FunctionSpec {
  /** Logical id: lowercase, used in construct ids and resource names. */
  readonly id: string;
  /** Handler file relative to the repository root; it must export `handler`. */
  readonly entry: string;
  /** Route keys served by this function; a route key may appear in one function only. */
  readonly routes: readonly RouteKey[];
  /** Tables it may access and how; everything else is denied. */
  readonly tables: Readonly<Partial<Record<TableId, TableAccess>>>;
  /** Whether it puts audit events on the regional bus. @default false */
  readonly emitsEvents?: boolean;
  /**
   * Whether it may read its tables' replicas in the other regions, to answer a consistency token
   * written in a region whose changes have not replicated here yet (docs/CONSISTENCY.md). Sets
   * `PORTCULLIS_AUTHZ_PEER_REGIONS` and grants read on those replicas. @default false
   */
  readonly readsPeerReplicas?: boolean;
  /** Whether it signs with the KMS signing key (`kms:Sign`, `kms:GetPublicKey`). @default false */
  readonly signs?: boolean;
  /** Whether it authenticates callers with the platform admin key, and so reads its secret. @default true */
  readonly authenticates?: boolean;
  /**
   * How its routes are authorized when it does not use the admin key: the justification recorded
   * for cdk-nag `AwsSolutions-APIG4` (routes have no API Gateway authorizer). Required when
   * `authenticates` is false.
   */
  readonly publicAccess?: string;
  /** Memory in MB. @default 512 */
  readonly memorySize?: number;
  /** Timeout in seconds. @default 10 */
  readonly timeoutSeconds?: number;
}

/** An API group; kept under its historical name for the CDK side. */
export type ApiGroup = FunctionSpec;

export const API_GROUPS = [
  {
    id: "admin",
    entry: "functions/admin.ts",
    routes: ["ANY /admin/v1/{proxy+}"],
    tables: { platform: "readwrite" },
    // Tenant, client and key changes are audited (DESIGN "Audit events").
    emitsEvents: true,
  },
  {
    id: "health",
    entry: "functions/health.ts",
    routes: ["GET /healthz"],
    tables: {},
    // No admin key, so no secret read (and no secret ARN in its environment).
    authenticates: false,
    publicAccess: "Public liveness probe by design; it returns no data.",
  },
  {
    id: "oauth",
    entry: "functions/oauth.ts",
    routes: ["ANY /oauth/{proxy+}", "GET /.well-known/{proxy+}"],
    tables: { platform: "readwrite" },
    authenticates: false,
    publicAccess:
      "Discovery metadata and JWKS are public by specification; the token, introspection and revocation endpoints authenticate OAuth clients (RFC 6749 §2.3, RFC 7662, RFC 7009).",
    signs: true,
    // token.issued and friends (DESIGN "Audit events").
    emitsEvents: true,
  },
  {
    id: "authz",
    entry: "functions/authz.ts",
    // The OpenFGA HTTP API (docs/API.md, "Authorization API"); the hot path of product services.
    routes: ["ANY /stores", "ANY /stores/{proxy+}"],
    // platform: credentials (API keys, token revocations, verification keys); authz: stores, models, tuples.
    tables: { platform: "read", authz: "readwrite" },
    readsPeerReplicas: true,
    // authz.check and friends (docs/AUDIT.md).
    emitsEvents: true,
  },
  {
    id: "audit",
    entry: "functions/audit.ts",
    // The audit query API (docs/AUDIT.md): tenant credentials with `audit:read`, or the platform admin.
    routes: ["GET /audit/v1/{proxy+}"],
    // audit: the events; platform: credentials (API keys, token revocations, verification keys).
    tables: { audit: "read", platform: "read" },
  },
] as const satisfies readonly FunctionSpec[];

/** Compiles a route key into a matcher (API Gateway semantics: `{proxy+}` is greedy). */
export function routeMatcher(routeKey: string): (method: string, path: string) => boolean {
  const [method, path] = routeKey.split(" ") as [string, string];
  const re = new RegExp(
    `^${path
      .split("/")
      .map((s) =>
        /^\{\w+\+\}$/.test(s)
          ? ".+"
          : /^\{\w+\}$/.test(s)
            ? "[^/]+"
            : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("/")}$`,
  );
  return (m, p) => (method === "ANY" || method === m || (method === "GET" && m === "HEAD")) && re.test(p);
}
