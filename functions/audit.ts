import { containerFromEnv } from "./_shared/from-env.ts";
import { createHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the audit query API group (`GET /audit/v1/*`). */
export const handler = createHandlers(await containerFromEnv()).audit!;
