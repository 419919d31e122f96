/**
 * The authorization-code replay race (issue 6: "a reused code gets invalid_grant and revokes what it
 * issued"), forced deterministically on the local platform (memory store and DynamoDB Local): a
 * wrapper around the sign-in store pauses the first redemption at a chosen step while a replay of
 * the same code runs to completion, then lets the first one finish. Whatever the first redemption
 * hands out afterwards must already be dead: refresh → invalid_grant, introspection → inactive,
 * userinfo → 401.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import type { SignInStore } from "../../src/sessions/ports.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";
import { FormBrowser, signIn } from "./signin-helpers.ts";

const ADMIN = "admin-key-for-code-race-e2e";
const PASSWORD = "correct horse battery staple";
const CB = "http://127.0.0.1:1/callback";

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, inspected by the assertions
type Json = Record<string, any>;

/** Where the first redemption waits: right after the code is spent, or after the family exists. */
type PausePoint = "redeemCode" | "createFamily";

/** A latch: the wrapped store step signals `reached` and waits for `release`. */
class Pause {
  point: PausePoint | undefined;
  #reached!: () => void;
  #release!: () => void;
  reached!: Promise<void>;
  #released!: Promise<void>;

  arm(point: PausePoint): void {
    this.point = point;
    this.reached = new Promise((r) => {
      this.#reached = r;
    });
    this.#released = new Promise((r) => {
      this.#release = r;
    });
  }

  /** Called by the store wrapper after `point` ran: pauses once per arming. */
  async hit(point: PausePoint): Promise<void> {
    if (this.point !== point) return;
    this.point = undefined;
    this.#reached();
    await this.#released;
  }

  release(): void {
    this.#release();
  }
}

/** The store with a pause after the first successful `redeemCode` / after `createFamily`. */
function pausing(store: SignInStore, pause: Pause): SignInStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (prop === "redeemCode")
        return async (...args: unknown[]) => {
          const r = (await fn.apply(target, args)) as { first: boolean } | undefined;
          if (r?.first) await pause.hit("redeemCode");
          return r;
        };
      if (prop === "createFamily")
        return async (...args: unknown[]) => {
          await fn.apply(target, args);
          await pause.hit("createFamily");
        };
      return fn.bind(target);
    },
  });
}

describe.each(["memory", "dynamodb"] as const)("authorization code replay race (store %s)", (store) => {
  let p: LocalPlatform;
  let tenantId: string;
  let client: Json;
  const pause = new Pause();

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
  };
  const post = async (path: string, form: Record<string, string>) => {
    const res = await fetch(`${p.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  /** Signs in through the pages; returns a fresh code and its PKCE verifier. */
  const freshCode = async () => {
    const verifier = randomBytes(32).toString("base64url");
    const q = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: CB,
      response_type: "code",
      scope: "openid email offline_access",
      state: randomBytes(8).toString("hex"),
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    });
    const done = await signIn(new FormBrowser(p.url), `/oauth/authorize?${q}`, "race@acme.test", PASSWORD);
    expect(done.status, done.body).toBe(303);
    const code = new URL(done.location!).searchParams.get("code");
    expect(code).toBeTruthy();
    return { code: code!, verifier };
  };

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_STORE: store,
      PORTCULLIS_LOG_LEVEL: "silent",
      PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
      PORTCULLIS_PASSWORD_SCRYPT_LN: "12",
    };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      env.PORTCULLIS_TABLE_PREFIX = `e2e-race-${Math.random().toString(36).slice(2, 10)}`;
    }
    p = await startLocalPlatform({
      env,
      port: 0,
      seed: false,
      log: createLogger({ level: "silent" }),
      wrapSignInStore: (s) => pausing(s, pause),
    });
    tenantId = (await admin("POST", "/admin/v1/tenants", { name: "acme" })).body.id;
    const u = await admin("POST", `/admin/v1/tenants/${tenantId}/users`, {
      email: "race@acme.test",
      name: "Racer",
      password: PASSWORD,
    });
    expect(u.status).toBe(201);
    const c = await admin("POST", `/admin/v1/tenants/${tenantId}/clients`, {
      client_name: "Console",
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: [CB],
      scope: "openid email offline_access",
    });
    expect(c.status).toBe(201);
    client = c.body;
    expect(client.client_secret).toBeTruthy();
  });
  afterAll(async () => {
    await p?.close();
  });

  it.each([
    ["right after the code is spent, before anything is issued", "redeemCode"],
    ["after the refresh family was created, before the response", "createFamily"],
  ] as const)("a replay while the first redemption is paused %s revokes its tokens", async (_, point) => {
    const { code, verifier } = await freshCode();
    const form = { grant_type: "authorization_code", code, redirect_uri: CB, code_verifier: verifier };
    pause.arm(point);
    const first = post("/oauth/token", form);
    await pause.reached; // the first redemption holds the code and waits
    const replay = await post("/oauth/token", form);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    pause.release();
    const issued = await first;
    // The first redemption completes (it won the code), but what it hands out is already revoked.
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    expect(issued.body.refresh_token).toMatch(/^pcr_/);
    const refresh = await post("/oauth/token", {
      grant_type: "refresh_token",
      refresh_token: issued.body.refresh_token,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe("invalid_grant");
    const introspected = await post("/oauth/introspect", { token: issued.body.access_token });
    expect(introspected.status).toBe(200);
    expect(introspected.body).toEqual({ active: false });
    const userinfo = await fetch(`${p.url}/oauth/userinfo`, {
      headers: { authorization: `Bearer ${issued.body.access_token}` },
    });
    expect(userinfo.status).toBe(401);
  });

  it("without a replay the same code's tokens live (the pause itself changes nothing)", async () => {
    const { code, verifier } = await freshCode();
    pause.arm("redeemCode");
    const first = post("/oauth/token", {
      grant_type: "authorization_code",
      code,
      redirect_uri: CB,
      code_verifier: verifier,
    });
    await pause.reached;
    pause.release();
    const issued = await first;
    expect(issued.status).toBe(200);
    expect((await post("/oauth/introspect", { token: issued.body.access_token })).body.active).toBe(true);
    const refresh = await post("/oauth/token", {
      grant_type: "refresh_token",
      refresh_token: issued.body.refresh_token,
    });
    expect(refresh.status).toBe(200);
  });
});
