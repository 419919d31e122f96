import { containerFromEnv } from "./_shared/from-env.ts";
import { createHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the admin API group (`/admin/v1/*`). */
export const handler = createHandlers(await containerFromEnv()).admin!;
