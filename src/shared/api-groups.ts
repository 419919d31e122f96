import type { TableId } from "./tables.ts";

/**
 * The API groups: one Lambda function each in AWS, the same handlers behind the local server.
 * ONE table read by the CDK app (functions, routes, IAM grants) and by `npm start` (routing), so a
 * new group is one entry here plus its `functions/<id>.ts`.
 */
export interface ApiGroup {
  readonly id: string;
  /** Lambda entry, relative to the repository root; exports `handler`. */
  readonly entry: string;
  /** API Gateway route keys: `METHOD /path` with `{param}` / `{proxy+}`; `ANY` matches all methods. */
  readonly routes: readonly string[];
  /** Table access the function needs (least privilege). */
  readonly tables: Readonly<Partial<Record<TableId, "read" | "readwrite">>>;
  /** Reads the platform admin key secret (every authenticated API). */
  readonly authenticates: boolean;
}

export const API_GROUPS: readonly ApiGroup[] = [
  { id: "health", entry: "functions/health.ts", routes: ["GET /healthz"], tables: {}, authenticates: false },
  {
    id: "admin",
    entry: "functions/admin.ts",
    routes: ["ANY /admin/v1/{proxy+}"],
    tables: { platform: "readwrite" },
    authenticates: true,
  },
];

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
