/**
 * The hosted sign-in page in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) signs in through the email and password steps; the relying party (a small
 * node:http server on 127.0.0.1) receives the code and redeems it with openid-client. This proves
 * that the page works under its own CSP (form-action includes the relying party's origin, so the
 * redirect after the form POST is allowed) and with its cookies.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as oidc from "openid-client";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { createLogger } from "../../src/shared/logger.ts";

const CHROMIUM = "/usr/bin/chromium";
const ADMIN = "admin-key-for-browser-e2e";

describe.skipIf(!existsSync(CHROMIUM))("hosted sign-in in headless Chromium", () => {
  let p: LocalPlatform;
  let rp: Server;
  let rpUrl: string;
  let browser: BrowserContext;
  let profile: string;
  const received: string[] = [];

  beforeAll(async () => {
    p = await startLocalPlatform({
      env: {
        PORTCULLIS_ADMIN_KEY: ADMIN,
        PORTCULLIS_LOG_LEVEL: "silent",
        PORTCULLIS_PASSWORD_SCRYPT_LN: "12",
      },
      port: 0,
      seed: false,
      log: createLogger({ level: "silent" }),
    });
    rp = createServer((req, res) => {
      if (req.url?.startsWith("/callback")) received.push(req.url);
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>Relying party</title><p>Signed in.</p>");
    });
    await new Promise<void>((r) => rp.listen(0, "127.0.0.1", () => r()));
    rpUrl = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
    profile = mkdtempSync(join(tmpdir(), "portcullis-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await new Promise<void>((r) => (rp ? rp.close(() => r()) : r()));
    await p?.close();
  });

  const admin = async (path: string, body: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Record<string, string>;
  };

  it("signs in through the real page and the relying party redeems the code", async () => {
    const tenant = await admin("/admin/v1/tenants", { name: "acme" });
    const user = await admin(`/admin/v1/tenants/${tenant.id}/users`, {
      email: "ada@acme.test",
      name: "Ada",
      password: "correct horse battery staple",
    });
    const client = await admin(`/admin/v1/tenants/${tenant.id}/clients`, {
      client_name: "SQL Console",
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
      redirect_uris: [`${rpUrl}/callback`],
      scope: "openid profile email offline_access",
    });
    const config = await oidc.discovery(new URL(p.url), client.client_id!, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${rpUrl}/callback`,
      scope: "openid profile email offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });

    const page = await browser.newPage();
    const violations: string[] = [];
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(url.toString());
    await expect.poll(() => page.title()).toBe("Sign in");
    expect(await page.textContent("main")).toContain("SQL Console");
    await page.getByLabel("Email address").fill("ada@acme.test");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("Password").fill("correct horse battery staple");
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(`${rpUrl}/callback`)),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    expect(await page.textContent("p")).toBe("Signed in.");
    expect(violations).toEqual([]);

    const cookies = await browser.cookies(p.url);
    const session = cookies.find((c) => c.name === "pcl_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Lax");

    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()?.sub).toBe(user.id);
    expect(tokens.claims()?.amr).toEqual(["pwd"]);
    expect(received.length).toBe(1);

    // The session cookie signs the user in silently the next time.
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${rpUrl}/callback`,
      scope: "openid",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "second",
      prompt: "none",
    });
    await page.goto(again.toString());
    await page.waitForURL((u) => u.toString().startsWith(`${rpUrl}/callback`));
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();
    await page.close();
  });
});
