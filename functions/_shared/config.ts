import { z } from "zod";
import { type AuditSettings, auditSettingsFromEnv } from "../../src/audit/settings.ts";
import { type AuthzHttpSettings, authzSettingsFromEnv } from "../../src/authz/http/settings.ts";
import { type KeySettings, keySettingsFromEnv } from "../../src/keys/settings.ts";
import { EMAIL_STEP_LIMITS, type EmailStepLimits } from "../../src/sessions/email-step-limit.ts";
import type { LogLevel } from "../../src/shared/logger.ts";

/** Platform configuration, from the environment; validated once per cold start. */
export interface PlatformConfig {
  readonly store: "memory" | "dynamodb";
  /** DynamoDB endpoint override (DynamoDB Local); absent in AWS. */
  readonly dynamodbEndpoint?: string;
  readonly tablePrefix: string;
  readonly region: string;
  /** Public base URL; later the token issuer. */
  readonly issuer: string;
  /** Platform admin key (local); in AWS read from `adminKeySecretArn` at cold start. */
  readonly adminKey?: string;
  readonly adminKeySecretArn?: string;
  readonly logLevel: LogLevel;
  /** Request body limit in bytes. @default 1048576 */
  readonly bodyLimit: number;
  /** Signing keys: signer mode (local | kms | kms-envelope), KMS ids, timings (src/keys/settings.ts). */
  readonly keys: KeySettings;
  /** Audience of the platform's own APIs in access tokens (`PORTCULLIS_API_AUDIENCE`). @default issuer */
  readonly apiAudience?: string;
  /** Default access token lifetime in seconds (`PORTCULLIS_TOKEN_LIFETIME`). @default 600 */
  readonly tokenLifetime: number;
  /**
   * Seconds an authenticated client record is kept per container (`PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS`;
   * 0: read on every request): a secret rotated or a client deleted elsewhere works here that long.
   * @default 5
   */
  readonly clientAuthCacheSeconds: number;
  /** End-user sign-in: session timeouts, refresh-token lifetime, password KDF cost (docs/SIGNIN.md). */
  readonly signIn: SignInSettings;
  /** Authorization API: caches, consistency, list limits (`PORTCULLIS_AUTHZ_*`, src/authz/http/settings.ts). */
  readonly authz: AuthzHttpSettings;
  /**
   * Audit pipeline: bus, dead-letter queue, retention, metrics, flush timing (`PORTCULLIS_AUDIT_*`,
   * src/audit/settings.ts; `PORTCULLIS_AUDIT_FLUSH`: functions/_shared/audit-extension.ts).
   */
  readonly audit: AuditSettings;
}

/** Settings of end-user sign-in (docs/SIGNIN.md). */
export interface SignInSettings {
  /** `PORTCULLIS_SESSION_IDLE_TIMEOUT` (s). @default 1800 */
  readonly sessionIdleTimeout: number;
  /** `PORTCULLIS_SESSION_MAX_LIFETIME` (s). @default 43200 */
  readonly sessionMaxLifetime: number;
  /** `PORTCULLIS_REFRESH_TOKEN_LIFETIME` (s). @default 2592000 */
  readonly refreshTokenLifetime: number;
  /** `PORTCULLIS_PASSWORD_SCRYPT_LN`: log2 of scrypt's N. @default 17 */
  readonly scryptLn: number;
  /**
   * Rate limit of the email step: `PORTCULLIS_EMAIL_STEP_IP_LIMIT` (60),
   * `PORTCULLIS_EMAIL_STEP_TENANT_IP_LIMIT` (30) submissions per `PORTCULLIS_EMAIL_STEP_WINDOW` (300 s).
   */
  readonly emailStepLimits: EmailStepLimits;
}

const envSchema = z.object({
  PORTCULLIS_STORE: z.enum(["memory", "dynamodb"]).default("memory"),
  PORTCULLIS_DYNAMODB_ENDPOINT: z.url().optional(),
  PORTCULLIS_TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,200}$/)
    .default("portcullis-local"),
  PORTCULLIS_REGION: z.string().min(1).optional(),
  AWS_REGION: z.string().min(1).optional(),
  PORTCULLIS_ISSUER: z.url().optional(),
  PORTCULLIS_ADMIN_KEY: z.string().min(1).max(512).optional(),
  PORTCULLIS_ADMIN_KEY_SECRET_ARN: z.string().min(1).optional(),
  PORTCULLIS_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  PORTCULLIS_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  PORTCULLIS_API_AUDIENCE: z.string().min(1).max(256).optional(),
  PORTCULLIS_TOKEN_LIFETIME: z.coerce.number().int().min(60).max(86_400).default(600),
  PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS: z.coerce.number().min(0).max(60).default(5),
  PORTCULLIS_SESSION_IDLE_TIMEOUT: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 86_400)
    .default(1800),
  PORTCULLIS_SESSION_MAX_LIFETIME: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 86_400)
    .default(43_200),
  PORTCULLIS_REFRESH_TOKEN_LIFETIME: z.coerce
    .number()
    .int()
    .min(300)
    .max(365 * 86_400)
    .default(2_592_000),
  PORTCULLIS_PASSWORD_SCRYPT_LN: z.coerce.number().int().min(10).max(20).default(17),
  PORTCULLIS_EMAIL_STEP_IP_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(EMAIL_STEP_LIMITS.perIp),
  PORTCULLIS_EMAIL_STEP_TENANT_IP_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(EMAIL_STEP_LIMITS.perTenantIp),
  PORTCULLIS_EMAIL_STEP_WINDOW: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(EMAIL_STEP_LIMITS.windowSeconds),
});

/**
 * Reads the configuration from `env`. Throws with the offending variable names (never their values)
 * when something is malformed.
 */
export function configFromEnv(env: NodeJS.ProcessEnv, defaults: { issuer: string }): PlatformConfig {
  const r = envSchema.safeParse(env);
  if (!r.success) {
    const bad = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid configuration: ${bad}`);
  }
  const e = r.data;
  const keys = keySettingsFromEnv(env);
  const authz = authzSettingsFromEnv(env);
  const audit = auditSettingsFromEnv(env, {
    store: e.PORTCULLIS_STORE,
    ...(e.PORTCULLIS_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: e.PORTCULLIS_DYNAMODB_ENDPOINT } : {}),
  });
  // Local keys live in the key table in plaintext: only for the memory store or DynamoDB Local.
  if (keys.signer === "local" && e.PORTCULLIS_STORE === "dynamodb" && !e.PORTCULLIS_DYNAMODB_ENDPOINT)
    throw new Error("Invalid configuration: PORTCULLIS_SIGNER: use kms or kms-envelope with DynamoDB in AWS");
  if (e.PORTCULLIS_TOKEN_LIFETIME > keys.maxTokenLifetimeSeconds)
    throw new Error(
      "Invalid configuration: PORTCULLIS_TOKEN_LIFETIME: exceeds PORTCULLIS_TOKEN_MAX_LIFETIME",
    );
  return {
    store: e.PORTCULLIS_STORE,
    ...(e.PORTCULLIS_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: e.PORTCULLIS_DYNAMODB_ENDPOINT } : {}),
    tablePrefix: e.PORTCULLIS_TABLE_PREFIX,
    region: e.PORTCULLIS_REGION ?? e.AWS_REGION ?? "local",
    issuer: (e.PORTCULLIS_ISSUER ?? defaults.issuer).replace(/\/+$/, ""),
    ...(e.PORTCULLIS_ADMIN_KEY ? { adminKey: e.PORTCULLIS_ADMIN_KEY } : {}),
    ...(e.PORTCULLIS_ADMIN_KEY_SECRET_ARN ? { adminKeySecretArn: e.PORTCULLIS_ADMIN_KEY_SECRET_ARN } : {}),
    logLevel: e.PORTCULLIS_LOG_LEVEL,
    bodyLimit: e.PORTCULLIS_BODY_LIMIT,
    keys,
    ...(e.PORTCULLIS_API_AUDIENCE ? { apiAudience: e.PORTCULLIS_API_AUDIENCE } : {}),
    tokenLifetime: e.PORTCULLIS_TOKEN_LIFETIME,
    clientAuthCacheSeconds: e.PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS,
    signIn: {
      sessionIdleTimeout: Math.min(e.PORTCULLIS_SESSION_IDLE_TIMEOUT, e.PORTCULLIS_SESSION_MAX_LIFETIME),
      sessionMaxLifetime: e.PORTCULLIS_SESSION_MAX_LIFETIME,
      refreshTokenLifetime: e.PORTCULLIS_REFRESH_TOKEN_LIFETIME,
      scryptLn: e.PORTCULLIS_PASSWORD_SCRYPT_LN,
      emailStepLimits: {
        perIp: e.PORTCULLIS_EMAIL_STEP_IP_LIMIT,
        perTenantIp: e.PORTCULLIS_EMAIL_STEP_TENANT_IP_LIMIT,
        windowSeconds: e.PORTCULLIS_EMAIL_STEP_WINDOW,
      },
    },
    authz,
    audit,
  };
}
