import { containerFromEnv } from "./_shared/from-env.ts";
import { createHandlers } from "./_shared/handlers.ts";

/** Lambda entry of the OAuth API group (`/oauth/*`, `/.well-known/*`). */
export const handler = createHandlers(await containerFromEnv()).oauth!;
