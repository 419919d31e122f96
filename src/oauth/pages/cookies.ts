/**
 * Cookies of the hosted pages. On an https issuer they are `__Host-` cookies (`Secure`, `Path=/`,
 * no `Domain`); all are `HttpOnly` and `SameSite=Lax` (the session must reach `/oauth/authorize` on
 * the top-level navigation from the relying party; every state-changing POST also carries a CSRF
 * token). The local platform on plain http drops `Secure` (browsers and cookie jars would not send
 * it back over http) and the `__Host-` prefix that requires it.
 */
import type { HttpRequest } from "../../http/types.ts";

/** Names and attributes for one issuer. */
export interface CookieJar {
  readonly session: string;
  readonly transaction: string;
  /** `Set-Cookie` value. `maxAge` 0 deletes. */
  set(name: string, value: string, maxAgeSeconds: number): string;
  /** The value of a request cookie. */
  get(req: HttpRequest, name: string): string | undefined;
}

export function cookieJar(issuer: string): CookieJar {
  const secure = issuer.startsWith("https:");
  const prefix = secure ? "__Host-" : "";
  return {
    session: `${prefix}pcl_session`,
    transaction: `${prefix}pcl_tx`,
    set: (name, value, maxAge) =>
      `${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`,
    get(req, name) {
      const header = req.headers.cookie;
      if (!header) return undefined;
      for (const part of header.split(/;\s*/)) {
        const i = part.indexOf("=");
        if (i > 0 && part.slice(0, i) === name) return part.slice(i + 1);
      }
      return undefined;
    },
  };
}
