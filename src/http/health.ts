import { json } from "./router.ts";
import type { Route } from "./types.ts";

export interface HealthInfo {
  readonly version: string;
  readonly store: "memory" | "dynamodb";
  readonly region: string;
}

/** `GET /healthz`: liveness plus what this deployment runs on. Public, no secrets. */
export const healthRoutes = (info: HealthInfo): Route[] => [
  {
    method: "GET",
    path: "/healthz",
    access: { kind: "public" },
    handler: async () => json(200, { status: "ok", ...info }),
  },
];
