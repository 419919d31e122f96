/**
 * A minimal cookie-keeping "browser" over fetch (no redirects followed, so every hop is visible)
 * and helpers for the hosted sign-in pages, shared by the sign-in e2e tests.
 */
import { expect } from "vitest";

export interface Hop {
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
  readonly headers: Headers;
  readonly setCookies: string[];
}

export class FormBrowser {
  readonly jar = new Map<string, string>();
  readonly base: string;
  /** Sent as `user-agent` when set (tests label the requests of one step with it). */
  userAgent: string | undefined;

  constructor(base: string) {
    this.base = base;
  }

  #url = (u: string) => (u.startsWith("http") ? u : `${this.base}${u}`);

  async #send(url: string, init: RequestInit): Promise<Hop> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(this.#url(url), {
      ...init,
      redirect: "manual",
      headers: {
        ...(init.headers as Record<string, string>),
        ...(cookie ? { cookie } : {}),
        ...(this.userAgent ? { "user-agent": this.userAgent } : {}),
      },
    });
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair, ...attrs] = c.split(/;\s*/);
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (attrs.some((a) => /^max-age=0$/i.test(a)) || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return {
      status: res.status,
      location: res.headers.get("location") ?? undefined,
      body: await res.text(),
      headers: res.headers,
      setCookies,
    };
  }

  get(url: string): Promise<Hop> {
    return this.#send(url, { method: "GET" });
  }

  post(url: string, form: Record<string, string>): Promise<Hop> {
    return this.#send(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
  }
}

const decode = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&");

/** The hidden inputs of the first form of a page. */
export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    out[decode(m[1]!)] = decode(m[2]!);
  return out;
}

/** Follows /oauth/authorize through the email and password steps; returns the final hop. */
export async function signIn(
  b: FormBrowser,
  authorizationUrl: string,
  email: string,
  password: string,
): Promise<Hop> {
  const start = await b.get(authorizationUrl);
  expect(start.status, start.body).toBe(303);
  expect(start.location).toMatch(/^\/oauth\/login\?tx=/);
  const emailPage = await b.get(start.location!);
  expect(emailPage.status).toBe(200);
  const pwPage = await b.post("/oauth/login", { ...hiddenFields(emailPage.body), email });
  expect(pwPage.status, pwPage.body).toBe(200);
  return b.post("/oauth/login", { ...hiddenFields(pwPage.body), password });
}
