/**
 * Sign-in state: browser sessions, authorization codes, refresh-token families, login transactions
 * ("interactions"), failed-login counters and remembered consents. Times are epoch ms.
 */
import { hashSecret } from "../shared/ids.ts";

/** A browser session, created at sign-in; the cookie carries `<id>.<secret>`, only the hash is stored. */
export interface Session {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly secretHash: string;
  readonly createdAt: number;
  /** When the user authenticated (OIDC `auth_time`, ms). */
  readonly authTime: number;
  /** Authentication methods (RFC 8176), e.g. `["pwd"]`. */
  readonly amr: readonly string[];
  readonly acr: string;
  readonly lastSeenAt: number;
  /** Sliding: lastSeenAt + idle timeout, never after `absoluteExpiresAt`. */
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
  readonly revokedAt?: number;
  readonly userAgent?: string;
  readonly ip?: string;
}

/** Idle and absolute session timeouts (seconds), per tenant. */
export interface SessionPolicy {
  readonly idleTimeoutSeconds: number;
  readonly absoluteTimeoutSeconds: number;
}

/** An authorization code (stored by hash of the code); single use. */
export interface AuthorizationCode {
  readonly codeHash: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly scope: readonly string[];
  readonly nonce?: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly authTime: number;
  readonly amr: readonly string[];
  readonly acr: string;
  readonly expiresAt: number;
  /**
   * Set on redemption, in the same atomic write: what the redemption issues (decided before it
   * issues anything), so a replay at any moment can revoke it.
   */
  readonly redeemedAt?: number;
  readonly issuedJti?: string;
  readonly issuedJtiExpiresAt?: number;
  readonly issuedFamilyId?: string;
  /**
   * Until when a redeemed code is kept and a replay of it reported (`first: false`), also after
   * `expiresAt`: as long as what it issued may live (CodeIssue.retainUntil).
   */
  readonly retainUntil?: number;
}

/** A refresh-token family: one chain of rotated tokens; only the current token's hash is valid. */
export interface RefreshFamily {
  readonly id: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly scope: readonly string[];
  readonly authTime: number;
  readonly amr: readonly string[];
  readonly acr: string;
  readonly currentHash: string;
  readonly generation: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt?: number;
}

/** What a code redemption will issue: recorded atomically with the redemption. */
export interface CodeIssue {
  /** `jti` of the access token. */
  readonly jti: string;
  /** When that access token expires (ms): how long its revocation must be kept. */
  readonly jtiExpiresAt: number;
  /** Id of the refresh-token family (only with `offline_access`). */
  readonly familyId?: string;
  /**
   * How long the redeemed code is kept so that a replay, even after the code's expiry, still finds
   * and revokes what it issued: the refresh family's lifetime when there is one.
   * @default jtiExpiresAt (never before the code's own expiry)
   */
  readonly retainUntil?: number;
}

/**
 * The reference to a refresh-token family that its access tokens carry (claim `fid`): base64url
 * SHA-256 of the family id. Not the id itself: the id is the public half of the refresh token, and a
 * resource server that sees the access token could otherwise forge a "reused" refresh token of the
 * family (a public client's) and so revoke it. The store keeps a revocation marker under it.
 */
export const familyRef = (familyId: string): string => hashSecret(`fid:${familyId}`);

/** A fixed-window counter (email-step rate limit): hits in the window and when the window ends. */
export interface WindowCount {
  readonly count: number;
  readonly windowEndsAt: number;
}

/** A user's remembered consent to one client: the scopes granted so far (union of approvals). */
export interface Consent {
  readonly tenantId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A login transaction: the pending authorization request, bound to a browser by a cookie. */
export interface Interaction {
  readonly id: string;
  /**
   * The tenant the user signs in to. `""` while a multi-tenant client's transaction has no tenant
   * yet (home-realm discovery at the email step decides it).
   */
  readonly tenantId: string;
  /**
   * How `tenantId` was chosen: the client's own tenant (`client`, also when absent), the request's
   * `organization` parameter, the `login_hint`'s email domain, the entered email's domain, or the
   * browser's existing session (`session`).
   */
  readonly tenantFrom?: "client" | "organization" | "login_hint" | "email" | "session";
  readonly clientId: string;
  /** CSRF token of the forms of this transaction. */
  readonly csrf: string;
  /** The validated authorization request parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** Set once the user signed in (waiting for consent). */
  readonly sessionId?: string;
  readonly expiresAt: number;
}

/** Failed-login counter of one key (`acct:<tenant>:<email>` or `ip:<ip>`). */
export interface ThrottleState {
  readonly failures: number;
  readonly lockedUntil: number;
  readonly expiresAt: number;
}
