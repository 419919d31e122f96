/**
 * The token endpoint's interactive grants: `authorization_code` (OAuth 2.1 §4.1.3, PKCE S256) and
 * `refresh_token` (§4.3) with rotation on every use and reuse detection.
 *
 * - Codes are single use: redemption is one atomic store operation; a second redemption gets
 *   `invalid_grant` AND revokes what the first one issued (access token by `jti`, refresh family).
 *   The first redemption decides those identifiers BEFORE it redeems and records them in the same
 *   conditional write that spends the code, so a replay at any moment (even before the tokens
 *   exist) finds and revokes them: the `jti` goes on the revocation list, which needs no token, and
 *   the family id is revoked ahead of its creation, so the family is born revoked.
 * - A code is bound to its client, its redirect URI and its PKCE challenge; any mismatch is the same
 *   `invalid_grant`.
 * - Access tokens issued from a family (the redemption that creates it, and every refresh) carry the
 *   private claim `fid` = familyRef(family id): revoking the family (replay, reuse, RFC 7009,
 *   consent revocation) revokes all of them, including those of refreshes made before a replay.
 * - Refresh tokens are `pcr_<family>.<secret>`; only SHA-256(secret) of the family's CURRENT token is
 *   stored. Presenting any other token of a known family (a rotated one) revokes the family.
 *   A family is bound to its client and session: a revoked or expired session, or a disabled
 *   user, ends it. Refresh tokens exist only when `offline_access` was granted. A third-party
 *   client's family also needs the user's consent to still cover its scopes (revoking the consent
 *   revokes the families too; this check closes the gap of the index that finds them).
 */
import { createHash, randomBytes } from "node:crypto";
import { familyRef } from "../sessions/model.ts";
import { constantTimeEqual, hashSecret } from "../shared/ids.ts";
import { invalidRequest, OAuthError } from "./errors.ts";
import type { Form } from "./form.ts";
import type { TokenResponse } from "./grants.ts";
import type { OAuthClient } from "./model.ts";
import { isMultiTenant } from "./organizations.ts";
import { grantScopes, parseScope } from "./scopes.ts";
import type { Grant, SignInContext } from "./signin-deps.ts";

/** Token response of the interactive grants. */
export interface InteractiveTokenResponse extends TokenResponse {
  readonly id_token?: string;
  readonly refresh_token?: string;
}

const REFRESH = /^pcr_([\w-]{22})\.([\w-]{43})$/;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const badCode = () =>
  new OAuthError("invalid_grant", "The authorization code is invalid, expired or was already used.");
const badRefresh = () =>
  new OAuthError("invalid_grant", "The refresh token is invalid, expired or was revoked.");

/** What to do about the refresh token: rotate an existing family, create one (with its pre-decided id), or none. */
type RefreshPlan = { familyId: string; secret: string } | { newFamilyId: string } | "none";

/** Access token, ID token (openid) and refresh token (offline_access) for a grant. */
async function issue(
  x: SignInContext,
  client: OAuthClient,
  g: Grant,
  refresh: RefreshPlan,
  token: { jti?: string; issuedAt?: number } = {},
): Promise<{ body: InteractiveTokenResponse; jti: string; familyId?: string }> {
  const scope = g.scope.join(" ");
  const offline = g.scope.includes("offline_access") && client.grantTypes.includes("refresh_token");
  // The family this access token belongs to, if any: it is revoked with the family.
  const family =
    typeof refresh === "object"
      ? "secret" in refresh
        ? refresh.familyId
        : offline
          ? refresh.newFamilyId
          : undefined
      : undefined;
  const { token: accessToken, claims } = await x.d.tokens.issue(
    {
      sub: g.userId,
      aud: client.resources[0] ?? x.d.issuer,
      client_id: client.clientId,
      // The user's tenant: the client's own, or the organization of a multi-tenant client.
      tenant_id: g.tenantId,
      ...(scope ? { scope } : {}),
      ...(family ? { fid: familyRef(family) } : {}),
    },
    client.accessTokenLifetime,
    token,
  );
  const idToken = g.scope.includes("openid")
    ? await x.d.idTokens.issue(
        {
          sub: g.userId,
          aud: client.clientId,
          auth_time: Math.floor(g.authTime / 1000),
          ...(g.nonce ? { nonce: g.nonce } : {}),
          amr: g.amr,
          acr: g.acr,
          sid: g.sessionId,
          tenant_id: g.tenantId,
          ...(isMultiTenant(client) ? { org_id: g.tenantId } : {}),
        },
        client.accessTokenLifetime,
        accessToken,
      )
    : undefined;
  let refreshToken: string | undefined;
  let familyId: string | undefined;
  if (typeof refresh === "object" && "newFamilyId" in refresh && offline) {
    familyId = refresh.newFamilyId;
    const secret = randomBytes(32).toString("base64url");
    const now = x.d.clock.now();
    // Born revoked when a replay of the code already revoked this id (see the store contract).
    await x.d.store.createFamily({
      id: familyId,
      tenantId: g.tenantId,
      clientId: client.clientId,
      userId: g.userId,
      sessionId: g.sessionId,
      scope: [...g.scope],
      authTime: g.authTime,
      amr: [...g.amr],
      acr: g.acr,
      currentHash: hashSecret(secret),
      generation: 0,
      createdAt: now,
      expiresAt: now + (x.d.refreshTokenLifetimeSeconds ?? 30 * 86400) * 1000,
    });
    refreshToken = `pcr_${familyId}.${secret}`;
  } else if (typeof refresh === "object" && "secret" in refresh) {
    refreshToken = `pcr_${refresh.familyId}.${refresh.secret}`;
  }
  return {
    body: {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: claims.exp - claims.iat,
      ...(scope ? { scope } : {}),
      ...(idToken ? { id_token: idToken } : {}),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    },
    jti: claims.jti,
    ...(familyId ? { familyId } : {}),
  };
}

/** `grant_type=authorization_code`. */
export async function authorizationCodeGrant(
  x: SignInContext,
  form: Form,
  client: OAuthClient,
): Promise<InteractiveTokenResponse> {
  const code = form.get("code");
  const verifier = form.get("code_verifier");
  const redirectUri = form.get("redirect_uri");
  if (code === undefined) throw invalidRequest("code is required.");
  if (verifier === undefined) throw invalidRequest("code_verifier is required (PKCE).");
  if (redirectUri === undefined) throw invalidRequest("redirect_uri is required.");
  if (!VERIFIER.test(verifier)) throw invalidRequest("code_verifier is malformed.");
  if (code.length > 128) throw badCode();
  const codeHash = hashSecret(code);
  const now = x.d.clock.now();
  // Decide what this redemption will issue before spending the code, and record it in the same
  // conditional write: the access token's jti and expiry (its iat is pinned to `now`) and, for
  // clients with refresh tokens, the family id (unused when offline_access was not granted).
  const jti = x.d.tokens.newJti();
  const jtiExpiresAt = (Math.floor(now / 1000) + client.accessTokenLifetime) * 1000;
  const familyId = client.grantTypes.includes("refresh_token")
    ? randomBytes(16).toString("base64url")
    : undefined;
  // The spent code is kept as long as what it issues may live, so that even a late replay (after
  // the code's expiry) revokes it: the family's lifetime, or the access token's.
  const retainUntil = familyId ? now + (x.d.refreshTokenLifetimeSeconds ?? 30 * 86400) * 1000 : jtiExpiresAt;
  const r = await x.d.store.redeemCode(codeHash, now, {
    jti,
    jtiExpiresAt,
    ...(familyId ? { familyId } : {}),
    retainUntil,
  });
  if (!r) throw badCode();
  const c = r.code;
  if (!r.first) {
    // Replay: revoke what the first redemption issues or issued (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
    // Both revocations work whether or not the tokens exist yet.
    if (c.issuedJti) await x.d.revocations.revoke(c.issuedJti, c.issuedJtiExpiresAt ?? now + 3600_000);
    if (c.issuedFamilyId) await x.d.store.revokeFamily(c.issuedFamilyId, now);
    x.d.log.warn("authorization code replayed", { client_id: c.clientId, tenant: c.tenantId });
    throw badCode();
  }
  const challenge = createHash("sha256").update(verifier, "ascii").digest("base64url");
  if (
    c.clientId !== client.clientId ||
    c.redirectUri !== redirectUri ||
    !constantTimeEqual(challenge, c.codeChallenge)
  )
    throw badCode();
  const session = await x.d.sessions.activeForTokens(c.sessionId);
  if (!session) throw badCode();
  const out = await issue(
    x,
    client,
    { ...c, scope: c.scope },
    familyId ? { newFamilyId: familyId } : "none",
    { jti, issuedAt: now },
  );
  return out.body;
}

/** `grant_type=refresh_token`: rotation with reuse detection. */
export async function refreshTokenGrant(
  x: SignInContext,
  form: Form,
  client: OAuthClient,
): Promise<InteractiveTokenResponse> {
  const presented = form.get("refresh_token");
  if (presented === undefined) throw invalidRequest("refresh_token is required.");
  const m = REFRESH.exec(presented);
  if (!m) throw badRefresh();
  const now = x.d.clock.now();
  const f = await x.d.store.getFamily(m[1]!);
  if (
    !f ||
    f.clientId !== client.clientId ||
    (f.tenantId !== client.tenantId && !isMultiTenant(client)) ||
    f.expiresAt <= now ||
    f.revokedAt !== undefined
  )
    throw badRefresh();
  const hash = hashSecret(m[2]!);
  if (!constantTimeEqual(hash, f.currentHash)) {
    await x.d.store.revokeFamily(f.id, now);
    x.d.log.warn("refresh token reuse detected: family revoked", {
      client_id: f.clientId,
      tenant: f.tenantId,
      user_id: f.userId,
    });
    throw badRefresh();
  }
  const session = await x.d.sessions.activeForTokens(f.sessionId);
  if (!session) {
    await x.d.store.revokeFamily(f.id, now);
    throw badRefresh();
  }
  if (
    client.thirdParty === true &&
    (await x.d.consents.missing(f.tenantId, f.userId, f.clientId, f.scope)).length > 0
  ) {
    // The user revoked (or narrowed) the consent this family was issued under.
    await x.d.store.revokeFamily(f.id, now);
    throw badRefresh();
  }
  const scope = grantScopes(parseScope(form.get("scope")), f.scope);
  const secret = randomBytes(32).toString("base64url");
  if (!(await x.d.store.rotateFamily(f.id, hash, hashSecret(secret), now))) {
    // Lost a race with another use of the same token: treat as reuse.
    await x.d.store.revokeFamily(f.id, now);
    throw badRefresh();
  }
  const out = await issue(x, client, { ...f, scope }, { familyId: f.id, secret });
  return out.body;
}

/** Revocation (RFC 7009) of a refresh token: revokes its family when it belongs to the client. */
export async function revokeRefreshToken(
  x: SignInContext,
  token: string,
  client: OAuthClient,
): Promise<boolean> {
  const m = REFRESH.exec(token);
  if (!m) return false;
  const f = await x.d.store.getFamily(m[1]!);
  if (!f || !constantTimeEqual(hashSecret(m[2]!), f.currentHash)) return true;
  if (f.clientId !== client.clientId)
    throw new OAuthError("unauthorized_client", "This token was not issued to this client.");
  await x.d.store.revokeFamily(f.id, x.d.clock.now());
  return true;
}
