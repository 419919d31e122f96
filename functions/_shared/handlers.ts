import { healthRoutes } from "../../src/http/health.ts";
import { type ErrorRenderer, renderProblem } from "../../src/http/problem.ts";
import { createRouter } from "../../src/http/router.ts";
import { keyRoutes } from "../../src/keys/http.ts";
import { renderOAuthError } from "../../src/oauth/errors.ts";
import { tenantRoutes } from "../../src/tenants/http.ts";
import type { Container } from "./container.ts";
import { type LambdaHttpHandler, lambdaHttpHandler } from "./lambda.ts";

export const VERSION = "0.1.0";

/** The Lambda handler of every API group (keys are `API_GROUPS` ids), wired from one container. */
export function createHandlers(c: Container): Record<string, LambdaHttpHandler> {
  const group = (
    routes: Parameters<typeof createRouter>[0]["routes"],
    renderError: ErrorRenderer = renderProblem,
    authenticator = c.authenticator,
  ) =>
    lambdaHttpHandler({
      dispatch: createRouter({ routes, authenticator, renderError }),
      renderError,
      log: c.log,
      bodyLimit: c.config.bodyLimit,
    });
  return {
    health: group(healthRoutes({ version: VERSION, store: c.config.store, region: c.config.region })),
    admin: group([...tenantRoutes(c.tenants), ...c.oauth.adminRoutes, ...keyRoutes(c.keyRing)]),
    oauth: group(c.oauth.routes, renderOAuthError),
    authz: group(c.authzApi.routes, c.authzApi.renderError, c.authzApi.authenticator),
  };
}
