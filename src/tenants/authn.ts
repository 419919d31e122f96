import { bearerToken } from "../http/router.ts";
import type { Authenticator } from "../http/types.ts";
import { constantTimeEqual, hashSecret } from "../shared/ids.ts";
import { API_KEY_PREFIX, type TenantService } from "./service.ts";

/** Every tenant permission; API keys carry all of them (scoped tokens come with the token service). */
export const TENANT_SCOPES = [
  "authz:read",
  "authz:write",
  "authz:check",
  "audit:read",
  "tenant:admin",
] as const;

/**
 * The platform admin credential: one preshared key from configuration (`PORTCULLIS_ADMIN_KEY`
 * locally, a Secrets Manager secret in AWS). Compared by hash in constant time. No key configured
 * means no platform admin access at all.
 */
export function platformKeyAuthenticator(adminKey: string | undefined): Authenticator {
  const expected = adminKey ? hashSecret(adminKey) : undefined;
  return {
    async authenticate(req) {
      const token = bearerToken(req);
      if (!expected || !token || token.startsWith(API_KEY_PREFIX)) return undefined;
      return constantTimeEqual(hashSecret(token), expected)
        ? { kind: "platform", credentialId: "admin-key" }
        : undefined;
    },
  };
}

/** Per-tenant API keys (`pcl_…`), looked up by hash. */
export function apiKeyAuthenticator(tenants: TenantService): Authenticator {
  return {
    async authenticate(req) {
      const token = bearerToken(req);
      if (!token?.startsWith(API_KEY_PREFIX)) return undefined;
      const record = await tenants.verifyApiKey(token);
      return record
        ? { kind: "tenant", tenantId: record.tenantId, credentialId: record.id, scopes: [...TENANT_SCOPES] }
        : undefined;
    },
  };
}
