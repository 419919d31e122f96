/**
 * Builds a key ring from settings: the composition used by the container (functions/_shared) and
 * by the keys CLI, so both sign and rotate the same way.
 */
import type { KMSClient } from "@aws-sdk/client-kms";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import { createKmsClient, KmsKeyProvider } from "./adapters/kms.ts";
import { KmsEnvelopeKeyProvider } from "./adapters/kms-envelope.ts";
import { LocalKeyProvider } from "./adapters/local.ts";
import type { KeyProvider, KeyStore } from "./ports.ts";
import { KeyRing } from "./ring.ts";
import type { KeySettings } from "./settings.ts";

/** Dependencies of {@link createKeyRing}. */
export interface KeyRingDeps {
  readonly store: KeyStore;
  readonly clock: Clock;
  readonly log?: Logger;
  /** AWS region for KMS ("local" or absent: the SDK's default). */
  readonly region?: string;
  /** A ready KMS client (tests); otherwise one is created for the KMS modes. */
  readonly kms?: KMSClient;
}

/** The provider of the configured signer mode, and the KMS client it uses (if any). */
export function createKeyProvider(
  s: KeySettings,
  deps: Pick<KeyRingDeps, "region" | "kms">,
): {
  provider: KeyProvider;
  kms?: KMSClient;
} {
  if (s.signer === "local") return { provider: new LocalKeyProvider() };
  const kms =
    deps.kms ??
    createKmsClient({
      ...(s.kmsEndpoint ? { endpoint: s.kmsEndpoint } : {}),
      ...(deps.region && deps.region !== "local" ? { region: deps.region } : {}),
    });
  const provider =
    s.signer === "kms"
      ? new KmsKeyProvider(kms, {
          ...(s.kmsKeyId ? { bootstrapKeyId: s.kmsKeyId } : {}),
          replicaRegions: s.kmsReplicaRegions,
        })
      : new KmsEnvelopeKeyProvider(kms, { wrappingKeyId: s.kmsWrappingKeyId! });
  return { provider, kms };
}

/** A key ring for the settings; `kms` is the client to destroy on shutdown (when created here). */
export function createKeyRing(s: KeySettings, deps: KeyRingDeps): { ring: KeyRing; kms?: KMSClient } {
  const { provider, kms } = createKeyProvider(s, deps);
  const ring = new KeyRing({
    store: deps.store,
    provider,
    clock: deps.clock,
    ...(deps.log ? { log: deps.log } : {}),
    alg: s.alg,
    cacheTtlMs: s.cacheSeconds * 1000,
    publishBeforeUseMs: s.publishBeforeUseSeconds * 1000,
    maxTokenLifetimeMs: s.maxTokenLifetimeSeconds * 1000,
  });
  return kms ? { ring, kms } : { ring };
}
