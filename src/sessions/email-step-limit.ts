/**
 * Rate limit of the sign-in email step (and of the home-realm lookup of a `login_hint`): EVERY
 * submission counts, not only failures, per client IP and, where the tenant is known, per IP +
 * tenant. The email step of a multi-tenant client tells whether an email domain belongs to an
 * organization, so it must not answer at speed. Fixed windows on the failed-login counters' store
 * (`ThrottleStore`): the first submission opens a window of `windowSeconds`; once a key has had
 * its limit in the window, further submissions wait until the window ends (429, `Retry-After`).
 * The password step keeps its own failure-based backoff (`LoginThrottle`).
 */
import type { Clock } from "../shared/clock.ts";
import type { ThrottleStore } from "./ports.ts";

/** Limits of the email step. */
export interface EmailStepLimits {
  /** Submissions per window from one IP. */
  readonly perIp: number;
  /** Submissions per window from one IP to one tenant. */
  readonly perTenantIp: number;
  /** Window length (s). */
  readonly windowSeconds: number;
}

/** Defaults: 60 per IP and 30 per IP + tenant in 5 minutes (one every 5 s on average). */
export const EMAIL_STEP_LIMITS: EmailStepLimits = { perIp: 60, perTenantIp: 30, windowSeconds: 300 };

/** Which counter refused a submission. */
export type EmailStepScope = "ip" | "tenant_ip";

export class EmailStepLimiter {
  readonly #store: ThrottleStore;
  readonly #clock: Clock;
  readonly #limits: EmailStepLimits;

  constructor(d: { store: ThrottleStore; clock: Clock; limits?: EmailStepLimits }) {
    this.#store = d.store;
    this.#clock = d.clock;
    this.#limits = d.limits ?? EMAIL_STEP_LIMITS;
  }

  get limits(): EmailStepLimits {
    return this.#limits;
  }

  static ipKey = (ip: string) => `email:ip:${ip}`;
  static tenantIpKey = (tenantId: string, ip: string) => `email:tip:${tenantId}:${ip}`;

  /** Counts one submission on `key`; returns the wait (ms) when it is over `limit`, else 0. */
  async #hit(key: string, limit: number): Promise<number> {
    const now = this.#clock.now();
    const cur = await this.#store.getThrottle(key, now);
    if (cur && cur.lockedUntil > now) return cur.lockedUntil - now;
    const windowEnd = (fresh: boolean) =>
      fresh || !cur ? now + this.#limits.windowSeconds * 1000 : cur.expiresAt;
    const s = await this.#store.recordFailure(key, now, (n) => {
      const end = windowEnd(n === 1);
      return { expiresAt: end, lockedUntil: n > limit ? end : 0 };
    });
    return s.lockedUntil > now ? s.lockedUntil - now : 0;
  }

  /**
   * Counts a submission from `ip` (and from `ip` to `tenantId` when given). Returns the wait in ms
   * and which counter refused, or `{ waitMs: 0 }` when it may proceed.
   */
  async hit(ip: string, tenantId?: string): Promise<{ waitMs: number; scope?: EmailStepScope }> {
    const [byIp, byTenant] = await Promise.all([
      this.#hit(EmailStepLimiter.ipKey(ip), this.#limits.perIp),
      tenantId === undefined
        ? Promise.resolve(0)
        : this.#hit(EmailStepLimiter.tenantIpKey(tenantId, ip), this.#limits.perTenantIp),
    ]);
    if (byIp === 0 && byTenant === 0) return { waitMs: 0 };
    return byIp >= byTenant ? { waitMs: byIp, scope: "ip" } : { waitMs: byTenant, scope: "tenant_ip" };
  }

  /** Counts a submission from `ip` to `tenantId` only (the tenant became known after the IP count). */
  async hitTenant(ip: string, tenantId: string): Promise<{ waitMs: number; scope?: EmailStepScope }> {
    const w = await this.#hit(EmailStepLimiter.tenantIpKey(tenantId, ip), this.#limits.perTenantIp);
    return w === 0 ? { waitMs: 0 } : { waitMs: w, scope: "tenant_ip" };
  }
}
