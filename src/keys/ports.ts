/**
 * Ports of the key ring. Contracts: test/contract/key-store.suite.ts (KeyStore: memory, DynamoDB)
 * and test/contract/signing-key-provider.suite.ts (KeyProvider: local, KMS, KMS envelope).
 */
import type { KeyRecord, KeyRingSnapshot, NewKey, PublicJwk, SigningAlg } from "./model.ts";

/**
 * Something that signs JWS signing inputs with one key: the private key is behind it (in this
 * process, or in KMS). `sign` returns the JOSE signature encoding (ECDSA: raw `r||s`, RFC 7518 §3.4).
 */
export interface Signer {
  readonly kid: string;
  readonly alg: SigningAlg;
  publicJwk(): PublicJwk;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Storage of the key ring (metadata, public keys, private key references). */
export interface KeyStore {
  /** Every key (retired ones too) and the ring version; expired records are not returned. */
  load(): Promise<KeyRingSnapshot>;
  /**
   * Writes `changed` (inserts or replaces by `kid`) and increments the version, atomically and
   * only if the stored version is still `expectedVersion`; a `conflict` DomainError otherwise.
   * Returns the new version.
   */
  commit(expectedVersion: number, changed: readonly KeyRecord[]): Promise<number>;
}

/** Options when creating a key. */
export interface CreateKeyOptions {
  /** The key currently signing, if any (KMS copies its key policy to the new key). */
  readonly current?: KeyRecord;
}

/** A signing-key backend: creates keys and turns stored keys into signers. */
export interface KeyProvider {
  readonly source: KeyRecord["material"]["kind"];
  /** Keys for an empty ring: `[current]` or `[current, next]`. */
  bootstrap(alg: SigningAlg): Promise<NewKey[]>;
  /** A new key pair (or KMS key). */
  create(alg: SigningAlg, options?: CreateKeyOptions): Promise<NewKey>;
  /** A signer for a stored key; implementations cache it (envelope keys are decrypted once). */
  signer(record: KeyRecord): Promise<Signer>;
  /** Registers an existing key by id (KMS only), e.g. one created by the CDK stack. */
  adopt?(keyId: string, alg: SigningAlg): Promise<NewKey>;
}
