/**
 * KMS envelope signing keys, for token rates above KMS `Sign`'s request quota: KMS
 * `GenerateDataKeyPair` makes the key pair under a symmetric (multi-region) wrapping key; only the
 * encrypted private key and the public key are stored. Each container decrypts a key once (KMS
 * `Decrypt`, with an encryption context) and then signs in process with node:crypto.
 *
 * Trade-off (docs/OAUTH.md): the private key exists in Lambda memory, so a compromised function
 * could exfiltrate it (with `kms` it could only sign while compromised); in exchange, signing costs
 * no KMS request and no network round trip.
 */
import type { KeyObject } from "node:crypto";
import {
  type DataKeyPairSpec,
  DecryptCommand,
  GenerateDataKeyPairCommand,
  type KMSClient,
} from "@aws-sdk/client-kms";
import { inProcessSigner, privateKeyFromPkcs8, publicJwkOf, publicKeyFromSpki } from "../jwk.ts";
import type { KeyRecord, NewKey, SigningAlg } from "../model.ts";
import type { KeyProvider, Signer } from "../ports.ts";
import { KMS_SPECS, kmsError } from "./kms.ts";

/** Encryption context bound to every wrapped signing key (KMS checks it on Decrypt; logged by CloudTrail). */
export const ENVELOPE_CONTEXT: Readonly<Record<string, string>> = { purpose: "portcullis-token-signing" };

/** Options of {@link KmsEnvelopeKeyProvider}. */
export interface KmsEnvelopeKeyProviderOptions {
  /** This region's symmetric wrapping key (id, ARN or alias; a multi-region key across regions). */
  readonly wrappingKeyId: string;
}

/** Key provider for KMS-wrapped keys that sign in process. */
export class KmsEnvelopeKeyProvider implements KeyProvider {
  readonly source = "kms-envelope" as const;
  readonly #client: KMSClient;
  readonly #wrappingKeyId: string;
  readonly #signers = new Map<string, Promise<Signer>>();

  constructor(client: KMSClient, options: KmsEnvelopeKeyProviderOptions) {
    this.#client = client;
    this.#wrappingKeyId = options.wrappingKeyId;
  }

  async bootstrap(alg: SigningAlg): Promise<NewKey[]> {
    return [await this.create(alg), await this.create(alg)];
  }

  async create(alg: SigningAlg): Promise<NewKey> {
    const r = await this.#client
      .send(
        new GenerateDataKeyPairCommand({
          KeyId: this.#wrappingKeyId,
          KeyPairSpec: KMS_SPECS[alg].keySpec as DataKeyPairSpec,
          EncryptionContext: { ...ENVELOPE_CONTEXT },
        }),
      )
      .catch((e: unknown) => {
        throw kmsError(e);
      });
    // The plaintext private key is not needed to create the key: wipe it at once.
    r.PrivateKeyPlaintext?.fill(0);
    if (!r.PublicKey || !r.PrivateKeyCiphertextBlob)
      throw new Error("KMS GenerateDataKeyPair returned no key");
    const publicJwk = await publicJwkOf(publicKeyFromSpki(r.PublicKey), alg);
    return {
      kid: publicJwk.kid,
      alg,
      publicJwk,
      material: {
        kind: "kms-envelope",
        wrappingKeyId: r.KeyId ?? this.#wrappingKeyId,
        ciphertext: Buffer.from(r.PrivateKeyCiphertextBlob).toString("base64"),
      },
    };
  }

  /** Decrypts the key once per container (concurrent callers share the one Decrypt). */
  signer(record: KeyRecord): Promise<Signer> {
    let p = this.#signers.get(record.kid);
    if (!p) {
      p = this.#load(record);
      this.#signers.set(record.kid, p);
      p.catch(() => this.#signers.delete(record.kid));
    }
    return p;
  }

  async #load(record: KeyRecord): Promise<Signer> {
    if (record.material.kind !== "kms-envelope") throw new Error(`key ${record.kid} is not an envelope key`);
    const r = await this.#client
      .send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(record.material.ciphertext, "base64"),
          // This region's wrapping key: with multi-region keys, ciphertext from any replica decrypts.
          KeyId: this.#wrappingKeyId,
          EncryptionContext: { ...ENVELOPE_CONTEXT },
        }),
      )
      .catch((e: unknown) => {
        throw kmsError(e);
      });
    if (!r.Plaintext) throw new Error("KMS Decrypt returned no plaintext");
    let key: KeyObject;
    try {
      key = privateKeyFromPkcs8(r.Plaintext);
    } finally {
      r.Plaintext.fill(0);
    }
    // The stored public key (and so the kid) must belong to the decrypted private key.
    const jwk = await publicJwkOf(key, record.alg);
    if (jwk.kid !== record.kid) throw new Error(`key ${record.kid}: decrypted key does not match its kid`);
    return inProcessSigner(record.alg, key, record.publicJwk);
  }
}
