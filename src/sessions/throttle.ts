/**
 * Failed-login throttling per account (tenant + email, whether or not the account exists, so the
 * lock says nothing about existence) and per client IP, with exponential backoff. Every failure and
 * lock is reported as an audit-ready event through `onEvent`.
 */
import type { Clock } from "../shared/clock.ts";
import { hashSecret } from "../shared/ids.ts";
import type { ThrottleStore } from "./ports.ts";

/** Limits of one key kind. */
export interface ThrottleLimits {
  /** Failures allowed before backoff starts. */
  readonly freeFailures: number;
  /** Longest lock (s). */
  readonly maxLockSeconds: number;
  /** A counter is forgotten this long after its last failure (s). */
  readonly windowSeconds: number;
}

export const ACCOUNT_LIMITS: ThrottleLimits = { freeFailures: 5, maxLockSeconds: 900, windowSeconds: 900 };
export const IP_LIMITS: ThrottleLimits = { freeFailures: 20, maxLockSeconds: 900, windowSeconds: 900 };

/** An audit-ready sign-in event (DESIGN "Audit events" envelope fields). */
export interface LoginEvent {
  readonly type:
    | "login.succeeded"
    | "login.failed"
    | "login.throttled"
    | "session.created"
    | "session.revoked"
    | "consent.granted"
    | "consent.denied";
  readonly tenant: string;
  readonly time: string;
  /** The user id on success; never the email on failure (it may not be an account). */
  readonly subject?: string;
  /** What was acted on; @default `client:<detail.client_id>` */
  readonly resource?: string;
  /** @default "login" */
  readonly action?: string;
  /** @default allow for login.succeeded and consent.granted, success for session.*, else deny */
  readonly decision?: "allow" | "deny" | "success" | "failure";
  readonly reason?: string;
  readonly request: { readonly ip: string; readonly user_agent?: string; readonly request_id: string };
  readonly detail?: Record<string, unknown>;
}

/**
 * Seconds locked after `failures` failures: none for the first `freeFailures - 1`, then 2, 4, 8, …
 * from the `freeFailures`-th on, capped at `maxLockSeconds`.
 */
export function lockSeconds(failures: number, l: ThrottleLimits): number {
  const over = failures - l.freeFailures;
  return over < 0 ? 0 : Math.min(2 * 2 ** over, l.maxLockSeconds);
}

export class LoginThrottle {
  readonly #store: ThrottleStore;
  readonly #clock: Clock;
  readonly #account: ThrottleLimits;
  readonly #ip: ThrottleLimits;

  constructor(d: { store: ThrottleStore; clock: Clock; account?: ThrottleLimits; ip?: ThrottleLimits }) {
    this.#store = d.store;
    this.#clock = d.clock;
    this.#account = d.account ?? ACCOUNT_LIMITS;
    this.#ip = d.ip ?? IP_LIMITS;
  }

  static accountKey = (tenantId: string, email: string) =>
    `acct:${tenantId}:${hashSecret(email.trim().toLowerCase())}`;
  static ipKey = (ip: string) => `ip:${ip}`;

  /** Milliseconds until a sign-in may be attempted for this account from this IP (0 = now). */
  async retryAfterMs(tenantId: string, email: string, ip: string): Promise<number> {
    const now = this.#clock.now();
    const [a, i] = await Promise.all([
      this.#store.getThrottle(LoginThrottle.accountKey(tenantId, email), now),
      this.#store.getThrottle(LoginThrottle.ipKey(ip), now),
    ]);
    return Math.max(0, (a?.lockedUntil ?? 0) - now, (i?.lockedUntil ?? 0) - now);
  }

  /** Counts a failure for both keys; returns the resulting wait (ms). */
  async failed(tenantId: string, email: string, ip: string): Promise<number> {
    const now = this.#clock.now();
    const rec = (key: string, l: ThrottleLimits) =>
      this.#store.recordFailure(key, now, (f) => ({
        lockedUntil: now + lockSeconds(f, l) * 1000,
        expiresAt: now + l.windowSeconds * 1000,
      }));
    const [a, i] = await Promise.all([
      rec(LoginThrottle.accountKey(tenantId, email), this.#account),
      rec(LoginThrottle.ipKey(ip), this.#ip),
    ]);
    return Math.max(0, a.lockedUntil - now, i.lockedUntil - now);
  }

  /** A successful sign-in clears the account's counter (not the IP's). */
  async succeeded(tenantId: string, email: string): Promise<void> {
    await this.#store.clearThrottle(LoginThrottle.accountKey(tenantId, email));
  }
}
