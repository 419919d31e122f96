import { containerFromEnv } from "./_shared/from-env.ts";
import { lambdaHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the authorization API group (`/stores`, `/stores/*`: the OpenFGA HTTP API). */
export const handler = (await lambdaHandlers(await containerFromEnv())).authz!;
