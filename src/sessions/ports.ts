/**
 * Ports of the sessions module. Contract: test/contract/session-store.suite.ts; one class per backend
 * implements all of them (memory, DynamoDB on the platform table).
 */
import type {
  AuthorizationCode,
  CodeIssue,
  Consent,
  Interaction,
  RefreshFamily,
  Session,
  SessionPolicy,
  ThrottleState,
  WindowCount,
} from "./model.ts";

export interface SessionStore {
  /** `conflict` when the id exists. */
  createSession(s: Session): Promise<void>;
  getSession(id: string): Promise<Session | undefined>;
  /** Slides the idle expiry; no-op for a revoked or missing session. */
  touchSession(id: string, lastSeenAt: number, idleExpiresAt: number): Promise<void>;
  /** A user's sessions (including expired and revoked ones not yet removed), oldest first. */
  listUserSessions(tenantId: string, userId: string): Promise<Session[]>;
  /** Sets `revokedAt` (idempotent); false when no such session of that tenant. */
  revokeSession(tenantId: string, id: string, at: number): Promise<boolean>;
  /** Per-tenant timeouts; undefined means the platform defaults. */
  getSessionPolicy(tenantId: string): Promise<SessionPolicy | undefined>;
  putSessionPolicy(tenantId: string, policy: SessionPolicy): Promise<void>;
}

export interface CodeStore {
  /** `conflict` when the hash exists. */
  createCode(code: AuthorizationCode): Promise<void>;
  /**
   * Atomically marks the code redeemed at `at` AND records what this redemption will issue, in one
   * conditional write. Returns the code and whether THIS call redeemed it (`first: false` on replay,
   * with the first redemption's `issued*` fields); undefined when unknown, when not redeemed and
   * expired at `at`, or when redeemed and past its `retainUntil` (a replay after the code's expiry
   * is still reported while what the first redemption issued may live).
   */
  redeemCode(
    codeHash: string,
    at: number,
    issue: CodeIssue,
  ): Promise<{ code: AuthorizationCode; first: boolean } | undefined>;
}

export interface RefreshTokenStore {
  /**
   * `conflict` when a family with this id exists. When the id was revoked before it existed (a
   * replayed code revoking what the first redemption is about to issue), the family is created
   * already revoked (it keeps the earlier `revokedAt`).
   */
  createFamily(f: RefreshFamily): Promise<void>;
  getFamily(id: string): Promise<RefreshFamily | undefined>;
  /**
   * A user's families (any state), with one client or (`clientId` absent) with every client; may
   * lag creation by a moment (index).
   */
  listUserFamilies(tenantId: string, userId: string, clientId?: string): Promise<RefreshFamily[]>;
  /** Compare-and-swap of the current token hash; false when `expectedHash` is no longer current or the family is revoked. */
  rotateFamily(id: string, expectedHash: string, nextHash: string, at: number): Promise<boolean>;
  /**
   * Idempotent. An id that does not exist (yet) is remembered as revoked, so a family created later
   * under it is born revoked. Also marks `familyRef(id)` revoked (see {@link isFamilyRevoked}).
   */
  revokeFamily(id: string, at: number): Promise<void>;
  /**
   * Whether the family referenced by `ref` (= `familyRef(id)`, the `fid` claim of its access
   * tokens) was revoked: one point read. Kept for at least a day after the revocation, longer than
   * any access token lives (PORTCULLIS_TOKEN_MAX_LIFETIME ≤ 1 day).
   */
  isFamilyRevoked(ref: string, now: number): Promise<boolean>;
}

export interface InteractionStore {
  putInteraction(i: Interaction): Promise<void>;
  /** Undefined when unknown or expired at `now`. */
  getInteraction(id: string, now: number): Promise<Interaction | undefined>;
  deleteInteraction(id: string): Promise<void>;
}

export interface ThrottleStore {
  /** The counter of `key`, or undefined (also when expired at `now`). */
  getThrottle(key: string, now: number): Promise<ThrottleState | undefined>;
  /** Records a failure atomically (fresh counter if expired) and returns the new state. */
  recordFailure(
    key: string,
    now: number,
    policy: (failures: number) => { lockedUntil: number; expiresAt: number },
  ): Promise<ThrottleState>;
  clearThrottle(key: string): Promise<void>;
  /**
   * Counts one hit of `key` in a fixed window, atomically (concurrent hits all count, none fails):
   * a live window (`windowEndsAt > now`) is incremented and keeps its end; a missing or ended one is
   * replaced by a window of `windowMs` from `now` with count 1. The counter shares the keyspace of
   * the failure counters (`getThrottle` reports `failures` = count, `clearThrottle` clears it).
   * May throw a `rate_limited` DomainError if it cannot settle under extreme contention.
   */
  hitWindow(key: string, now: number, windowMs: number): Promise<WindowCount>;
}

/** Remembered consent per (tenant, user, client). */
export interface ConsentStore {
  getConsent(tenantId: string, userId: string, clientId: string): Promise<Consent | undefined>;
  /**
   * Adds `scopes` to the user's consent to the client (creating it at `at`), atomically (two
   * concurrent approvals keep both sets); returns the consent as stored.
   */
  grantConsent(
    tenantId: string,
    userId: string,
    clientId: string,
    scopes: readonly string[],
    at: number,
  ): Promise<Consent>;
  /** A user's consents, by client id. */
  listConsents(tenantId: string, userId: string): Promise<Consent[]>;
  /** Deletes one consent; false when there was none. */
  deleteConsent(tenantId: string, userId: string, clientId: string): Promise<boolean>;
  /**
   * Every consent to a client, in any tenant (a multi-tenant client has users in many): what
   * deleting the client removes. May lag a grant by a moment (index).
   */
  listClientConsents(clientId: string): Promise<Consent[]>;
}

/** Everything the sign-in flow stores. */
export type SignInStore = SessionStore &
  CodeStore &
  RefreshTokenStore &
  InteractionStore &
  ThrottleStore &
  ConsentStore;
