/**
 * Authorization server metadata (RFC 8414 §2), served at `/.well-known/oauth-authorization-server`
 * and `/.well-known/openid-configuration`. Only what this server implements is advertised.
 */
import { ASSERTION_ALGS, AUTH_METHODS, GRANT_TYPES, PLATFORM_SCOPES } from "./model.ts";

/** Endpoint paths, relative to the issuer. */
export const PATHS = {
  token: "/oauth/token",
  introspect: "/oauth/introspect",
  revoke: "/oauth/revoke",
  jwks: "/.well-known/jwks.json",
  oauthMetadata: "/.well-known/oauth-authorization-server",
  openidMetadata: "/.well-known/openid-configuration",
} as const;

/** The metadata document for `issuer`. */
export function serverMetadata(issuer: string): Record<string, unknown> {
  const methods = [...AUTH_METHODS];
  const algs = [...ASSERTION_ALGS];
  return {
    issuer,
    token_endpoint: `${issuer}${PATHS.token}`,
    jwks_uri: `${issuer}${PATHS.jwks}`,
    introspection_endpoint: `${issuer}${PATHS.introspect}`,
    revocation_endpoint: `${issuer}${PATHS.revoke}`,
    grant_types_supported: [...GRANT_TYPES],
    // No authorization endpoint yet: the machine-to-machine half only.
    response_types_supported: [],
    scopes_supported: [...PLATFORM_SCOPES],
    token_endpoint_auth_methods_supported: methods,
    token_endpoint_auth_signing_alg_values_supported: algs,
    introspection_endpoint_auth_methods_supported: methods,
    introspection_endpoint_auth_signing_alg_values_supported: algs,
    revocation_endpoint_auth_methods_supported: methods,
    revocation_endpoint_auth_signing_alg_values_supported: algs,
  };
}
