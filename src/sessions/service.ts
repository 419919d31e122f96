/**
 * Browser sessions: created at sign-in, checked on every authorization request, with an idle
 * timeout that slides on use and an absolute timeout that never moves (per tenant, with platform
 * defaults). The cookie carries `<id>.<secret>`; only SHA-256(secret) is stored.
 */
import type { Clock } from "../shared/clock.ts";
import { notFound, validationError } from "../shared/errors.ts";
import { constantTimeEqual, hashSecret, type IdGenerator, newSecret, ULID_RE } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import type { Session, SessionPolicy } from "./model.ts";
import type { RefreshTokenStore, SessionStore } from "./ports.ts";

/** Dependencies of {@link SessionService}. */
export interface SessionServiceDeps {
  /** Sessions, and the refresh-token families they back (revoked with them). */
  readonly store: SessionStore & Pick<RefreshTokenStore, "listUserFamilies" | "revokeFamily">;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Platform defaults. */
  readonly defaults: SessionPolicy;
  /** True when the user may still sign in (exists, enabled, tenant active). */
  readonly userIsActive: (tenantId: string, userId: string) => Promise<boolean>;
  /** Idle expiry is written at most this often (ms) to spare writes. @default 60000 */
  readonly touchEveryMs?: number;
  /** Where a sign-out that could not revoke its refresh families is reported. */
  readonly log?: Logger;
}

/** Why a session is not usable (for tests and logs). */
export type SessionState = "active" | "revoked" | "idle_expired" | "expired" | "user_inactive";

const COOKIE_VALUE = /^([0-7][0-9A-HJKMNP-TV-Z]{25})\.([\w-]{43})$/;

export class SessionService {
  readonly #d: SessionServiceDeps;

  constructor(deps: SessionServiceDeps) {
    this.#d = deps;
  }

  async policy(tenantId: string): Promise<SessionPolicy> {
    return (await this.#d.store.getSessionPolicy(tenantId)) ?? this.#d.defaults;
  }

  async setPolicy(tenantId: string, p: SessionPolicy): Promise<SessionPolicy> {
    if (
      p.idleTimeoutSeconds < 60 ||
      p.absoluteTimeoutSeconds < p.idleTimeoutSeconds ||
      p.absoluteTimeoutSeconds > 90 * 86400
    )
      throw validationError("idle_timeout must be ≥ 60 s and ≤ absolute_timeout ≤ 90 days.");
    await this.#d.store.putSessionPolicy(tenantId, p);
    return p;
  }

  /** Creates a session; returns it and the cookie value (shown once). */
  async create(
    tenantId: string,
    userId: string,
    auth: { amr: readonly string[]; acr: string; userAgent?: string; ip?: string },
  ): Promise<{ session: Session; cookie: string }> {
    const now = this.#d.clock.now();
    const p = await this.policy(tenantId);
    const secret = newSecret("", 32);
    const absoluteExpiresAt = now + p.absoluteTimeoutSeconds * 1000;
    const session: Session = {
      id: this.#d.ids.ulid(),
      tenantId,
      userId,
      secretHash: hashSecret(secret),
      createdAt: now,
      authTime: now,
      amr: [...auth.amr],
      acr: auth.acr,
      lastSeenAt: now,
      idleExpiresAt: Math.min(now + p.idleTimeoutSeconds * 1000, absoluteExpiresAt),
      absoluteExpiresAt,
      ...(auth.userAgent ? { userAgent: auth.userAgent.slice(0, 256) } : {}),
      ...(auth.ip ? { ip: auth.ip } : {}),
    };
    await this.#d.store.createSession(session);
    return { session, cookie: `${session.id}.${secret}` };
  }

  /** State of a session at `now` (revocation, timeouts, user). */
  async stateOf(s: Session, options: { idle?: boolean } = {}): Promise<SessionState> {
    const now = this.#d.clock.now();
    if (s.revokedAt !== undefined) return "revoked";
    if (s.absoluteExpiresAt <= now) return "expired";
    if ((options.idle ?? true) && s.idleExpiresAt <= now) return "idle_expired";
    if (!(await this.#d.userIsActive(s.tenantId, s.userId))) return "user_inactive";
    return "active";
  }

  /** The active session a cookie names, sliding its idle expiry; undefined otherwise. */
  async resolve(cookie: string | undefined): Promise<Session | undefined> {
    const m = cookie ? COOKIE_VALUE.exec(cookie) : null;
    if (!m) return undefined;
    const s = await this.#d.store.getSession(m[1]!);
    if (!s || !constantTimeEqual(hashSecret(m[2]!), s.secretHash)) return undefined;
    if ((await this.stateOf(s)) !== "active") return undefined;
    return this.touch(s);
  }

  /** Slides the idle expiry (sliding refresh). */
  async touch(s: Session): Promise<Session> {
    const now = this.#d.clock.now();
    if (now - s.lastSeenAt < (this.#d.touchEveryMs ?? 60_000)) return s;
    const p = await this.policy(s.tenantId);
    const idleExpiresAt = Math.min(now + p.idleTimeoutSeconds * 1000, s.absoluteExpiresAt);
    await this.#d.store.touchSession(s.id, now, idleExpiresAt);
    return { ...s, lastSeenAt: now, idleExpiresAt };
  }

  /** A session that may still back tokens (refresh): not revoked, within its absolute lifetime, user active. */
  async activeForTokens(sessionId: string): Promise<Session | undefined> {
    const s = await this.#d.store.getSession(sessionId);
    if (!s || (await this.stateOf(s, { idle: false })) !== "active") return undefined;
    return s;
  }

  /** The user's sessions that are not revoked or expired. */
  async list(tenantId: string, userId: string): Promise<Session[]> {
    const now = this.#d.clock.now();
    return (await this.#d.store.listUserSessions(tenantId, userId)).filter(
      (s) => s.revokedAt === undefined && s.absoluteExpiresAt > now && s.idleExpiresAt > now,
    );
  }

  /** Revokes one session of the user; `not_found` if it is not theirs. */
  async revoke(tenantId: string, userId: string, sessionId: string): Promise<void> {
    if (!ULID_RE.test(sessionId)) throw notFound("Session not found.");
    const s = await this.#d.store.getSession(sessionId);
    if (!s || s.tenantId !== tenantId || s.userId !== userId) throw notFound("Session not found.");
    const now = this.#d.clock.now();
    await this.#d.store.revokeSession(tenantId, sessionId, now);
    await this.#revokeFamilies(tenantId, userId, new Set([sessionId]), now);
  }

  /**
   * Ends a session (sign-out, or replaced by a new sign-in). Revoking its refresh families is
   * best effort here: a failure is logged, not raised, so a sign-in never fails on it (the
   * families still end at their next refresh, which checks the session).
   */
  async end(s: Session): Promise<void> {
    const now = this.#d.clock.now();
    await this.#d.store.revokeSession(s.tenantId, s.id, now);
    try {
      await this.#revokeFamilies(s.tenantId, s.userId, new Set([s.id]), now);
    } catch (err) {
      this.#d.log?.error("refresh families of an ended session not revoked", { err, session_id: s.id });
    }
  }

  /** Revokes every session of the user; returns how many. */
  async revokeAll(tenantId: string, userId: string): Promise<number> {
    const sessions = await this.#d.store.listUserSessions(tenantId, userId);
    const live = sessions.filter((s) => s.revokedAt === undefined);
    const now = this.#d.clock.now();
    await Promise.all(live.map((s) => this.#d.store.revokeSession(tenantId, s.id, now)));
    // Every session of the user, revoked before or now: their families end with them.
    await this.#revokeFamilies(tenantId, userId, new Set(sessions.map((s) => s.id)), now);
    return live.length;
  }

  /**
   * Revokes the live refresh-token families of these sessions, so the access tokens issued from
   * them (claim `fid`) die now rather than at their expiry. Without it a family would only be
   * found dead at its next refresh (the session check), and its access tokens would live on.
   */
  async #revokeFamilies(tenantId: string, userId: string, sessionIds: ReadonlySet<string>, now: number) {
    const live = (await this.#d.store.listUserFamilies(tenantId, userId)).filter(
      (f) => sessionIds.has(f.sessionId) && f.revokedAt === undefined && f.expiresAt > now,
    );
    await Promise.all(live.map((f) => this.#d.store.revokeFamily(f.id, now)));
  }
}
