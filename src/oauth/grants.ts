/**
 * The grants of the token endpoint: `client_credentials` (RFC 6749 §4.4) and token exchange
 * (RFC 8693) for service-to-service delegation. Both issue RFC 9068 JWT access tokens.
 */
import type { Clock } from "../shared/clock.ts";
import { invalidRequest, OAuthError } from "./errors.ts";
import type { Form } from "./form.ts";
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  type ActorClaim,
  audiences,
  JWT_TOKEN_TYPE,
  type OAuthClient,
} from "./model.ts";
import { grantAudiences, grantScopes, parseScope } from "./scopes.ts";
import { type AccessTokenService, InvalidTokenError, type TokenContent } from "./tokens.ts";

/** The token endpoint's successful response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: "Bearer";
  readonly expires_in: number;
  readonly scope?: string;
  readonly issued_token_type?: string;
}

/** A grant's result: the response body and the claims of the access token in it. */
export interface Issued {
  readonly response: TokenResponse;
  readonly claims: AccessTokenClaims;
}

/** Deepest delegation chain (`act` nesting) we issue. */
export const MAX_ACT_DEPTH = 4;

const depth = (a: ActorClaim | undefined): number => (a ? 1 + depth(a.act) : 0);

function respond(token: string, claims: AccessTokenClaims, issuedTokenType?: string): Issued {
  const response: { -readonly [K in keyof TokenResponse]: TokenResponse[K] } = {
    access_token: token,
    token_type: "Bearer",
    expires_in: claims.exp - claims.iat,
  };
  if (claims.scope) response.scope = claims.scope;
  if (issuedTokenType !== undefined) response.issued_token_type = issuedTokenType;
  return { response, claims };
}

/** What may stand unescaped between JSON quotes here: base64url and dots (a JWS), nothing else. */
const JWS_CHARS = /^[\w.-]*$/;

/**
 * `JSON.stringify(response)` of a client_credentials or token-exchange response, the same text
 * without scanning the ~700-character token for characters to escape: a JWS is base64url and dots
 * (checked, falling back to JSON.stringify otherwise).
 */
export function tokenResponseJson(r: TokenResponse): string {
  if (r.token_type !== "Bearer" || !Number.isSafeInteger(r.expires_in) || !JWS_CHARS.test(r.access_token))
    return JSON.stringify(r);
  let s = `{"access_token":"${r.access_token}","token_type":"Bearer","expires_in":${r.expires_in}`;
  if (r.scope !== undefined) s += `,"scope":${JSON.stringify(r.scope)}`;
  if (r.issued_token_type !== undefined) s += `,"issued_token_type":${JSON.stringify(r.issued_token_type)}`;
  return `${s}}`;
}

const aud = (list: string[]): string | string[] => (list.length === 1 ? list[0]! : list);

/** RFC 6749 §4.4: the client obtains a token for itself. */
export async function clientCredentials(
  form: Form,
  client: OAuthClient,
  tokens: AccessTokenService,
): Promise<Issued> {
  const scopes = grantScopes(parseScope(form.get("scope")), client.scope);
  const content: TokenContent = {
    sub: client.clientId,
    aud: aud(grantAudiences(form.all("resource"), form.all("audience"), client.resources)),
    client_id: client.clientId,
    tenant_id: client.tenantId,
    ...(scopes.length ? { scope: scopes.join(" ") } : {}),
  };
  const { token, claims } = await tokens.issue(content, client.accessTokenLifetime);
  return respond(token, claims);
}

/**
 * RFC 8693: the authenticated client (the actor) exchanges a subject token it received for a token
 * to call another service on the subject's behalf. Policy:
 * - the subject token is one of ours, valid, unrevoked, of the client's tenant;
 * - it was meant for this client: its `aud` names the client id, or its `may_act.sub` does;
 * - scopes can only narrow: ⊆ the subject token's scopes ∩ the client's registered scopes;
 * - audiences are the client's registered ones (`invalid_target` otherwise);
 * - the new token never outlives the subject token; `act` records the chain.
 */
export async function tokenExchange(
  form: Form,
  client: OAuthClient,
  tokens: AccessTokenService,
  clock: Clock,
): Promise<Issued> {
  const subjectToken = form.get("subject_token");
  const subjectType = form.get("subject_token_type");
  if (subjectToken === undefined || subjectType === undefined)
    throw invalidRequest("subject_token and subject_token_type are required.");
  if (subjectType !== ACCESS_TOKEN_TYPE && subjectType !== JWT_TOKEN_TYPE)
    throw invalidRequest("subject_token_type must be an access_token or jwt token type.");
  if (form.has("actor_token") || form.has("actor_token_type"))
    throw invalidRequest("actor_token is not supported: the authenticated client is the actor.");
  const requested = form.get("requested_token_type");
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE && requested !== JWT_TOKEN_TYPE)
    throw invalidRequest("Only access tokens can be requested.");

  const invalidSubject = () => invalidRequest("The subject token is invalid.");
  let subject: AccessTokenClaims;
  try {
    subject = await tokens.verify(subjectToken);
  } catch (e) {
    if (e instanceof InvalidTokenError) throw invalidSubject();
    throw e;
  }
  if (subject.tenant_id !== client.tenantId || (await tokens.isRevoked(subject))) throw invalidSubject();
  const mayAct = subject.may_act?.sub;
  if (!(audiences(subject).includes(client.clientId) || mayAct === client.clientId)) throw invalidSubject();
  if (depth(subject.act) >= MAX_ACT_DEPTH) throw invalidRequest("The delegation chain is too long.");

  const subjectScopes = parseScope(subject.scope);
  const registered = new Set(client.scope);
  const scopes = grantScopes(
    parseScope(form.get("scope")),
    subjectScopes.filter((s) => registered.has(s)),
  );
  const remaining = subject.exp - Math.floor(clock.now() / 1000);
  const lifetime = Math.min(client.accessTokenLifetime, remaining);
  if (lifetime <= 0) throw invalidSubject();
  const act: ActorClaim = subject.act ? { sub: client.clientId, act: subject.act } : { sub: client.clientId };
  const content: TokenContent = {
    sub: subject.sub,
    aud: aud(grantAudiences(form.all("resource"), form.all("audience"), client.resources)),
    client_id: client.clientId,
    tenant_id: client.tenantId,
    ...(scopes.length ? { scope: scopes.join(" ") } : {}),
    act,
    // A token exchanged from a refresh family's token dies with the family too.
    ...(typeof subject.fid === "string" ? { fid: subject.fid } : {}),
  };
  const { token, claims } = await tokens.issue(content, lifetime);
  return respond(token, claims, ACCESS_TOKEN_TYPE);
}

/** `unsupported_grant_type` / `unauthorized_client` checks shared by the endpoint. */
export function assertGrantAllowed(client: OAuthClient, grantType: string): void {
  if (!(client.grantTypes as readonly string[]).includes(grantType))
    throw new OAuthError("unauthorized_client", "This client may not use this grant type.");
}
