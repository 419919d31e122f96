import { createRouter, type Dispatch, json } from "../../src/http/router.ts";
import type { Principal, Route } from "../../src/http/types.ts";

/**
 * A router of one route whose every caller is `principal`: `dispatch` answers as the real router
 * does (observers told, errors rendered); each rendered error is kept in `rendered` and answered
 * as a 500.
 */
export function routerOf(route: Route, principal?: Principal): { dispatch: Dispatch; rendered: unknown[] } {
  const rendered: unknown[] = [];
  const dispatch = createRouter({
    routes: [route],
    authenticator: { authenticate: async () => principal },
    renderError: (err) => {
      rendered.push(err);
      return json(500, {});
    },
  });
  return { dispatch, rendered };
}
