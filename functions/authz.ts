import { containerFromEnv } from "./_shared/from-env.ts";
import { createHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the authorization API group (`/stores`, `/stores/*`: the OpenFGA HTTP API). */
export const handler = createHandlers(await containerFromEnv()).authz!;
