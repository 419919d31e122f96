/**
 * Remembered consent (issue 6): what a user allowed a client, per (tenant, user, client). The
 * authorization endpoint skips the consent page when the remembered scopes cover the request and
 * asks only for the new ones otherwise; revoking a consent also ends that client's refresh tokens
 * for the user.
 */

import { CLIENT_ID_RE } from "../oauth/clients.ts";
import type { Clock } from "../shared/clock.ts";
import { notFound } from "../shared/errors.ts";
import type { Consent } from "./model.ts";
import type { ConsentStore, RefreshTokenStore } from "./ports.ts";

/** Dependencies of {@link ConsentService}. */
export interface ConsentServiceDeps {
  readonly store: ConsentStore & RefreshTokenStore;
  readonly clock: Clock;
}

/** Consents handled at once when a client is deleted. */
const CLEANUP_BATCH = 16;

export class ConsentService {
  readonly #d: ConsentServiceDeps;

  constructor(deps: ConsentServiceDeps) {
    this.#d = deps;
  }

  get(tenantId: string, userId: string, clientId: string): Promise<Consent | undefined> {
    return this.#d.store.getConsent(tenantId, userId, clientId);
  }

  /** The requested scopes the user has not granted the client yet (all of them without a consent). */
  async missing(
    tenantId: string,
    userId: string,
    clientId: string,
    scopes: readonly string[],
  ): Promise<string[]> {
    const c = await this.get(tenantId, userId, clientId);
    const granted = new Set(c?.scopes ?? []);
    return c ? scopes.filter((s) => !granted.has(s)) : [...scopes];
  }

  /** Remembers that the user allowed the client `scopes` (added to what was granted before). */
  grant(tenantId: string, userId: string, clientId: string, scopes: readonly string[]): Promise<Consent> {
    return this.#d.store.grantConsent(tenantId, userId, clientId, scopes, this.#d.clock.now());
  }

  list(tenantId: string, userId: string): Promise<Consent[]> {
    return this.#d.store.listConsents(tenantId, userId);
  }

  /**
   * Forgets the consent and revokes the client's refresh-token families for the user; returns how
   * many families were revoked. `not_found` when there was no consent.
   */
  async revoke(tenantId: string, userId: string, clientId: string): Promise<number> {
    // Not a client id (e.g. oversized, which DynamoDB would refuse as a key): no such consent.
    if (!CLIENT_ID_RE.test(clientId)) throw notFound("Consent not found.");
    if (!(await this.#d.store.deleteConsent(tenantId, userId, clientId)))
      throw notFound("Consent not found.");
    return this.#revokeFamilies(tenantId, userId, clientId);
  }

  /** Forgets every consent of the user (user deletion) and revokes those clients' refresh tokens. */
  async deleteAll(tenantId: string, userId: string): Promise<number> {
    const all = await this.list(tenantId, userId);
    await Promise.all(
      all.map(async (c) => {
        await this.#d.store.deleteConsent(tenantId, userId, c.clientId);
        await this.#revokeFamilies(tenantId, userId, c.clientId);
      }),
    );
    return all.length;
  }

  /**
   * Forgets every consent to a deleted client, in every tenant, and revokes the families of those
   * users with it; returns how many consents. Consents granted before consents were indexed by
   * client are not found (they stay, unused: the client no longer exists).
   */
  async deleteForClient(clientId: string): Promise<number> {
    if (!CLIENT_ID_RE.test(clientId)) return 0;
    const all = await this.#d.store.listClientConsents(clientId);
    // A bounded number at a time (a multi-tenant client may have many), each fully done before
    // the next batch; a failure stops here, and a retry finds what is left.
    for (let i = 0; i < all.length; i += CLEANUP_BATCH) {
      await Promise.all(
        all.slice(i, i + CLEANUP_BATCH).map(async (c) => {
          await this.#revokeFamilies(c.tenantId, c.userId, clientId);
          await this.#d.store.deleteConsent(c.tenantId, c.userId, clientId);
        }),
      );
    }
    return all.length;
  }

  async #revokeFamilies(tenantId: string, userId: string, clientId: string): Promise<number> {
    const now = this.#d.clock.now();
    const live = (await this.#d.store.listUserFamilies(tenantId, userId, clientId)).filter(
      (f) => f.revokedAt === undefined && f.expiresAt > now,
    );
    await Promise.all(live.map((f) => this.#d.store.revokeFamily(f.id, now)));
    return live.length;
  }
}
