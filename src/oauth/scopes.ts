/**
 * Scopes (RFC 6749 §3.3) and audiences (RFC 8707 resource indicators, RFC 8693 `audience`).
 */
import { OAuthError } from "./errors.ts";
import { PLATFORM_SCOPES, type PlatformScope } from "./model.ts";

/** scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const MAX_SCOPES = 64;

/** Splits a scope string into distinct tokens in first-seen order; `invalid_scope` when malformed. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined) return [];
  const parts = value.split(" ");
  for (const p of parts)
    if (!SCOPE_TOKEN.test(p)) throw new OAuthError("invalid_scope", "The scope is malformed.");
  if (parts.length === 1) return parts;
  const out = [...new Set(parts)];
  if (out.length > MAX_SCOPES) throw new OAuthError("invalid_scope", "Too many scopes.");
  return out;
}

/**
 * The scopes to grant: the requested ones if every one is allowed (`invalid_scope` otherwise), or
 * all allowed ones when none were requested (RFC 6749 §3.3 default).
 */
export function grantScopes(requested: readonly string[], allowed: readonly string[]): string[] {
  if (requested.length === 0) return [...allowed];
  // Lists of a few scopes: a linear search is cheaper than building a Set for each request.
  const ok = allowed.length > 8 ? new Set(allowed) : undefined;
  for (const s of requested)
    if (ok ? !ok.has(s) : !allowed.includes(s))
      throw new OAuthError("invalid_scope", "The requested scope exceeds what this client may get.");
  return [...requested];
}

/** API permissions carried by a token's scopes: the platform scopes among them. */
export function permissionsOf(scope: string | undefined): PlatformScope[] {
  const known = new Set<string>(PLATFORM_SCOPES);
  return (scope ?? "").split(" ").filter((s): s is PlatformScope => known.has(s));
}

const MAX_AUDIENCES = 4;

/** RFC 8707 §2: a resource is an absolute URI without a fragment. */
export function isResourceIndicator(v: string): boolean {
  if (v.length > 256 || v.includes("#")) return false;
  try {
    return new URL(v).protocol.length > 1;
  } catch {
    return false;
  }
}

/**
 * Audiences to grant from `resource` and `audience` parameters: each must be registered for the
 * client (`invalid_target` otherwise); none requested means the client's default (its first).
 */
export function grantAudiences(
  resources: readonly string[],
  audienceParams: readonly string[],
  allowed: readonly string[],
): string[] {
  if (resources.length === 0 && audienceParams.length === 0) {
    // None requested (the usual case): the client's default.
    const first = allowed[0];
    if (first === undefined)
      throw new OAuthError("invalid_target", "This client has no audience to request.");
    return [first];
  }
  for (const r of resources)
    if (!isResourceIndicator(r))
      throw new OAuthError("invalid_target", "A resource must be an absolute URI without a fragment.");
  for (const a of audienceParams)
    if (a.length > 256 || /\p{Cc}/u.test(a))
      throw new OAuthError("invalid_target", "An audience is malformed.");
  const requested = [...new Set([...resources, ...audienceParams])];
  if (requested.length > MAX_AUDIENCES) throw new OAuthError("invalid_target", "Too many audiences.");
  const ok = new Set(allowed);
  if (requested.some((r) => !ok.has(r)))
    throw new OAuthError("invalid_target", "The requested audience is not registered for this client.");
  return requested;
}
