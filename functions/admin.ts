import { containerFromEnv } from "./_shared/from-env.ts";
import { lambdaHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the admin API group (`/admin/v1/*`). */
export const handler = (await lambdaHandlers(await containerFromEnv())).admin!;
