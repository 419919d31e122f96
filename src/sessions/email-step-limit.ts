/**
 * Rate limit of home-realm discovery: the email step of a multi-tenant client that is not bound to
 * an organization, and the lookup of a `login_hint`'s domain at `/oauth/authorize`. EVERY such
 * submission counts, not only failures, per client IP and, once discovery found the tenant, per
 * IP + tenant: the answer tells whether an email domain belongs to an organization, so it must not
 * come at speed. Email steps that do no discovery (single-tenant clients, an `organization`
 * parameter) are not counted: behind a shared NAT, an attacker could otherwise lock every user of
 * that IP out of ordinary sign-ins for a window; the password step has its own failure-based
 * backoff (`LoginThrottle`).
 *
 * Fixed windows on the failed-login counters' store (`ThrottleStore.hitWindow`, one atomic write
 * per counter): the first submission opens a window of `windowSeconds`; once a key has had its limit
 * in the window, further submissions wait until the window ends (429, `Retry-After`). A counter the
 * store cannot settle under extreme contention (`rate_limited`) also answers "wait" (429), never an
 * error.
 */
import type { Clock } from "../shared/clock.ts";
import { DomainError } from "../shared/errors.ts";
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

/** The wait (ms) answered when a counter could not be settled under contention. */
export const CONTENTION_WAIT_MS = 1000;

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
    try {
      const w = await this.#store.hitWindow(key, now, this.#limits.windowSeconds * 1000);
      return w.count > limit ? Math.max(1, w.windowEndsAt - now) : 0;
    } catch (e) {
      if (e instanceof DomainError && e.code === "rate_limited") return CONTENTION_WAIT_MS;
      throw e;
    }
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
