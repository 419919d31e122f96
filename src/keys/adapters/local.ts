/**
 * Local signing keys (embedded mode: `npm start`, tests). Keys are generated with node:crypto; the
 * private key is kept in the key record (PKCS#8), so it is only for the memory store or DynamoDB
 * Local — the configuration refuses this mode against AWS.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { inProcessSigner, privateKeyFromPkcs8, publicJwkOf } from "../jwk.ts";
import type { KeyRecord, NewKey, SigningAlg } from "../model.ts";
import type { KeyProvider, Signer } from "../ports.ts";

function generate(alg: SigningAlg): KeyObject {
  switch (alg) {
    case "ES256":
      return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    case "RS256":
      return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    case "EdDSA":
      return generateKeyPairSync("ed25519").privateKey;
  }
}

/** Key provider for local keys; signers are cached per `kid`. */
export class LocalKeyProvider implements KeyProvider {
  readonly source = "local" as const;
  readonly #signers = new Map<string, Signer>();

  async bootstrap(alg: SigningAlg): Promise<NewKey[]> {
    return [await this.create(alg), await this.create(alg)];
  }

  async create(alg: SigningAlg): Promise<NewKey> {
    const key = generate(alg);
    const publicJwk = await publicJwkOf(key, alg);
    const privateKey = key.export({ format: "der", type: "pkcs8" }).toString("base64url");
    return { kid: publicJwk.kid, alg, publicJwk, material: { kind: "local", privateKey } };
  }

  async signer(record: KeyRecord): Promise<Signer> {
    const cached = this.#signers.get(record.kid);
    if (cached) return cached;
    if (record.material.kind !== "local") throw new Error(`key ${record.kid} is not a local key`);
    const key = privateKeyFromPkcs8(Buffer.from(record.material.privateKey, "base64url"));
    const jwk = await publicJwkOf(key, record.alg);
    if (jwk.kid !== record.kid) throw new Error(`key ${record.kid}: private key does not match its kid`);
    const signer = inProcessSigner(record.alg, key, record.publicJwk);
    this.#signers.set(record.kid, signer);
    return signer;
  }
}
