/**
 * Client authentication at the token, introspection and revocation endpoints:
 * `client_secret_basic` (RFC 6749 §2.3.1), `client_secret_post`, and `private_key_jwt`
 * (RFC 7523 §2.2/§3, OIDC Core §9) with one-time `jti`s. Exactly one method per request (§2.3);
 * the client must use the method it registered. Failures are `invalid_client` (401 with a Basic
 * challenge) and never say which check failed.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import type { HttpRequest } from "../http/types.ts";
import type { Clock } from "../shared/clock.ts";
import { constantTimeEqual, hashSecret } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import type { ClientService } from "./clients.ts";
import { invalidClient, invalidRequest } from "./errors.ts";
import type { Form } from "./form.ts";
import { ASSERTION_ALGS, type AuthMethod, JWT_BEARER_ASSERTION, type OAuthClient } from "./model.ts";
import type { ReplayCache } from "./ports.ts";

/** Options of {@link ClientAuthenticator}. */
export interface ClientAuthenticatorDeps {
  readonly clients: ClientService;
  readonly replay: ReplayCache;
  readonly clock: Clock;
  readonly issuer: string;
  /** Longest accepted assertion lifetime (exp − now). @default 600 */
  readonly maxAssertionLifetimeSeconds?: number;
  /** @default 30 */
  readonly clockToleranceSeconds?: number;
}

/** An authenticated client and how it authenticated. */
export interface AuthenticatedClient {
  readonly client: OAuthClient;
  readonly method: AuthMethod;
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function formDecode(v: string): string {
  // Our ids and secrets (prefix + ULID / base64url) have neither: skip the regex and the decoder.
  if (!v.includes("+") && !v.includes("%")) return v;
  return decodeURIComponent(v.replace(/\+/g, " "));
}

const BASIC = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i;

function parseBasic(header: string): { id: string; secret: string } | undefined {
  const m = BASIC.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0) return undefined;
  try {
    return { id: formDecode(decoded.slice(0, i)), secret: formDecode(decoded.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

// A constant hash compared against when the client is unknown, so timing does not tell.
const DUMMY_HASH = hashSecret("portcullis-no-such-client");

/** A presented client secret (its hash) and the method it came with. */
interface Presented {
  readonly hash: string;
  readonly method: AuthMethod;
}

/**
 * Whether a client record fits a presented secret: same hash, registered for that method. The hash
 * is compared for unknown clients too (against a dummy), so timing does not tell them apart.
 */
function secretFits(c: OAuthClient | undefined, p: Presented): boolean {
  return constantTimeEqual(p.hash, c?.secretHash ?? DUMMY_HASH) && c?.tokenEndpointAuthMethod === p.method;
}

/** Authenticates OAuth clients. */
export class ClientAuthenticator {
  readonly #d: ClientAuthenticatorDeps;

  constructor(deps: ClientAuthenticatorDeps) {
    this.#d = deps;
  }

  /** `endpoint` is the URL of the endpoint called (also accepted as an assertion audience). */
  async authenticate(
    req: HttpRequest,
    form: Form,
    endpoint: string,
    log: Logger,
    options: { allowPublic?: boolean } = {},
  ): Promise<AuthenticatedClient> {
    const authz = req.headers.authorization;
    const basic = authz !== undefined && /^Basic /i.test(authz);
    const post = form.has("client_secret");
    const assertion = form.has("client_assertion") || form.has("client_assertion_type");
    if (authz !== undefined && !basic)
      throw invalidRequest("Only the Basic scheme is accepted in Authorization.");
    if (Number(basic) + Number(post) + Number(assertion) > 1)
      throw invalidRequest("Use exactly one client authentication method.");
    const formId = form.get("client_id");
    if (basic) {
      const creds = parseBasic(authz);
      if (!creds) throw invalidClient();
      if (formId !== undefined && formId !== creds.id) throw invalidRequest("client_id does not match.");
      return {
        client: await this.#secret(creds.id, creds.secret, "client_secret_basic"),
        method: "client_secret_basic",
      };
    }
    if (post) {
      if (formId === undefined) throw invalidClient();
      const secret = form.get("client_secret")!;
      return {
        client: await this.#secret(formId, secret, "client_secret_post"),
        method: "client_secret_post",
      };
    }
    if (assertion)
      return { client: await this.#assertion(form, formId, endpoint, log), method: "private_key_jwt" };
    // A public client (token_endpoint_auth_method "none") identifies itself with client_id only;
    // its grants are bound by PKCE and refresh-token rotation instead.
    if (options.allowPublic && formId !== undefined) {
      const client = await this.#d.clients.findActive(formId);
      if (client?.tokenEndpointAuthMethod === "none") return { client, method: "none" };
    }
    throw invalidClient("Client authentication is required.");
  }

  async #secret(clientId: string, secret: string, method: AuthMethod): Promise<OAuthClient> {
    const presented: Presented = { hash: hashSecret(secret), method };
    const client = await this.#d.clients.findActiveFor(clientId, secretFits, presented);
    if (!client) throw invalidClient();
    return client;
  }

  async #assertion(
    form: Form,
    formId: string | undefined,
    endpoint: string,
    log: Logger,
  ): Promise<OAuthClient> {
    if (form.get("client_assertion_type") !== JWT_BEARER_ASSERTION)
      throw invalidRequest(`client_assertion_type must be ${JWT_BEARER_ASSERTION}.`);
    const jwt = form.get("client_assertion");
    if (jwt === undefined) throw invalidRequest("client_assertion is missing.");
    let clientId: string;
    try {
      const unverified = decodeJwt(jwt);
      if (typeof unverified.iss !== "string" || unverified.sub !== unverified.iss) throw invalidClient();
      clientId = unverified.iss;
    } catch {
      throw invalidClient();
    }
    if (formId !== undefined && formId !== clientId) throw invalidRequest("client_id does not match.");
    const client = await this.#d.clients.findActive(clientId);
    if (client?.tokenEndpointAuthMethod !== "private_key_jwt" || !client.jwks) throw invalidClient();
    const now = this.#d.clock.now();
    const tolerance = this.#d.clockToleranceSeconds ?? 30;
    let payload: { exp?: number; jti?: string };
    try {
      ({ payload } = await jwtVerify(jwt, createLocalJWKSet({ keys: [...client.jwks] }), {
        algorithms: [...ASSERTION_ALGS],
        issuer: clientId,
        subject: clientId,
        // The issuer (also with a trailing slash, as the OpenFGA SDK sends it), the token endpoint
        // (RFC 7523 §3) or the endpoint called.
        audience: [this.#d.issuer, `${this.#d.issuer}/`, `${this.#d.issuer}/oauth/token`, endpoint],
        requiredClaims: ["exp", "jti"],
        currentDate: new Date(now),
        clockTolerance: tolerance,
      }));
    } catch (e) {
      log.info("client assertion refused", { client_id: clientId, reason: (e as { code?: string }).code });
      throw invalidClient();
    }
    const exp = payload.exp!;
    const jti = payload.jti!;
    if (exp * 1000 > now + ((this.#d.maxAssertionLifetimeSeconds ?? 600) + tolerance) * 1000)
      throw invalidClient("The client assertion lives too long.");
    if (typeof jti !== "string" || jti.length > 256) throw invalidClient();
    const fresh = await this.#d.replay.useOnce(
      `${clientId}:${hashSecret(jti)}`,
      (exp + tolerance) * 1000,
      now,
    );
    if (!fresh) throw invalidClient("The client assertion was already used.");
    return client;
  }
}
