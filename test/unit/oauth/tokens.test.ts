import { decodeProtectedHeader } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { LocalKeyProvider } from "../../../src/keys/adapters/local.ts";
import { MemoryKeyStore } from "../../../src/keys/adapters/memory.ts";
import { KeyRing } from "../../../src/keys/ring.ts";
import { MemoryOAuthStore } from "../../../src/oauth/adapters/memory.ts";
import { AccessTokenService, InvalidTokenError } from "../../../src/oauth/tokens.ts";
import { ManualClock } from "../../../src/shared/clock.ts";

const ISS = "https://auth.example.com";
const content = {
  sub: "pcc_a",
  aud: "https://api.example.com",
  client_id: "pcc_a",
  tenant_id: "T1",
  scope: "authz:read",
};

describe("AccessTokenService", () => {
  let clock: ManualClock;
  let ring: KeyRing;
  let tokens: AccessTokenService;
  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2026, 5, 1));
    ring = new KeyRing({
      store: new MemoryKeyStore(),
      provider: new LocalKeyProvider(),
      clock,
      maxTokenLifetimeMs: 3_600_000,
      publishBeforeUseMs: 0,
    });
    tokens = new AccessTokenService({ issuer: ISS, keys: ring, clock, revocations: new MemoryOAuthStore() });
  });

  it("issues at+jwt tokens with RFC 9068 claims that it verifies", async () => {
    const { token, claims } = await tokens.issue(content, 300);
    expect(decodeProtectedHeader(token)).toEqual({
      alg: "ES256",
      typ: "at+jwt",
      kid: (await ring.signer()).kid,
    });
    expect(claims).toMatchObject({
      ...content,
      iss: ISS,
      iat: clock.now() / 1000,
      exp: clock.now() / 1000 + 300,
    });
    expect(await tokens.verify(token, { audience: "https://api.example.com" })).toEqual(claims);
  });

  it("refuses expired tokens (5 s tolerance), wrong audiences, tampering and unknown kids", async () => {
    const { token } = await tokens.issue(content, 300);
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: unknown) => (e instanceof InvalidTokenError ? e.reason : "other"),
      );
    clock.advance(304_000);
    expect(await reason(tokens.verify(token))).toBe("ok");
    clock.advance(2000);
    expect(await reason(tokens.verify(token))).toBe("ERR_JWT_EXPIRED");
    clock.advance(-306_000);
    expect(await reason(tokens.verify(token, { audience: "https://other.example" }))).toBe(
      "ERR_JWT_CLAIM_VALIDATION_FAILED",
    );
    const [h, p, s] = token.split(".") as [string, string, string];
    const tampered = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), tenant_id: "T2" }),
    ).toString("base64url");
    expect(await reason(tokens.verify(`${h}.${tampered}.${s}`))).toBe(
      "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
    const otherKid = Buffer.from(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid: "nope" })).toString(
      "base64url",
    );
    expect(await reason(tokens.verify(`${otherKid}.${p}.${s}`))).toBe("unknown kid");
    const rs = Buffer.from(
      JSON.stringify({
        alg: "RS256",
        typ: "at+jwt",
        kid: JSON.parse(Buffer.from(h, "base64url").toString()).kid,
      }),
    ).toString("base64url");
    expect(await reason(tokens.verify(`${rs}.${p}.${s}`))).toBe("alg does not match the key");
    expect(await reason(tokens.verify("not.a.jwt!"))).toBe("malformed");
  });

  it("verifies tokens of a previous key after rotation and refuses them once the key is retired", async () => {
    const { token } = await tokens.issue(content, 300);
    await ring.rotate();
    const after = await tokens.issue(content, 300);
    expect(decodeProtectedHeader(after.token).kid).not.toBe(decodeProtectedHeader(token).kid);
    await expect(tokens.verify(token)).resolves.toBeTruthy();
    await ring.retire({ kid: decodeProtectedHeader(token).kid!, force: true });
    clock.advance(6000); // past the unknown-kid reload throttle
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("records revocations until the token's expiry", async () => {
    const { claims } = await tokens.issue(content, 300);
    expect(await tokens.isRevoked(claims)).toBe(false);
    await tokens.revoke(claims);
    expect(await tokens.isRevoked(claims)).toBe(true);
  });
});
