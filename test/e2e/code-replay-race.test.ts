/**
 * The authorization-code replay race (issue 6: "a reused code gets invalid_grant and revokes what it
 * issued"), forced deterministically on the local platform (memory store and DynamoDB Local): a
 * wrapper around the sign-in store pauses the first redemption at a chosen step while a replay of
 * the same code runs to completion, then lets the first one finish. Whatever the first redemption
 * hands out afterwards must already be dead: refresh → invalid_grant, introspection → inactive,
 * userinfo → 401.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalPlatform } from "../../functions/_shared/platform.ts";
import type { SignInStore } from "../../src/sessions/ports.ts";
import {
  type AdminCall,
  adminOf,
  basicAuth,
  CB,
  createUser,
  FormBrowser,
  type Json,
  PASSWORD,
  pkceAuthorizeUrl,
  postClient,
  signIn,
  startPlatform,
  userinfoStatus,
} from "./signin-helpers.ts";

const ADMIN = "admin-key-for-code-race-e2e";
const SCOPE = "openid email offline_access";

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
  let admin: AdminCall;
  let tenantId: string;
  let client: Json;
  const pause = new Pause();
  /** Added to the platform's clock (ms): moves codes past their expiry. */
  let skew = 0;

  /** A form POST authenticated as the client. */
  const post = async (path: string, form: Record<string, string>) => {
    const res = await fetch(`${p.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(client) },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  /** Signs in through the pages; returns a fresh code and its PKCE verifier. */
  const freshCode = async () => {
    const { url, verifier } = pkceAuthorizeUrl(client.client_id, SCOPE);
    const done = await signIn(new FormBrowser(p.url), url, "race@acme.test", PASSWORD);
    expect(done.status, done.body).toBe(303);
    const code = new URL(done.location!).searchParams.get("code");
    expect(code).toBeTruthy();
    return { code: code!, verifier };
  };

  beforeAll(async () => {
    p = await startPlatform(store, {
      adminKey: ADMIN,
      tablePrefix: "e2e-race",
      wrapSignInStore: (s) => pausing(s, pause),
      clock: { now: () => Date.now() + skew },
    });
    admin = adminOf(p, ADMIN);
    tenantId = (await admin("POST", "/admin/v1/tenants", { name: "acme" })).body.id;
    await createUser(admin, tenantId, "race@acme.test", "Racer");
    const c = await postClient(admin, tenantId, { client_name: "Console", scope: SCOPE });
    expect(c.status).toBe(201);
    client = c.body;
    expect(client.client_secret).toBeTruthy();
  });
  afterAll(async () => {
    await p?.close();
  });

  /** Introspection and userinfo of an access token: `[active, userinfo status]`. */
  const accessState = async (accessToken: string) => {
    const introspected = await post("/oauth/introspect", { token: accessToken });
    expect(introspected.status).toBe(200);
    return [introspected.body.active, await userinfoStatus(p.url, accessToken)] as const;
  };
  const redeem = (code: string, verifier: string) =>
    post("/oauth/token", {
      grant_type: "authorization_code",
      code,
      redirect_uri: CB,
      code_verifier: verifier,
    });
  const refreshWith = (refreshToken: string) =>
    post("/oauth/token", { grant_type: "refresh_token", refresh_token: refreshToken });

  it("a replay revokes the access tokens of refreshes made before it, not only the first one", async () => {
    const { code, verifier } = await freshCode();
    const first = await redeem(code, verifier);
    expect(first.status).toBe(200);
    const r1 = await refreshWith(first.body.refresh_token);
    expect(r1.status).toBe(200);
    const r2 = await refreshWith(r1.body.refresh_token);
    expect(r2.status).toBe(200);
    expect(await accessState(r1.body.access_token)).toEqual([true, 200]);
    expect(await accessState(r2.body.access_token)).toEqual([true, 200]);
    const replay = await redeem(code, verifier);
    expect(replay.body.error).toBe("invalid_grant");
    // Every token based on the code is dead (RFC 6749 §4.1.2).
    for (const t of [first, r1, r2]) expect(await accessState(t.body.access_token)).toEqual([false, 401]);
    expect((await refreshWith(r2.body.refresh_token)).body.error).toBe("invalid_grant");
  });

  it("revoking the refresh token (RFC 7009) also ends the access tokens of its family", async () => {
    const { code, verifier } = await freshCode();
    const first = await redeem(code, verifier);
    const r1 = await refreshWith(first.body.refresh_token);
    expect(r1.status).toBe(200);
    const revoked = await fetch(`${p.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(client) },
      body: new URLSearchParams({ token: r1.body.refresh_token }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect(await accessState(first.body.access_token)).toEqual([false, 401]);
    expect(await accessState(r1.body.access_token)).toEqual([false, 401]);
  });

  it("a replay after the code expired still revokes what it issued", async () => {
    const { code, verifier } = await freshCode();
    const first = await redeem(code, verifier);
    expect(first.status).toBe(200);
    const r1 = await refreshWith(first.body.refresh_token);
    expect(r1.status).toBe(200);
    skew += 120_000; // codes live 60 s; access tokens 10 min
    try {
      const replay = await redeem(code, verifier);
      expect(replay.body.error).toBe("invalid_grant");
      expect(await accessState(first.body.access_token)).toEqual([false, 401]);
      expect(await accessState(r1.body.access_token)).toEqual([false, 401]);
      expect((await refreshWith(r1.body.refresh_token)).body.error).toBe("invalid_grant");
    } finally {
      skew -= 120_000;
    }
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
    expect(await userinfoStatus(p.url, issued.body.access_token)).toBe(401);
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
