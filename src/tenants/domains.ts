/**
 * Email domains of tenants: the platform admin lets a tenant claim domains (`acme.com`), and the
 * sign-in of multi-tenant applications routes `someone@acme.com` to that tenant (home-realm
 * discovery). A domain belongs to at most one tenant. Claims are a platform decision: there is no
 * DNS verification, so only the platform admin may change them (docs/SIGNIN.md).
 *
 * Domains are stored in their ASCII (IDNA / punycode) form, lowercase, without a trailing dot:
 * `Bücher.Example` and `xn--bcher-kva.example` are the same domain.
 */
import { domainToASCII } from "node:url";
import type { Clock } from "../shared/clock.ts";
import { notFound, validationError } from "../shared/errors.ts";
import { ULID_RE } from "../shared/ids.ts";
import type { TenantDomainStore, TenantStore } from "./ports.ts";

/** Most domains one tenant may hold (one transaction claims and releases them together). */
export const MAX_TENANT_DOMAINS = 25;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters that URL host parsing would decode, drop or treat as structure: never in a domain. */
const FORBIDDEN = /[\s\p{Cc}%/\\@:?#[\]*<>|^"'`{}!$&()+,;=~]/u;

/**
 * The normalised (lowercase ASCII, IDNA-mapped) form of a domain name, or undefined when it is not
 * a valid registrable-looking host name: at least two labels, each 1–63 letters, digits or hyphens
 * (no hyphen at either end), 253 characters at most, a top-level label that is not all digits (no
 * IP addresses), no wildcards, well-formed punycode (`xn--`) labels.
 */
export function normalizeDomain(input: string): string | undefined {
  const raw = input.trim();
  if (raw.length === 0 || raw.length > 253 || FORBIDDEN.test(raw)) return undefined;
  const ascii = domainToASCII(raw.endsWith(".") ? raw.slice(0, -1) : raw).toLowerCase();
  if (!ascii || ascii.length > 253) return undefined;
  const labels = ascii.split(".");
  if (labels.length < 2) return undefined;
  for (const l of labels) {
    if (!LABEL.test(l)) return undefined;
    // Hyphens in the 3rd and 4th position are reserved for A-labels (IDNA 2008, RFC 5891 §4.2.3.1).
    if (l.slice(2, 4) === "--" && !l.startsWith("xn--")) return undefined;
  }
  if (/^[0-9]+$/.test(labels.at(-1)!)) return undefined;
  return ascii;
}

/** The normalised domain of an email address, or undefined when there is none. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf("@");
  if (at < 1 || at === email.length - 1) return undefined;
  return normalizeDomain(email.slice(at + 1));
}

/** Options of {@link TenantDomainService}. */
export interface TenantDomainServiceDeps {
  readonly store: TenantDomainStore;
  readonly tenants: TenantStore;
  readonly clock: Clock;
}

/** Domain claims and their lookup. */
export class TenantDomainService {
  readonly #d: TenantDomainServiceDeps;

  constructor(d: TenantDomainServiceDeps) {
    this.#d = d;
  }

  async #tenant(tenantId: string) {
    // Tenant ids are ULIDs: anything else (e.g. an oversized path parameter) is not found.
    if (!ULID_RE.test(tenantId)) throw notFound("Tenant not found.");
    const t = await this.#d.tenants.getTenant(tenantId);
    if (!t) throw notFound("Tenant not found.");
    return t;
  }

  /** The tenant's domains (`not_found` for an unknown tenant). */
  async list(tenantId: string): Promise<string[]> {
    await this.#tenant(tenantId);
    return this.#d.store.listTenantDomains(tenantId);
  }

  /**
   * Replaces the tenant's domains. Every entry is validated first (`validation` listing each bad
   * one), then all are claimed at once (`conflict` when another tenant holds one). A deleted tenant
   * may only release its domains (an empty list).
   */
  async set(tenantId: string, input: readonly string[]): Promise<string[]> {
    const t = await this.#tenant(tenantId);
    const problems: { path: string; message: string }[] = [];
    const domains = new Set<string>();
    input.forEach((d, i) => {
      const n = normalizeDomain(d);
      if (n === undefined)
        problems.push({ path: `/domains/${i}`, message: "must be a domain name such as example.com" });
      else domains.add(n);
    });
    if (problems.length > 0) throw validationError("The domains are invalid.", problems);
    if (domains.size > MAX_TENANT_DOMAINS)
      throw validationError(`A tenant may hold at most ${MAX_TENANT_DOMAINS} domains.`);
    if (t.deletedAt !== undefined && domains.size > 0) throw notFound("Tenant not found.");
    const sorted = [...domains].sort();
    await this.#d.store.setTenantDomains(tenantId, sorted, this.#d.clock.now());
    return sorted;
  }

  /**
   * The ACTIVE tenant that claimed the domain of `email`, or undefined (no domain, unclaimed, or
   * the tenant is deleted) — without saying which.
   */
  async tenantOfEmail(email: string): Promise<string | undefined> {
    const domain = emailDomain(email);
    if (!domain) return undefined;
    const tenantId = await this.#d.store.findDomainTenant(domain);
    if (!tenantId) return undefined;
    const t = await this.#d.tenants.getTenant(tenantId);
    return t && t.deletedAt === undefined ? tenantId : undefined;
  }

  /** True when `tenantId` names an active tenant (the `organization` parameter). */
  async isActive(tenantId: string): Promise<boolean> {
    const t = await this.#d.tenants.getTenant(tenantId);
    return t !== undefined && t.deletedAt === undefined;
  }
}
