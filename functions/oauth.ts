import { containerFromEnv } from "./_shared/from-env.ts";
import { lambdaHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the OAuth API group (`/oauth/*`, `/.well-known/*`). */
export const handler = (await lambdaHandlers(await containerFromEnv())).oauth!;
