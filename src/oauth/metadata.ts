/**
 * Authorization server metadata (RFC 8414 §2), served at `/.well-known/oauth-authorization-server`
 * and `/.well-known/openid-configuration`. Only what this server implements is advertised.
 */
import { SIGNING_ALGS } from "../keys/model.ts";
import {
  ASSERTION_ALGS,
  AUTH_METHODS,
  CONFIDENTIAL_AUTH_METHODS,
  GRANT_TYPES,
  PLATFORM_SCOPES,
} from "./model.ts";

/** OIDC scopes of the interactive flow (OIDC Core §5.4, §11). */
export const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"] as const;

/** Endpoint paths, relative to the issuer. */
export const PATHS = {
  token: "/oauth/token",
  introspect: "/oauth/introspect",
  revoke: "/oauth/revoke",
  jwks: "/.well-known/jwks.json",
  oauthMetadata: "/.well-known/oauth-authorization-server",
  openidMetadata: "/.well-known/openid-configuration",
  authorize: "/oauth/authorize",
  login: "/oauth/login",
  consent: "/oauth/consent",
  userinfo: "/oauth/userinfo",
  logout: "/oauth/logout",
} as const;

/** The metadata document for `issuer`. */
export function serverMetadata(
  issuer: string,
  options: { interactive?: boolean } = {},
): Record<string, unknown> {
  const methods = [...CONFIDENTIAL_AUTH_METHODS];
  const interactive = options.interactive ?? false;
  const algs = [...ASSERTION_ALGS];
  return {
    issuer,
    ...(interactive ? { authorization_endpoint: `${issuer}${PATHS.authorize}` } : {}),
    token_endpoint: `${issuer}${PATHS.token}`,
    jwks_uri: `${issuer}${PATHS.jwks}`,
    introspection_endpoint: `${issuer}${PATHS.introspect}`,
    revocation_endpoint: `${issuer}${PATHS.revoke}`,
    grant_types_supported: interactive
      ? [...GRANT_TYPES]
      : GRANT_TYPES.filter((g) => g !== "authorization_code" && g !== "refresh_token"),
    response_types_supported: interactive ? ["code"] : [],
    scopes_supported: interactive ? [...OIDC_SCOPES, ...PLATFORM_SCOPES] : [...PLATFORM_SCOPES],
    token_endpoint_auth_methods_supported: interactive ? [...AUTH_METHODS] : methods,
    token_endpoint_auth_signing_alg_values_supported: algs,
    introspection_endpoint_auth_methods_supported: methods,
    introspection_endpoint_auth_signing_alg_values_supported: algs,
    revocation_endpoint_auth_methods_supported: methods,
    revocation_endpoint_auth_signing_alg_values_supported: algs,
    ...(interactive
      ? {
          userinfo_endpoint: `${issuer}${PATHS.userinfo}`,
          end_session_endpoint: `${issuer}${PATHS.logout}`,
          response_modes_supported: ["query"],
          code_challenge_methods_supported: ["S256"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: [...SIGNING_ALGS],
          prompt_values_supported: ["none", "login", "consent"],
          claims_supported: [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "amr",
            "acr",
            "sid",
            "at_hash",
            "name",
            "email",
            "email_verified",
          ],
          claims_parameter_supported: false,
          request_parameter_supported: false,
          request_uri_parameter_supported: false,
          authorization_response_iss_parameter_supported: true,
        }
      : {}),
  };
}
