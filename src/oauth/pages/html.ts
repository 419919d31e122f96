/**
 * Server-rendered hosted pages: sign-in (email, then password), consent, sign-out confirmation,
 * errors. No scripts; one inline stylesheet allowed by its hash; a strict CSP (`default-src 'none'`,
 * `form-action` limited to this origin and, where a form's response redirects there, the relying
 * party's origin, `frame-ancestors 'none'`). Every value is HTML-escaped. Each step is its own
 * page, so later steps (MFA, passkeys, SSO redirect after the email step) slot in between.
 */
import { createHash } from "node:crypto";
import type { HttpResponse } from "../../http/types.ts";

const CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px #0003}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #8a8f98;border-radius:.25rem}
button{margin-top:1rem;padding:.6rem 1rem;font-size:1rem;border:0;border-radius:.25rem;background:#1f5fd1;color:#fff;cursor:pointer}
button.secondary{background:#e3e5e8;color:#1b1d21}.error{background:#fdecea;color:#8a1c12;padding:.5rem .75rem;border-radius:.25rem}
ul{padding-left:1.25rem}:focus-visible{outline:3px solid #f0b400;outline-offset:2px}`;
const CSS_HASH = `sha256-${createHash("sha256").update(CSS).digest("base64")}`;

/** HTML-escapes text and attribute values. */
export const esc = (s: string): string => s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Content-Security-Policy of a page whose forms may end in a redirect to `formTargets`. */
export function csp(formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `style-src '${CSS_HASH}'`,
    "img-src 'self'",
    `form-action 'self'${formTargets.map((t) => ` ${t}`).join("")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** A full page response with the security headers. */
export function page(
  status: number,
  title: string,
  body: string,
  options: { formTargets?: readonly string[]; cookie?: string } = {},
): HttpResponse {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`;
  return {
    statusCode: status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": csp(options.formTargets),
      "cache-control": "no-store",
      pragma: "no-cache",
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      ...(options.cookie ? { "set-cookie": options.cookie } : {}),
    },
    body: html,
  };
}

const hidden = (fields: Record<string, string | undefined>): string =>
  Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v!)}">`)
    .join("");

const alert = (message: string | undefined) =>
  message ? `<p class="error" role="alert" id="form-error">${esc(message)}</p>` : "";

/** Step 1: email. */
export function emailStep(o: {
  action: string;
  tx: string;
  csrf: string;
  clientName: string;
  email?: string;
  error?: string;
}): string {
  return `<h1>Sign in</h1><p>to continue to ${esc(o.clientName)}</p>${alert(o.error)}
<form method="post" action="${esc(o.action)}" novalidate>${hidden({ tx: o.tx, csrf: o.csrf, step: "email" })}
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="${esc(o.email ?? "")}"${o.error ? ' aria-describedby="form-error"' : ""}>
<button type="submit">Continue</button></form>`;
}

/** Step 2: password (MFA and passkeys would follow as further steps). */
export function passwordStep(o: {
  action: string;
  tx: string;
  csrf: string;
  clientName: string;
  email: string;
  error?: string;
}): string {
  return `<h1>Enter your password</h1><p>Signing in as <strong>${esc(o.email)}</strong> to ${esc(o.clientName)}</p>${alert(o.error)}
<form method="post" action="${esc(o.action)}">${hidden({ tx: o.tx, csrf: o.csrf, step: "password", email: o.email })}
<input type="email" name="username" value="${esc(o.email)}" autocomplete="username" hidden>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus${o.error ? ' aria-describedby="form-error"' : ""}>
<button type="submit">Sign in</button></form>`;
}

/** Human descriptions of scopes on the consent page. */
const SCOPE_TEXT: Record<string, string> = {
  openid: "Know who you are",
  profile: "See your name",
  email: "See your email address",
  offline_access: "Stay signed in to the application when you are away (refresh tokens)",
};

/** Consent for a third-party client. */
export function consentStep(o: {
  action: string;
  tx: string;
  csrf: string;
  clientName: string;
  scopes: readonly string[];
  /** Scopes of the request the user allowed before (remembered consent): listed as a note. */
  granted?: readonly string[];
}): string {
  const items = o.scopes.map((s) => `<li>${esc(SCOPE_TEXT[s] ?? s)} <code>${esc(s)}</code></li>`).join("");
  const before = o.granted?.length
    ? `<p>You already allowed: ${o.granted.map((s) => `<code>${esc(s)}</code>`).join(" ")}</p>`
    : "";
  return `<h1>Allow access?</h1><p><strong>${esc(o.clientName)}</strong> wants to:</p><ul>${items}</ul>${before}
<form method="post" action="${esc(o.action)}">${hidden({ tx: o.tx, csrf: o.csrf })}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>`;
}

/** Sign-out confirmation. */
export function logoutStep(o: {
  action: string;
  csrf: string;
  fields: Record<string, string | undefined>;
}): string {
  return `<h1>Sign out?</h1><p>You will be signed out of every application that uses this sign-in.</p>
<form method="post" action="${esc(o.action)}">${hidden({ ...o.fields, csrf: o.csrf })}
<button type="submit">Sign out</button></form>`;
}

/** A message page (errors, signed out). */
export function message(title: string, text: string): string {
  return `<h1>${esc(title)}</h1><p>${esc(text)}</p>`;
}
