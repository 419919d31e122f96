/**
 * JWT access tokens (RFC 9068): built and signed on the hot path with the key ring's signer
 * (node:crypto, or KMS), verified with jose against the ring's published keys.
 */
import { randomUUID } from "node:crypto";
import { type CryptoKey, importJWK, type JWTHeaderParameters, jwtVerify } from "jose";
import { type PublicJwk, SIGNING_ALGS } from "../keys/model.ts";
import type { Signer } from "../keys/ports.ts";
import type { Clock } from "../shared/clock.ts";
import type { AccessTokenClaims } from "./model.ts";
import type { RevocationList } from "./ports.ts";

/** The part of the key ring the token service uses. */
export interface SigningKeys {
  signer(): Promise<Signer>;
  verificationKey(kid: string): Promise<PublicJwk | undefined>;
}

/** Why a token was refused (for logs and tests; callers only ever say "invalid token"). */
export class InvalidTokenError extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`invalid token: ${reason}`, options);
    this.name = "InvalidTokenError";
    this.reason = reason;
  }
}

/** Options of {@link AccessTokenService}. */
export interface AccessTokenServiceOptions {
  readonly issuer: string;
  readonly keys: SigningKeys;
  readonly clock: Clock;
  /** Token ids; default: random UUIDs (122 random bits, node's pooled entropy: fast on the hot path). */
  readonly jti?: () => string;
  readonly revocations: RevocationList;
  /**
   * Revocation of refresh-token families, for tokens with a `fid` claim (issued from a family):
   * such a token is revoked with its family (code replay, reuse, RFC 7009, consent revocation).
   */
  readonly families?: { isFamilyRevoked(ref: string, now: number): Promise<boolean> };
  /** Clock skew tolerated when verifying `exp`/`iat`/`nbf`. @default 5 */
  readonly clockToleranceSeconds?: number;
}

/** Claims the caller decides; the service adds iss, iat, exp and jti. */
export type TokenContent = Omit<AccessTokenClaims, "iss" | "iat" | "exp" | "jti">;

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");
const REQUIRED = ["exp", "iat", "jti", "sub", "client_id", "tenant_id"];

/** Issues and verifies the platform's access tokens. */
export class AccessTokenService {
  readonly #o: AccessTokenServiceOptions;
  readonly #headers = new Map<string, string>();
  readonly #verifyKeys = new Map<string, Promise<CryptoKey>>();
  readonly #jti: () => string;

  constructor(options: AccessTokenServiceOptions) {
    this.#o = options;
    this.#jti = options.jti ?? randomUUID;
  }

  get issuer(): string {
    return this.#o.issuer;
  }

  /** A fresh token id from the configured generator (for callers that decide it before issuing). */
  newJti(): string {
    return this.#jti();
  }

  /**
   * Signs an access token valid for `lifetimeSeconds`; returns it with its claims. `options.jti`
   * and `options.issuedAt` (ms) let a caller decide the id and expiry before issuing (a code
   * redemption records them atomically with the code, so a replay can revoke the token).
   */
  async issue(
    content: TokenContent,
    lifetimeSeconds: number,
    options: { readonly jti?: string; readonly issuedAt?: number } = {},
  ): Promise<{ token: string; claims: AccessTokenClaims }> {
    const signer = await this.#o.keys.signer();
    const iat = Math.floor((options.issuedAt ?? this.#o.clock.now()) / 1000);
    const claims: AccessTokenClaims = {
      iss: this.#o.issuer,
      ...content,
      iat,
      exp: iat + lifetimeSeconds,
      jti: options.jti ?? this.#jti(),
    };
    let header = this.#headers.get(signer.kid);
    if (!header) {
      header = b64(JSON.stringify({ alg: signer.alg, typ: "at+jwt", kid: signer.kid }));
      this.#headers.set(signer.kid, header);
    }
    const input = `${header}.${b64(JSON.stringify(claims))}`;
    const sig = await signer.sign(Buffer.from(input, "latin1"));
    // node:crypto signers return a Buffer already: encode it without a copy.
    const raw = Buffer.isBuffer(sig) ? sig : Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength);
    return { token: `${input}.${raw.toString("base64url")}`, claims };
  }

  #key = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    const kid = header.kid;
    if (typeof kid !== "string" || kid.length > 128) throw new InvalidTokenError("no kid");
    const jwk = await this.#o.keys.verificationKey(kid);
    if (!jwk) throw new InvalidTokenError("unknown kid");
    if (jwk.alg !== header.alg) throw new InvalidTokenError("alg does not match the key");
    let key = this.#verifyKeys.get(kid);
    if (!key) {
      key = importJWK(jwk, jwk.alg) as Promise<CryptoKey>;
      this.#verifyKeys.set(kid, key);
    }
    return key;
  };

  /**
   * Verifies signature (a published key, its own alg; never `none`), `typ: at+jwt`, issuer,
   * expiry and required claims, and the audience when given. Throws InvalidTokenError.
   * Does not check revocation: see {@link isRevoked}.
   */
  async verify(token: string, options: { audience?: string | string[] } = {}): Promise<AccessTokenClaims> {
    if (token.length > 8192 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
      throw new InvalidTokenError("malformed");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        issuer: this.#o.issuer,
        typ: "at+jwt",
        algorithms: [...SIGNING_ALGS],
        requiredClaims: REQUIRED,
        currentDate: new Date(this.#o.clock.now()),
        clockTolerance: this.#o.clockToleranceSeconds ?? 5,
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      }));
    } catch (e) {
      if (e instanceof InvalidTokenError) throw e;
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "unknown";
      throw new InvalidTokenError(code, { cause: e });
    }
    for (const c of ["sub", "client_id", "tenant_id", "jti"])
      if (typeof payload[c] !== "string") throw new InvalidTokenError(`${c} is not a string`);
    if (payload.scope !== undefined && typeof payload.scope !== "string")
      throw new InvalidTokenError("scope");
    return payload as unknown as AccessTokenClaims;
  }

  /** Whether the token was revoked (RFC 7009), or its refresh family (`fid`) was. */
  isRevoked(claims: AccessTokenClaims): Promise<boolean> {
    const now = this.#o.clock.now();
    const byJti = this.#o.revocations.isRevoked(claims.jti, now);
    const families = this.#o.families;
    if (typeof claims.fid !== "string" || !families) return byJti;
    // Issued from a refresh family: also revoked with it (both point reads run at once).
    return Promise.all([byJti, families.isFamilyRevoked(claims.fid, now)]).then(([j, f]) => j || f);
  }

  /** Revokes a token until it would have expired. */
  revoke(claims: AccessTokenClaims): Promise<void> {
    return this.#o.revocations.revoke(claims.jti, claims.exp * 1000);
  }
}
