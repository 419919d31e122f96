import { containerFromEnv } from "./_shared/from-env.ts";
import { createHandlers } from "./_shared/handlers.ts";

/** Lambda entry of `GET /healthz`. */
export const handler = createHandlers(await containerFromEnv()).health!;
