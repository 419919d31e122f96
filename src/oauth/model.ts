/**
 * OAuth value types: registered clients (metadata named as in RFC 7591) and access-token claims
 * (RFC 9068 JWT profile, RFC 8693 `act`).
 */
import type { JWK } from "jose";

/** RFC 8693 token exchange grant type. */
export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 7523 §2.2 client assertion type. */
export const JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** RFC 8693 §3 token type identifiers we accept and issue. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** RFC 8693 §3 JWT token type. */
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

/** Grant types the authorization server supports. */
export type GrantType = "client_credentials" | typeof TOKEN_EXCHANGE | "authorization_code" | "refresh_token";
/** Every supported grant type. */
export const GRANT_TYPES: readonly GrantType[] = [
  "client_credentials",
  TOKEN_EXCHANGE,
  "authorization_code",
  "refresh_token",
];
/** Grants a public client (`none`) may have: the interactive ones. */
export const PUBLIC_CLIENT_GRANTS: readonly GrantType[] = ["authorization_code", "refresh_token"];

/** Client authentication methods (RFC 7591 §2 / RFC 7523 / OIDC Core §9); `none` = public client. */
export type AuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none";
/** Every supported client authentication method. */
export const AUTH_METHODS: readonly AuthMethod[] = [
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
  "none",
];
/** Methods of confidential clients (introspection and revocation need one of these). */
export const CONFIDENTIAL_AUTH_METHODS: readonly AuthMethod[] = [
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
];

/** Algorithms accepted for `private_key_jwt` assertions (asymmetric only; never `none` or HMAC). */
export const ASSERTION_ALGS = [
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "EdDSA",
] as const;

/**
 * Scopes the platform's own APIs understand; each is the API permission of the same name. Other
 * scopes are for product services and mean nothing to the platform.
 */
export const PLATFORM_SCOPES = [
  "authz:read",
  "authz:write",
  "authz:check",
  "audit:read",
  "tenant:admin",
] as const;
/** One of {@link PLATFORM_SCOPES}. */
export type PlatformScope = (typeof PLATFORM_SCOPES)[number];

/** A registered OAuth client, as stored (the secret only as a hash). */
export interface OAuthClient {
  readonly clientId: string;
  readonly tenantId: string;
  readonly clientName: string;
  readonly grantTypes: readonly GrantType[];
  readonly redirectUris: readonly string[];
  readonly tokenEndpointAuthMethod: AuthMethod;
  /** Scopes the client may request (RFC 7591 `scope`, stored split). */
  readonly scope: readonly string[];
  /**
   * Audiences the client may request tokens for (RFC 8707 resource indicators / RFC 8693
   * `audience`); the first is the default. Extension metadata.
   */
  readonly resources: readonly string[];
  /** Public keys for `private_key_jwt` (RFC 7591 `jwks`). */
  readonly jwks?: readonly JWK[];
  /** base64url SHA-256 of the client secret (`client_secret_*` methods). */
  readonly secretHash?: string;
  /** Access token lifetime in seconds. Extension metadata. */
  readonly accessTokenLifetime: number;
  /** OIDC RP-Initiated Logout: where the user may be sent after signing out. */
  readonly postLogoutRedirectUris?: readonly string[];
  /** Third-party clients get a consent page; first-party ones (the default) skip it. Extension metadata. */
  readonly thirdParty?: boolean;
  /**
   * `require`: a multi-tenant client (one application serving many organizations). Its sign-ins
   * go to the tenant chosen by the `organization` parameter, the `login_hint`'s email domain or the
   * domain of the email entered (home-realm discovery), never to the client's own tenant by
   * default. Absent: the client signs users in to its own tenant only. Extension metadata
   * `organization_usage`; only the platform admin may set it.
   */
  readonly organizationUsage?: "require";
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt?: number;
}

/** RFC 8693 §4.1 actor claim; nested for delegation chains. */
export interface ActorClaim {
  readonly sub: string;
  readonly act?: ActorClaim;
}

/** Claims of our JWT access tokens (RFC 9068 §2.2 plus `tenant_id` and `act`). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly tenant_id: string;
  readonly act?: ActorClaim;
  /** RFC 8693 §4.4: who may act for the subject. */
  readonly may_act?: { readonly sub: string };
  /**
   * Private claim of tokens issued from a refresh-token family (the code redemption that created it
   * and every refresh): `familyRef(family id)`, a hash, never the id. Revoking the family revokes
   * the token (`AccessTokenService.isRevoked`).
   */
  readonly fid?: string;
}

/** Audiences of a token as an array. */
export const audiences = (c: { aud: string | string[] }): string[] =>
  Array.isArray(c.aud) ? c.aud : [c.aud];
