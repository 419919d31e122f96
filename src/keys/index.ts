/**
 * Signing keys: the public surface of the module (types, the key ring, its wiring, admin routes).
 * Adapters are imported from `./adapters/*` by the composition root only.
 */
export { keyRoutes } from "./http.ts";
export type { KeyMaterial, KeyRecord, KeySource, KeyState, PublicJwk, SigningAlg } from "./model.ts";
export type { KeyProvider, KeyStore, Signer } from "./ports.ts";
export { KeyRing, type KeyRingOptions, type RotationResult } from "./ring.ts";
export { type KeySettings, keySettingsFromEnv, type SignerMode } from "./settings.ts";
export { createKeyRing } from "./setup.ts";
