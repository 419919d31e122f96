import { authzAuditRules } from "../../src/audit/authz-rules.ts";
import { auditRoutes } from "../../src/audit/http.ts";
import { auditedRoutes } from "../../src/audit/route-audit.ts";
import { ADMIN_AUDIT_RULES, oauthAuditRules } from "../../src/audit/rules.ts";
import { healthRoutes } from "../../src/http/health.ts";
import { type ErrorRenderer, renderProblem } from "../../src/http/problem.ts";
import { createRouter } from "../../src/http/router.ts";
import { keyRoutes } from "../../src/keys/http.ts";
import { renderOAuthError } from "../../src/oauth/errors.ts";
import { consentRoutes, sessionRoutes } from "../../src/sessions/http.ts";
import { tenantDomainRoutes } from "../../src/tenants/domains-http.ts";
import { tenantRoutes } from "../../src/tenants/http.ts";
import { userRoutes } from "../../src/users/http.ts";
import { auditExtensionFor } from "./audit-extension.ts";
import { type AuditFlushOptions, type HandlerDoneSink, withAuditFlush } from "./audit-middleware.ts";
import type { Container } from "./container.ts";
import { type LambdaHttpHandler, lambdaHttpHandler } from "./lambda.ts";

export const VERSION = "0.1.0";

export interface HandlerOptions {
  /**
   * The audit extension (functions/_shared/audit-extension.ts): while it is active, the flush
   * middleware signals it instead of flushing before the response.
   */
  readonly auditExtension?: HandlerDoneSink;
}

/** How a container's audit events are flushed (middleware and extension alike). */
export const auditFlushOptions = (c: Container): AuditFlushOptions => ({
  emitter: c.audit.emitter,
  log: c.log,
  // The `log` transport's forwarder counts decisions and events from the lines it forwards.
  emf: c.audit.settings.emf && (c.audit.settings.bus === "log" ? "exceptions" : true),
  dimensions: { Region: c.config.region },
  ...(c.output ? { output: c.output } : {}),
});

/**
 * The handlers of a Lambda function entry (module init, top-level await): registers the audit
 * extension first when `PORTCULLIS_AUDIT_FLUSH=after-response` in Lambda (at most ~1 s; on failure
 * the middleware flushes inside each invocation), then {@link createHandlers}.
 */
export async function lambdaHandlers(
  c: Container,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, LambdaHttpHandler>> {
  const auditExtension = await auditExtensionFor(auditFlushOptions(c), c.config.audit.flush, env);
  return createHandlers(c, auditExtension ? { auditExtension } : {});
}

/** The Lambda handler of every API group (keys are `API_GROUPS` ids), wired from one container. */
export function createHandlers(
  c: Container,
  options: HandlerOptions = {},
): Record<string, LambdaHttpHandler> {
  const flush: AuditFlushOptions = {
    ...auditFlushOptions(c),
    ...(options.auditExtension ? { extension: options.auditExtension } : {}),
  };
  const group = (
    routes: Parameters<typeof createRouter>[0]["routes"],
    renderError: ErrorRenderer = renderProblem,
    authenticator = c.authenticator,
  ) =>
    // Audit events are flushed at the end of every invocation (functions/_shared/audit-middleware.ts),
    // after the response when the audit extension is active.
    withAuditFlush(
      lambdaHttpHandler({
        dispatch: createRouter({ routes, authenticator, renderError }),
        renderError,
        log: c.log,
        bodyLimit: c.config.bodyLimit,
      }),
      flush,
    );
  // Admin changes and OAuth decisions emit one audit event each (src/audit/rules.ts).
  const audited = (
    routes: Parameters<typeof createRouter>[0]["routes"],
    rules: Parameters<typeof auditedRoutes>[1],
  ) => auditedRoutes(routes, rules, c.audit.emitter, c.log);
  const oauthRules = oauthAuditRules({
    tenantOfClient: async (id) => (await c.oauth.clients.findActive(id))?.tenantId,
    verify: (token) => c.oauth.tokens.verify(token),
  });
  const authzRules = authzAuditRules({
    tenantOfStore: async (id) => (await c.authz.getStore(id)).tenantId,
  });
  return {
    health: group(healthRoutes({ version: VERSION, store: c.config.store, region: c.config.region })),
    admin: group(
      audited(
        [
          ...tenantRoutes(c.tenants),
          ...tenantDomainRoutes(c.tenantDomains),
          ...c.oauth.adminRoutes,
          ...keyRoutes(c.keyRing),
          ...userRoutes(c.users),
          ...sessionRoutes(c.sessions, c.users),
          ...consentRoutes(c.consents, c.users),
        ],
        ADMIN_AUDIT_RULES,
      ),
    ),
    oauth: group(audited(c.oauth.routes, oauthRules), renderOAuthError),
    authz: group(
      // Checks, list queries, tuple/model writes and store changes (src/audit/authz-rules.ts);
      // with audit off the routes stay unwrapped, so the hot path pays nothing.
      c.audit.emitter.enabled ? audited(c.authzApi.routes, authzRules) : c.authzApi.routes,
      c.authzApi.renderError,
      c.authzApi.authenticator,
    ),
    audit: group(auditRoutes({ store: c.audit.store, delivered: () => c.audit.emitter.flush() })),
  };
}
