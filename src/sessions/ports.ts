/**
 * Ports of the sessions module. Contract: test/contract/session-store.suite.ts; one class per backend
 * implements all of them (memory, DynamoDB on the platform table).
 */
import type {
  AuthorizationCode,
  Interaction,
  RefreshFamily,
  Session,
  SessionPolicy,
  ThrottleState,
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
   * Atomically marks the code redeemed at `at`. Returns the code and whether THIS call redeemed it
   * (`first: false` on replay); undefined when unknown or expired at `at`.
   */
  redeemCode(codeHash: string, at: number): Promise<{ code: AuthorizationCode; first: boolean } | undefined>;
  /** Records what a redeemed code issued. */
  recordCodeIssued(
    codeHash: string,
    issued: { jti: string; jtiExpiresAt: number; familyId?: string },
  ): Promise<void>;
}

export interface RefreshTokenStore {
  /** `conflict` when the id exists. */
  createFamily(f: RefreshFamily): Promise<void>;
  getFamily(id: string): Promise<RefreshFamily | undefined>;
  /** Compare-and-swap of the current token hash; false when `expectedHash` is no longer current or the family is revoked. */
  rotateFamily(id: string, expectedHash: string, nextHash: string, at: number): Promise<boolean>;
  /** Idempotent. */
  revokeFamily(id: string, at: number): Promise<void>;
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
}

/** Everything the sign-in flow stores. */
export type SignInStore = SessionStore & CodeStore & RefreshTokenStore & InteractionStore & ThrottleStore;
