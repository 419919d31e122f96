/**
 * Key ring settings from the environment (read once per cold start, and by the keys CLI).
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `PORTCULLIS_SIGNER` | `local`, `kms` or `kms-envelope` | `local` |
 * | `PORTCULLIS_SIGNING_ALG` | `ES256`, `RS256` or `EdDSA` for new keys | `ES256` |
 * | `PORTCULLIS_KMS_KEY_ID` | `kms`: the key an empty ring starts with (id, ARN, alias) | – |
 * | `PORTCULLIS_KMS_WRAPPING_KEY_ID` | `kms-envelope`: this region's symmetric wrapping key | – |
 * | `PORTCULLIS_KMS_ENDPOINT` | KMS endpoint override (the test stand-in) | – |
 * | `PORTCULLIS_KMS_REPLICA_REGIONS` | comma list: regions new KMS keys are replicated to | – |
 * | `PORTCULLIS_KEY_CACHE_SECONDS` | how long a container serves the loaded ring | 60 |
 * | `PORTCULLIS_JWKS_MAX_AGE` | `Cache-Control: max-age` of the JWKS | 300 |
 * | `PORTCULLIS_KEY_PUBLISH_SECONDS` | how long `next` is published before it may sign | JWKS max-age + cache + 60 |
 * | `PORTCULLIS_TOKEN_MAX_LIFETIME` | longest token lifetime (retention of `previous` keys) | 3600 |
 */
import { z } from "zod";
import { SIGNING_ALGS, type SigningAlg } from "./model.ts";

/** How tokens are signed. */
export type SignerMode = "local" | "kms" | "kms-envelope";

/** Validated key ring settings. */
export interface KeySettings {
  readonly signer: SignerMode;
  readonly alg: SigningAlg;
  readonly kmsKeyId?: string;
  readonly kmsWrappingKeyId?: string;
  readonly kmsEndpoint?: string;
  readonly kmsReplicaRegions: readonly string[];
  readonly cacheSeconds: number;
  readonly jwksMaxAgeSeconds: number;
  readonly publishBeforeUseSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
}

const seconds = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z
  .object({
    PORTCULLIS_SIGNER: z.enum(["local", "kms", "kms-envelope"]).default("local"),
    PORTCULLIS_SIGNING_ALG: z.enum(SIGNING_ALGS).default("ES256"),
    PORTCULLIS_KMS_KEY_ID: z.string().min(1).max(2048).optional(),
    PORTCULLIS_KMS_WRAPPING_KEY_ID: z.string().min(1).max(2048).optional(),
    PORTCULLIS_KMS_ENDPOINT: z.url().optional(),
    PORTCULLIS_KMS_REPLICA_REGIONS: z
      .string()
      .regex(
        /^([a-z]{2}(-[a-z]+)+-\d)(,[a-z]{2}(-[a-z]+)+-\d)*$/,
        "must be a comma-separated list of regions",
      )
      .optional(),
    PORTCULLIS_KEY_CACHE_SECONDS: seconds(0, 3600).default(60),
    PORTCULLIS_JWKS_MAX_AGE: seconds(0, 86_400).default(300),
    PORTCULLIS_KEY_PUBLISH_SECONDS: seconds(0, 30 * 86_400).optional(),
    PORTCULLIS_TOKEN_MAX_LIFETIME: seconds(60, 86_400).default(3600),
  })
  .superRefine((e, ctx) => {
    if (e.PORTCULLIS_SIGNER === "kms" && !e.PORTCULLIS_KMS_KEY_ID && !e.PORTCULLIS_KMS_ENDPOINT)
      ctx.addIssue({
        code: "custom",
        path: ["PORTCULLIS_KMS_KEY_ID"],
        message: "is required with PORTCULLIS_SIGNER=kms",
      });
    if (e.PORTCULLIS_SIGNER === "kms-envelope" && !e.PORTCULLIS_KMS_WRAPPING_KEY_ID)
      ctx.addIssue({
        code: "custom",
        path: ["PORTCULLIS_KMS_WRAPPING_KEY_ID"],
        message: "is required with PORTCULLIS_SIGNER=kms-envelope",
      });
  });

/** Reads the key settings; throws naming the offending variables (never their values). */
export function keySettingsFromEnv(env: NodeJS.ProcessEnv): KeySettings {
  const r = schema.safeParse(env);
  if (!r.success) {
    const bad = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid configuration: ${bad}`);
  }
  const e = r.data;
  return {
    signer: e.PORTCULLIS_SIGNER,
    alg: e.PORTCULLIS_SIGNING_ALG,
    ...(e.PORTCULLIS_KMS_KEY_ID ? { kmsKeyId: e.PORTCULLIS_KMS_KEY_ID } : {}),
    ...(e.PORTCULLIS_KMS_WRAPPING_KEY_ID ? { kmsWrappingKeyId: e.PORTCULLIS_KMS_WRAPPING_KEY_ID } : {}),
    ...(e.PORTCULLIS_KMS_ENDPOINT ? { kmsEndpoint: e.PORTCULLIS_KMS_ENDPOINT } : {}),
    kmsReplicaRegions: e.PORTCULLIS_KMS_REPLICA_REGIONS?.split(",") ?? [],
    cacheSeconds: e.PORTCULLIS_KEY_CACHE_SECONDS,
    jwksMaxAgeSeconds: e.PORTCULLIS_JWKS_MAX_AGE,
    publishBeforeUseSeconds:
      e.PORTCULLIS_KEY_PUBLISH_SECONDS ?? e.PORTCULLIS_JWKS_MAX_AGE + e.PORTCULLIS_KEY_CACHE_SECONDS + 60,
    maxTokenLifetimeSeconds: e.PORTCULLIS_TOKEN_MAX_LIFETIME,
  };
}
