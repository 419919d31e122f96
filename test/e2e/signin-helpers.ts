/**
 * A minimal cookie-keeping "browser" over fetch (no redirects followed, so every hop is visible),
 * helpers for the hosted sign-in pages, and the platform, admin API and relying-party setup shared
 * by the sign-in e2e tests.
 */
import { createHash, randomBytes } from "node:crypto";
import * as oidc from "openid-client";
import { expect } from "vitest";
import {
  type LocalPlatform,
  type LocalPlatformOptions,
  startLocalPlatform,
} from "../../functions/_shared/platform.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";

export const PASSWORD = "correct horse battery staple";
export const CB = "http://127.0.0.1:1/callback";
export const AFTER_LOGOUT = "http://127.0.0.1:1/signed-out";
/** The scope the openid-client tests ask for by default. */
export const SCOPE = "openid profile email offline_access";

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, inspected by the assertions
export type Json = Record<string, any>;

/**
 * Starts the local platform on a free port, unseeded and silent, with `adminKey` and a low scrypt
 * cost (production's default is 2^17, docs/SIGNIN.md); on DynamoDB Local in fresh tables named
 * `${tablePrefix}-<random>`. `env` adds to (or overrides) the environment.
 */
export async function startPlatform(
  store: "memory" | "dynamodb",
  opts: Omit<LocalPlatformOptions, "env"> & {
    adminKey: string;
    tablePrefix: string;
    env?: NodeJS.ProcessEnv;
  },
): Promise<LocalPlatform> {
  const { adminKey, tablePrefix, env: extra, ...options } = opts;
  const env: NodeJS.ProcessEnv = {
    PORTCULLIS_ADMIN_KEY: adminKey,
    PORTCULLIS_STORE: store,
    PORTCULLIS_LOG_LEVEL: "silent",
    PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
    PORTCULLIS_PASSWORD_SCRYPT_LN: "12",
    ...extra,
  };
  if (store === "dynamodb") {
    env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
    env.PORTCULLIS_TABLE_PREFIX = `${tablePrefix}-${Math.random().toString(36).slice(2, 10)}`;
  }
  return startLocalPlatform({
    env,
    port: 0,
    seed: false,
    log: createLogger({ level: "silent" }),
    ...options,
  });
}

/** A JSON call of a platform's API with a bearer credential (`adminKey` unless given). */
export type AdminCall = ReturnType<typeof adminOf>;

/** JSON calls of one platform's admin (and audit) API, as the platform admin or with any bearer. */
export function adminOf(p: LocalPlatform, adminKey: string) {
  return async (method: string, path: string, body?: unknown, bearer = adminKey) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      body: (text ? JSON.parse(text) : {}) as Json,
    };
  };
}

/** Creates a user with `PASSWORD` (asserting 201); returns its JSON. */
export async function createUser(
  admin: AdminCall,
  tenantId: string,
  email: string,
  name: string,
): Promise<Json> {
  const r = await admin("POST", `/admin/v1/tenants/${tenantId}/users`, { email, name, password: PASSWORD });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/** Registers a client: authorization code + refresh token, redirecting to `CB`, unless `body` says otherwise. */
export const postClient = (admin: AdminCall, tenantId: string, body: Json, bearer?: string) =>
  admin(
    "POST",
    `/admin/v1/tenants/${tenantId}/clients`,
    { grant_types: ["authorization_code", "refresh_token"], redirect_uris: [CB], ...body },
    bearer,
  );

/** The audit events of a tenant of one type. */
export const auditEvents = async (admin: AdminCall, tenantId: string, type: string) =>
  (await admin("GET", `/audit/v1/events?tenant=${tenantId}&type=${type}`)).body.events as Json[];

/** The `authorization: Basic …` value of a confidential client. */
export const basicAuth = (c: Json) =>
  `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`;

/** The userinfo status of an access token. */
export const userinfoStatus = async (base: string, token: string) =>
  (await fetch(`${base}/oauth/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

const insecure = { execute: [oidc.allowInsecureRequests] };

/** openid-client's configuration of a client of the platform at `base` (public or confidential). */
export const relyingParty = (base: string, c: Json) =>
  oidc.discovery(
    new URL(base),
    c.client_id,
    undefined,
    c.client_secret ? oidc.ClientSecretBasic(c.client_secret) : oidc.None(),
    insecure,
  );

/** An authorization request with PKCE (S256), state and nonce, to `CB` for `SCOPE` unless `extra` says otherwise. */
export async function authRequest(config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CB,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  return { url: url.toString(), verifier, state, nonce };
}

/** Redeems the code of a callback `location` with openid-client, checking the request's PKCE, state and nonce. */
export const redeemCallback = (
  config: oidc.Configuration,
  location: string | undefined,
  a: { verifier: string; state: string; nonce: string },
  idTokenExpected?: true,
) =>
  oidc.authorizationCodeGrant(config, new URL(location!), {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
    ...(idTokenExpected ? { idTokenExpected } : {}),
  });

/** Signs in through the pages with `PASSWORD` (asserting the redirect) and redeems the code, expecting an ID token. */
export async function signInAndRedeem(
  b: FormBrowser,
  config: oidc.Configuration,
  email: string,
  extra: Record<string, string> = {},
) {
  const a = await authRequest(config, extra);
  const done = await signIn(b, a.url, email, PASSWORD);
  expect(done.status, done.body).toBe(303);
  const tokens = await redeemCallback(config, done.location, a, true);
  return { tokens, a, callback: done.location! };
}

/** A raw authorization URL with PKCE (S256) and a random state, and its verifier (no openid-client). */
export function pkceAuthorizeUrl(clientId: string, scope: string, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString("base64url");
  const q = new URLSearchParams({
    client_id: clientId,
    redirect_uri: CB,
    response_type: "code",
    scope,
    state: randomBytes(8).toString("hex"),
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...extra,
  });
  return { url: `/oauth/authorize?${q}`, verifier };
}

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

/** Opens an authorization URL and the email page it leads to (no assertions); returns that page. */
export async function emailPage(b: FormBrowser, authorizationUrl: string): Promise<Hop> {
  const start = await b.get(authorizationUrl);
  return b.get(start.location!);
}
