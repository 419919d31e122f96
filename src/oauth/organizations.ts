/**
 * Which tenant an authorization request signs the user in to (docs/SIGNIN.md "Which tenant").
 *
 * - A single-tenant client (the default): always its own tenant. `login_hint` only pre-fills the
 *   email; an `organization` parameter naming another tenant is refused.
 * - A multi-tenant client (`organization_usage: require`), in order: the `organization` parameter
 *   (a tenant id), the `login_hint`'s email domain, or — at the email step — the entered email's
 *   domain (home-realm discovery). Only a session of the chosen tenant satisfies the request; with
 *   no hint at all, the browser's session (of whichever tenant) does.
 */
import type { HttpRequest, HttpResponse } from "../http/types.ts";
import type { Interaction, Session } from "../sessions/model.ts";
import type { OAuthClient } from "./model.ts";
import type { SignInContext } from "./signin-deps.ts";

const TENANT_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** The answer on the email page when no organization holds the email's domain (no enumeration). */
export const ORGANIZATION_NOT_FOUND =
  "We couldn't find your organization. Check the email address, or ask your administrator for your organization's sign-in link.";

/** True for a multi-tenant client. */
export const isMultiTenant = (c: OAuthClient): boolean => c.organizationUsage === "require";

/** The tenant of an authorization request, as far as it is known at `/oauth/authorize`. */
export type TenantChoice =
  /** Decided: only a session of this tenant counts. */
  | {
      readonly kind: "fixed";
      readonly tenantId: string;
      readonly from: "client" | "organization" | "login_hint";
    }
  /** Multi-tenant, nothing named: a session of any tenant counts; otherwise the email step decides. */
  | { readonly kind: "open" }
  /** Multi-tenant, the login_hint names no organization: no session counts; the email step decides. */
  | { readonly kind: "unmatched_hint" };

/** Chooses the tenant of a validated authorization request; an error response for a bad `organization`. */
export async function chooseTenant(
  x: SignInContext,
  client: OAuthClient,
  q: Readonly<Record<string, string>>,
  params: Readonly<Record<string, string>>,
  req: HttpRequest,
): Promise<{ ok: true; choice: TenantChoice } | { ok: false; res: HttpResponse }> {
  const org = q.organization;
  const badOrg = () => ({
    ok: false as const,
    res: x.errorRedirect(
      params,
      "invalid_request",
      "The organization parameter is not valid for this client.",
    ),
  });
  if (!isMultiTenant(client)) {
    if (org !== undefined && org !== client.tenantId) return badOrg();
    return { ok: true, choice: { kind: "fixed", tenantId: client.tenantId, from: "client" } };
  }
  if (org !== undefined) {
    // Unknown, malformed and deleted tenants look the same.
    if (!TENANT_ID.test(org) || !(await x.d.organizations?.isActive(org))) return badOrg();
    return { ok: true, choice: { kind: "fixed", tenantId: org, from: "organization" } };
  }
  const hint = params.login_hint;
  if (hint === undefined) return { ok: true, choice: { kind: "open" } };
  // A hint that is no email names nobody we can route: like an unclaimed domain, no session
  // answers for it (the hint says who should sign in, and nothing confirms it is the session's user).
  if (!hint.includes("@")) return { ok: true, choice: { kind: "unmatched_hint" } };
  // A home-realm lookup: counted like an email-step submission; when over the limit the lookup is
  // skipped (the email step then answers 429).
  const limited = x.d.emailStepLimiter ? (await x.d.emailStepLimiter.hit(req.sourceIp)).waitMs > 0 : false;
  const tenantId = limited ? undefined : await x.d.organizations?.tenantOfEmail(hint);
  return {
    ok: true,
    choice: tenantId ? { kind: "fixed", tenantId, from: "login_hint" } : { kind: "unmatched_hint" },
  };
}

/** Whether a session may answer a request with this tenant choice (sessions are tenant-bound). */
export function sessionFits(s: Session, choice: TenantChoice): boolean {
  if (choice.kind === "fixed") return s.tenantId === choice.tenantId;
  return choice.kind === "open";
}

/**
 * The tenant fields of a new login transaction: decided, or `""` until the email step. A fixed
 * choice stays pinned with its origin even when the browser's session answered the request (a
 * session only fits a fixed choice of its own tenant): a transaction of `organization=B` must never
 * run discovery, even if its email step is posted during the consent interaction.
 */
export function interactionTenant(
  choice: TenantChoice,
  session?: Session,
): Pick<Interaction, "tenantId" | "tenantFrom"> {
  if (choice.kind === "fixed") return { tenantId: choice.tenantId, tenantFrom: choice.from };
  if (session) return { tenantId: session.tenantId, tenantFrom: "session" };
  return { tenantId: "" };
}
