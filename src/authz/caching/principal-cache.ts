/**
 * Remembers authenticated credentials for a few seconds, so a check does not pay the credential
 * lookups (an API key is two reads of the platform table) on every request. Keyed by the SHA-256 of
 * the `Authorization` header, never the credential itself; only successes are remembered, so a
 * wrong key is looked up (and refused) every time. The price: a revoked key, or a key of a tenant
 * just deleted, keeps working in a warm container for at most `ttlMs`.
 */
import { createHash } from "node:crypto";
import type { Authenticator, Principal } from "../../http/types.ts";
import type { Clock } from "../../shared/clock.ts";

export interface PrincipalCacheStats {
  hits: number;
  misses: number;
}

export function cachingAuthenticator(
  inner: Authenticator,
  options: { ttlMs: number; clock: Clock; maxEntries?: number; stats?: PrincipalCacheStats },
): Authenticator {
  if (options.ttlMs <= 0) return inner;
  const max = options.maxEntries ?? 10_000;
  const entries = new Map<string, { principal: Principal; until: number }>();
  const stats = options.stats ?? { hits: 0, misses: 0 };
  return {
    async authenticate(req) {
      const header = req.headers.authorization;
      if (!header) return inner.authenticate(req);
      const key = createHash("sha256").update(header).digest("base64url");
      const now = options.clock.now();
      const e = entries.get(key);
      if (e !== undefined && e.until > now) {
        stats.hits++;
        return e.principal;
      }
      stats.misses++;
      const principal = await inner.authenticate(req);
      if (principal) {
        if (entries.size >= max) {
          const oldest = entries.keys().next();
          if (!oldest.done) entries.delete(oldest.value);
        }
        entries.delete(key);
        entries.set(key, { principal, until: now + options.ttlMs });
      } else entries.delete(key);
      return principal;
    },
  };
}
