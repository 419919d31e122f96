/**
 * OAuth authorization server (machine-to-machine half): the public surface of the module.
 * Adapters are imported from `./adapters/*` by the composition root only.
 */
export { accessTokenAuthenticator } from "./authn.ts";
export type { ClientRegistration } from "./clients.ts";
export { OAuthError, type OAuthErrorCode, renderOAuthError } from "./errors.ts";
export { serverMetadata } from "./metadata.ts";
export type {
  AccessTokenClaims,
  ActorClaim,
  AuthMethod,
  GrantType,
  OAuthClient,
  PlatformScope,
} from "./model.ts";
export { PLATFORM_SCOPES } from "./model.ts";
export type { ClientStore, ReplayCache, RevocationList, TenantDirectory } from "./ports.ts";
export { permissionsOf } from "./scopes.ts";
export { createOAuth, type OAuth, type OAuthDeps } from "./setup.ts";
export { AccessTokenService, InvalidTokenError } from "./tokens.ts";
