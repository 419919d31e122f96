/**
 * AWS KMS signing keys: the private key never leaves KMS. Each key is an asymmetric
 * `SIGN_VERIFY` KMS key (multi-region, so every region signs with a replica under the same `kid`);
 * only the JWS signing input goes to KMS `Sign`, and KMS's DER ECDSA signature is converted to
 * JOSE `r||s`. KMS `Sign` has a per-account request quota: see the `kms-envelope` mode for rates
 * above it (docs/OAUTH.md).
 */
import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  CreateKeyCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  type KeySpec,
  KMSClient,
  ReplicateKeyCommand,
  SignCommand,
  type SigningAlgorithmSpec,
} from "@aws-sdk/client-kms";
import { DomainError } from "../../shared/errors.ts";
import { derToJose } from "../der.ts";
import { publicJwkOf, publicKeyFromSpki } from "../jwk.ts";
import type { KeyRecord, NewKey, PublicJwk, SigningAlg } from "../model.ts";
import type { CreateKeyOptions, KeyProvider, Signer } from "../ports.ts";

/** Options of {@link createKmsClient}. */
export interface KmsClientOptions {
  /** Endpoint override (the KMS stand-in in tests); absent in AWS. */
  readonly endpoint?: string;
  /** @default "us-east-1" with an endpoint, else the SDK's resolution (AWS_REGION) */
  readonly region?: string;
}

/** A KMS client with keep-alive connections; dummy credentials with an endpoint override. */
export function createKmsClient(options: KmsClientOptions = {}): KMSClient {
  const requestHandler = {
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new HttpsAgent({ keepAlive: true }),
  };
  if (options.endpoint) {
    return new KMSClient({
      endpoint: options.endpoint,
      region: options.region ?? "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      requestHandler,
    });
  }
  return new KMSClient({ ...(options.region ? { region: options.region } : {}), requestHandler });
}

/** KMS key spec and signing algorithm per JWS algorithm. */
export const KMS_SPECS: Record<SigningAlg, { keySpec: KeySpec; signing: SigningAlgorithmSpec }> = {
  ES256: { keySpec: "ECC_NIST_P256", signing: "ECDSA_SHA_256" },
  RS256: { keySpec: "RSA_2048", signing: "RSASSA_PKCS1_V1_5_SHA_256" },
  EdDSA: { keySpec: "ECC_NIST_EDWARDS25519", signing: "ED25519_SHA_512" },
};

/** KMS accepts at most 4096 bytes as a RAW message; larger inputs are sent as a SHA-256 digest. */
const RAW_LIMIT = 4096;

const TRANSIENT = new Set([
  "ThrottlingException",
  "LimitExceededException",
  "KMSInternalException",
  "DependencyTimeoutException",
  "TimeoutError",
]);

/** Transient KMS failures become `unavailable` (503); the SDK message stays in `cause` only. */
export function kmsError(e: unknown): unknown {
  const name = typeof e === "object" && e !== null && "name" in e ? String(e.name) : "";
  return TRANSIENT.has(name)
    ? new DomainError("unavailable", "The signing service is temporarily unavailable.", { cause: e })
    : e;
}

/** The key id portion of a KMS key ARN (`arn:...:key/mrk-…` → `mrk-…`); ids and aliases pass through. */
export const keyIdOf = (arnOrId: string): string => /:key\/(.+)$/.exec(arnOrId)?.[1] ?? arnOrId;

/** Options of {@link KmsKeyProvider}. */
export interface KmsKeyProviderOptions {
  /** The key an empty ring starts with (id, ARN or alias), e.g. the CDK stack's key. */
  readonly bootstrapKeyId?: string;
  /** Regions new keys are replicated to (multi-region keys). @default [] */
  readonly replicaRegions?: readonly string[];
  /** Description and tags of keys this provider creates. */
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** Signer whose private key stays in KMS. */
class KmsSigner implements Signer {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly #client: KMSClient;
  readonly #keyId: string;
  readonly #jwk: PublicJwk;

  constructor(client: KMSClient, record: KeyRecord, keyId: string) {
    this.kid = record.kid;
    this.alg = record.alg;
    this.#client = client;
    this.#keyId = keyId;
    this.#jwk = record.publicJwk;
  }

  publicJwk(): PublicJwk {
    return this.#jwk;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const raw = data.length <= RAW_LIMIT;
    if (!raw && this.alg === "EdDSA") throw new Error("EdDSA signing input exceeds the KMS RAW limit");
    let out: Uint8Array | undefined;
    try {
      const r = await this.#client.send(
        new SignCommand({
          KeyId: this.#keyId,
          Message: raw ? data : createHash("sha256").update(data).digest(),
          MessageType: raw ? "RAW" : "DIGEST",
          SigningAlgorithm: KMS_SPECS[this.alg].signing,
        }),
      );
      out = r.Signature;
    } catch (e) {
      throw kmsError(e);
    }
    if (!out) throw new Error("KMS Sign returned no signature");
    return this.alg === "ES256" ? derToJose(out, 32) : out;
  }
}

/** Key provider for KMS-resident keys. */
export class KmsKeyProvider implements KeyProvider {
  readonly source = "kms" as const;
  readonly #client: KMSClient;
  readonly #o: KmsKeyProviderOptions;
  readonly #signers = new Map<string, Signer>();

  constructor(client: KMSClient, options: KmsKeyProviderOptions = {}) {
    this.#client = client;
    this.#o = options;
  }

  async bootstrap(alg: SigningAlg): Promise<NewKey[]> {
    if (this.#o.bootstrapKeyId) return [await this.adopt(this.#o.bootstrapKeyId, alg)];
    return [await this.create(alg), await this.create(alg)];
  }

  /** Registers an existing KMS key after checking its usage and spec against `alg`. */
  async adopt(keyId: string, alg: SigningAlg): Promise<NewKey> {
    const r = await this.#client.send(new GetPublicKeyCommand({ KeyId: keyId })).catch((e: unknown) => {
      throw kmsError(e);
    });
    const spec = KMS_SPECS[alg];
    if (
      r.KeyUsage !== "SIGN_VERIFY" ||
      r.KeySpec !== spec.keySpec ||
      !r.SigningAlgorithms?.includes(spec.signing)
    )
      throw new DomainError(
        "validation",
        `KMS key ${keyId} is not a ${spec.keySpec} SIGN_VERIFY key for ${alg}.`,
      );
    if (!r.PublicKey || !r.KeyId) throw new Error("KMS GetPublicKey returned no key");
    const publicJwk = await publicJwkOf(publicKeyFromSpki(r.PublicKey), alg);
    return { kid: publicJwk.kid, alg, publicJwk, material: { kind: "kms", keyId: keyIdOf(r.KeyId) } };
  }

  /**
   * Creates a multi-region KMS key (copying the current key's policy, so the new key is exactly as
   * locked down) and replicates it to the configured regions.
   */
  async create(alg: SigningAlg, options: CreateKeyOptions = {}): Promise<NewKey> {
    try {
      let policy: string | undefined;
      const cur = options.current?.material;
      if (cur?.kind === "kms") {
        const p = await this.#client.send(
          new GetKeyPolicyCommand({ KeyId: cur.keyId, PolicyName: "default" }),
        );
        policy = p.Policy;
      }
      // Tags are not shared between multi-Region keys: every replica gets them too, since the
      // signer roles' IAM policies select keys by the purpose tag.
      const tags = Object.entries({ "portcullis:purpose": "token-signing", ...this.#o.tags }).map(
        ([k, v]) => ({
          TagKey: k,
          TagValue: v,
        }),
      );
      const created = await this.#client.send(
        new CreateKeyCommand({
          KeySpec: KMS_SPECS[alg].keySpec,
          KeyUsage: "SIGN_VERIFY",
          MultiRegion: true,
          Description: this.#o.description ?? `Portcullis token signing key (${alg})`,
          Tags: tags,
          ...(policy ? { Policy: policy } : {}),
        }),
      );
      const keyId = created.KeyMetadata?.KeyId;
      if (!keyId) throw new Error("KMS CreateKey returned no key id");
      for (const region of this.#o.replicaRegions ?? []) {
        await this.#client.send(
          new ReplicateKeyCommand({
            KeyId: keyId,
            ReplicaRegion: region,
            Tags: tags,
            ...(policy ? { Policy: policy } : {}),
          }),
        );
      }
      return await this.adopt(keyId, alg);
    } catch (e) {
      throw kmsError(e);
    }
  }

  async signer(record: KeyRecord): Promise<Signer> {
    const cached = this.#signers.get(record.kid);
    if (cached) return cached;
    if (record.material.kind !== "kms") throw new Error(`key ${record.kid} is not a KMS key`);
    const signer = new KmsSigner(this.#client, record, record.material.keyId);
    this.#signers.set(record.kid, signer);
    return signer;
  }
}
