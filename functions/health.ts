import { containerFromEnv } from "./_shared/from-env.ts";
import { lambdaHandlers } from "./_shared/handlers.ts";

/** Lambda entry of `GET /healthz`. */
export const handler = (await lambdaHandlers(await containerFromEnv())).health!;
