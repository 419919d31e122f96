/**
 * OIDC ID tokens (OIDC Core §2, §3.1.3.6): signed with the key ring's current signer like access
 * tokens, `typ: JWT`; `at_hash` is the left half of the hash of the access token, with the hash of
 * the signing algorithm (SHA-256 for ES256/RS256, SHA-512 for EdDSA/Ed25519).
 */
import { createHash } from "node:crypto";
import { type CryptoKey, compactVerify, importJWK, type JWTHeaderParameters } from "jose";
import { SIGNING_ALGS } from "../keys/model.ts";
import type { Clock } from "../shared/clock.ts";
import type { SigningKeys } from "./tokens.ts";

/** Claims of an ID token. */
export interface IdTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly azp: string;
  readonly exp: number;
  readonly iat: number;
  readonly auth_time: number;
  readonly nonce?: string;
  readonly amr: readonly string[];
  readonly acr: string;
  readonly sid: string;
  readonly at_hash?: string;
  readonly tenant_id: string;
  /** The organization (tenant) a multi-tenant client signed the user in to. */
  readonly org_id?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/** OIDC Core §3.1.3.6 `at_hash` for a token signed with `alg`. */
export function atHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === "EdDSA" ? "sha512" : "sha256")
    .update(accessToken, "ascii")
    .digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}

export class IdTokenService {
  readonly #issuer: string;
  readonly #keys: SigningKeys;
  readonly #clock: Clock;

  constructor(d: { issuer: string; keys: SigningKeys; clock: Clock }) {
    this.#issuer = d.issuer;
    this.#keys = d.keys;
    this.#clock = d.clock;
  }

  async issue(
    c: Omit<IdTokenClaims, "iss" | "iat" | "exp" | "at_hash" | "azp">,
    lifetimeSeconds: number,
    accessToken?: string,
  ): Promise<string> {
    const signer = await this.#keys.signer();
    const iat = Math.floor(this.#clock.now() / 1000);
    const claims: IdTokenClaims = {
      iss: this.#issuer,
      ...c,
      azp: c.aud,
      iat,
      exp: iat + lifetimeSeconds,
      ...(accessToken ? { at_hash: atHash(accessToken, signer.alg) } : {}),
    };
    const input = `${b64(JSON.stringify({ alg: signer.alg, typ: "JWT", kid: signer.kid }))}.${b64(JSON.stringify(claims))}`;
    const sig = await signer.sign(Buffer.from(input, "ascii"));
    return `${input}.${Buffer.from(sig).toString("base64url")}`;
  }

  /**
   * An `id_token_hint` (OIDC RP-Initiated Logout §2): an ID token we issued, signature and issuer
   * checked; it may have expired. Undefined when it is not one of ours.
   */
  async verifyHint(token: string): Promise<IdTokenClaims | undefined> {
    if (token.length > 8192 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
    try {
      const { payload, protectedHeader } = await compactVerify(token, async (h: JWTHeaderParameters) => {
        if (typeof h.kid !== "string" || !(SIGNING_ALGS as readonly string[]).includes(h.alg ?? ""))
          throw new Error("kid");
        const jwk = await this.#keys.verificationKey(h.kid);
        if (!jwk || jwk.alg !== h.alg) throw new Error("key");
        return (await importJWK(jwk, jwk.alg)) as CryptoKey;
      });
      if (protectedHeader.typ !== "JWT") return undefined;
      const claims = JSON.parse(Buffer.from(payload).toString("utf8")) as IdTokenClaims;
      if (claims.iss !== this.#issuer || typeof claims.sub !== "string" || typeof claims.aud !== "string")
        return undefined;
      return claims;
    } catch {
      return undefined;
    }
  }
}
