import { conflict } from "../../shared/errors.ts";
import {
  type AuthorizationCode,
  type CodeIssue,
  type Consent,
  familyRef,
  type Interaction,
  type RefreshFamily,
  type Session,
  type SessionPolicy,
  type ThrottleState,
  type WindowCount,
} from "../model.ts";
import type { SignInStore } from "../ports.ts";

/** How long the revocation marker of a family's access tokens is kept: longer than any access token lives. */
const FAMILY_MARKER_MS = 2 * 86400_000;

/** In-memory sign-in store: the embedded default and the reference for the contract. */
export class MemorySignInStore implements SignInStore {
  readonly #sessions = new Map<string, Session>();
  readonly #policies = new Map<string, SessionPolicy>();
  readonly #codes = new Map<string, AuthorizationCode>();
  readonly #families = new Map<string, RefreshFamily>();
  readonly #interactions = new Map<string, Interaction>();
  readonly #throttle = new Map<string, ThrottleState>();
  /** Ids revoked before their family existed (a replayed code), with the revocation time. */
  readonly #revokedUnknown = new Map<string, number>();
  readonly #consents = new Map<string, Consent>();
  /** familyRef(id) of revoked families → until when the marker is kept. */
  readonly #revokedRefs = new Map<string, number>();

  async createSession(s: Session): Promise<void> {
    if (this.#sessions.has(s.id)) throw conflict("Session exists.");
    this.#sessions.set(s.id, { ...s });
  }

  async getSession(id: string): Promise<Session | undefined> {
    const s = this.#sessions.get(id);
    return s && { ...s };
  }

  async touchSession(id: string, lastSeenAt: number, idleExpiresAt: number): Promise<void> {
    const s = this.#sessions.get(id);
    if (s && s.revokedAt === undefined) this.#sessions.set(id, { ...s, lastSeenAt, idleExpiresAt });
  }

  async listUserSessions(tenantId: string, userId: string): Promise<Session[]> {
    return [...this.#sessions.values()]
      .filter((s) => s.tenantId === tenantId && s.userId === userId)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({ ...s }));
  }

  async revokeSession(tenantId: string, id: string, at: number): Promise<boolean> {
    const s = this.#sessions.get(id);
    if (!s || s.tenantId !== tenantId) return false;
    if (s.revokedAt === undefined) this.#sessions.set(id, { ...s, revokedAt: at });
    return true;
  }

  async getSessionPolicy(tenantId: string): Promise<SessionPolicy | undefined> {
    const p = this.#policies.get(tenantId);
    return p && { ...p };
  }

  async putSessionPolicy(tenantId: string, policy: SessionPolicy): Promise<void> {
    this.#policies.set(tenantId, { ...policy });
  }

  async createCode(code: AuthorizationCode): Promise<void> {
    if (this.#codes.has(code.codeHash)) throw conflict("Code exists.");
    this.#codes.set(code.codeHash, { ...code });
  }

  async redeemCode(
    codeHash: string,
    at: number,
    issue: CodeIssue,
  ): Promise<{ code: AuthorizationCode; first: boolean } | undefined> {
    const c = this.#codes.get(codeHash);
    if (!c) return undefined;
    // A redeemed code reports replays until retainUntil, even after its expiry.
    if (c.redeemedAt !== undefined)
      return (c.retainUntil ?? c.expiresAt) > at ? { code: { ...c }, first: false } : undefined;
    if (c.expiresAt <= at) return undefined;
    const next: AuthorizationCode = {
      ...c,
      redeemedAt: at,
      issuedJti: issue.jti,
      issuedJtiExpiresAt: issue.jtiExpiresAt,
      ...(issue.familyId ? { issuedFamilyId: issue.familyId } : {}),
      retainUntil: Math.max(c.expiresAt, issue.retainUntil ?? issue.jtiExpiresAt),
    };
    this.#codes.set(codeHash, next);
    return { code: { ...next }, first: true };
  }

  async createFamily(f: RefreshFamily): Promise<void> {
    if (this.#families.has(f.id)) throw conflict("Family exists.");
    const revokedAt = this.#revokedUnknown.get(f.id);
    this.#revokedUnknown.delete(f.id);
    this.#families.set(f.id, { ...f, ...(revokedAt === undefined ? {} : { revokedAt }) });
  }

  async listUserFamilies(tenantId: string, userId: string, clientId?: string): Promise<RefreshFamily[]> {
    return [...this.#families.values()]
      .filter(
        (f) =>
          f.tenantId === tenantId &&
          f.userId === userId &&
          (clientId === undefined || f.clientId === clientId),
      )
      .map((f) => ({ ...f }));
  }

  async getFamily(id: string): Promise<RefreshFamily | undefined> {
    const f = this.#families.get(id);
    return f && { ...f };
  }

  async rotateFamily(id: string, expectedHash: string, nextHash: string, _at: number): Promise<boolean> {
    const f = this.#families.get(id);
    if (!f || f.revokedAt !== undefined || f.currentHash !== expectedHash) return false;
    this.#families.set(id, { ...f, currentHash: nextHash, generation: f.generation + 1 });
    return true;
  }

  async revokeFamily(id: string, at: number): Promise<void> {
    const ref = familyRef(id);
    if (!this.#revokedRefs.has(ref)) this.#revokedRefs.set(ref, at + FAMILY_MARKER_MS);
    const f = this.#families.get(id);
    if (!f) {
      if (!this.#revokedUnknown.has(id)) this.#revokedUnknown.set(id, at);
    } else if (f.revokedAt === undefined) this.#families.set(id, { ...f, revokedAt: at });
  }

  async isFamilyRevoked(ref: string, now: number): Promise<boolean> {
    return (this.#revokedRefs.get(ref) ?? 0) > now;
  }

  async putInteraction(i: Interaction): Promise<void> {
    this.#interactions.set(i.id, { ...i, params: { ...i.params } });
  }

  async getInteraction(id: string, now: number): Promise<Interaction | undefined> {
    const i = this.#interactions.get(id);
    return i && i.expiresAt > now ? { ...i, params: { ...i.params } } : undefined;
  }

  async deleteInteraction(id: string): Promise<void> {
    this.#interactions.delete(id);
  }

  async getThrottle(key: string, now: number): Promise<ThrottleState | undefined> {
    const t = this.#throttle.get(key);
    return t && t.expiresAt > now ? { ...t } : undefined;
  }

  async recordFailure(
    key: string,
    now: number,
    policy: (failures: number) => { lockedUntil: number; expiresAt: number },
  ): Promise<ThrottleState> {
    const t = this.#throttle.get(key);
    const cur = t && t.expiresAt > now ? t : undefined;
    const failures = (cur?.failures ?? 0) + 1;
    const next = { failures, ...policy(failures) };
    this.#throttle.set(key, next);
    return { ...next };
  }

  async clearThrottle(key: string): Promise<void> {
    this.#throttle.delete(key);
  }

  async hitWindow(key: string, now: number, windowMs: number): Promise<WindowCount> {
    const t = this.#throttle.get(key);
    const next: ThrottleState =
      t && t.expiresAt > now
        ? { ...t, failures: t.failures + 1 }
        : { failures: 1, lockedUntil: 0, expiresAt: now + windowMs };
    this.#throttle.set(key, next);
    return { count: next.failures, windowEndsAt: next.expiresAt };
  }

  static #consentKey = (tenantId: string, userId: string, clientId: string) =>
    `${tenantId}\n${userId}\n${clientId}`;

  async getConsent(tenantId: string, userId: string, clientId: string): Promise<Consent | undefined> {
    const c = this.#consents.get(MemorySignInStore.#consentKey(tenantId, userId, clientId));
    return c && { ...c, scopes: [...c.scopes] };
  }

  async grantConsent(
    tenantId: string,
    userId: string,
    clientId: string,
    scopes: readonly string[],
    at: number,
  ): Promise<Consent> {
    const k = MemorySignInStore.#consentKey(tenantId, userId, clientId);
    const cur = this.#consents.get(k);
    const next: Consent = {
      tenantId,
      userId,
      clientId,
      scopes: [...new Set([...(cur?.scopes ?? []), ...scopes])].sort(),
      createdAt: cur?.createdAt ?? at,
      updatedAt: at,
    };
    this.#consents.set(k, next);
    return { ...next, scopes: [...next.scopes] };
  }

  async listConsents(tenantId: string, userId: string): Promise<Consent[]> {
    return [...this.#consents.values()]
      .filter((c) => c.tenantId === tenantId && c.userId === userId)
      .sort((a, b) => (a.clientId < b.clientId ? -1 : 1))
      .map((c) => ({ ...c, scopes: [...c.scopes] }));
  }

  async deleteConsent(tenantId: string, userId: string, clientId: string): Promise<boolean> {
    return this.#consents.delete(MemorySignInStore.#consentKey(tenantId, userId, clientId));
  }

  async listClientConsents(clientId: string): Promise<Consent[]> {
    return [...this.#consents.values()]
      .filter((c) => c.clientId === clientId)
      .map((c) => ({ ...c, scopes: [...c.scopes] }));
  }
}
