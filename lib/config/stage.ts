/**
 * Typed deployment configuration: stage, regions, account. The only place account ids live.
 *
 * Values come from CDK context (`-c key=value` or `cdk.json`) and, for the account, the environment.
 * `resolveConfig` validates everything once so stacks can trust their props.
 */
import { RetentionDays } from "aws-cdk-lib/aws-logs";

/** Default regions: the first one is primary (tables, signing key and admin secret are created there). */
export const DEFAULT_REGIONS: readonly string[] = ["eu-west-1", "us-east-1"];

export interface ApiThrottle {
  /** Steady-state requests per second for the whole HTTP API stage. */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

export interface PortcullisConfig {
  /** Deployment stage, e.g. `dev` or `prod`; part of every stack and resource name. @default "dev" */
  readonly stage: string;
  /** Prefix of the physical DynamoDB table names (`<prefix>-<table id>`). @default "portcullis-<stage>" */
  readonly tablePrefix: string;
  /** Every region the platform runs in; the primary region is one of them. */
  readonly regions: readonly string[];
  /** Region holding the global tables' source, the primary multi-region signing key and the admin secret. */
  readonly primaryRegion: string;
  /** AWS account id; `undefined` synthesizes account-agnostic stacks (region is always explicit). */
  readonly account: string | undefined;
  /** CloudWatch Contributor Insights on the tables. @default false */
  readonly contributorInsights: boolean;
  /** Retention of Lambda and API access logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention: RetentionDays;
  /**
   * OAuth/OIDC issuer URL (`PORTCULLIS_ISSUER`). Should be one global URL (custom domain with latency
   * routing) so tokens verify in every region. @default the regional HTTP API endpoint
   */
  readonly issuer: string | undefined;
  /** HTTP API stage throttling. @default { rateLimit: 1000, burstLimit: 2000 } */
  readonly apiThrottle: ApiThrottle;
}

/** The non-primary regions, in configured order. */
export const replicaRegions = (config: PortcullisConfig): string[] =>
  config.regions.filter((r) => r !== config.primaryRegion);

/** Reads one context value (`app.node.tryGetContext`). */
export type ContextReader = (key: string) => unknown;

export interface ConfigSources {
  readonly context: ContextReader;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const STAGE_RE = /^[a-z][a-z0-9-]{0,19}$/;
const ACCOUNT_RE = /^\d{12}$/;
const PREFIX_RE = /^[A-Za-z0-9_.-]{3,200}$/;

/** Thrown for an invalid configuration; the message says which key and why. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const str = (value: unknown, key: string): string | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(`context "${key}" must be a string`);
  return value.trim();
};

const list = (value: unknown, key: string): string[] | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter((v) => v !== "");
  if (typeof value === "string") {
    return value
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
  }
  throw new ConfigError(`context "${key}" must be a comma-separated string or a list`);
};

const bool = (value: unknown, key: string): boolean | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ConfigError(`context "${key}" must be true or false`);
};

const positiveInt = (value: unknown, key: string): number | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`context "${key}" must be a positive integer`);
  return n;
};

const RETENTIONS = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === "number"),
);

/**
 * Builds and validates the configuration.
 *
 * Context keys: `stage`, `tablePrefix`, `regions` (comma-separated), `primaryRegion` (default: first
 * of `regions`), `account`, `contributorInsights`, `logRetentionDays`, `issuer`, `apiRateLimit`,
 * `apiBurstLimit`. The account falls back to `PORTCULLIS_ACCOUNT`, then `CDK_DEFAULT_ACCOUNT`.
 *
 * @example resolveConfig({ context: (k) => app.node.tryGetContext(k), env: process.env })
 */
export const resolveConfig = ({ context, env = {} }: ConfigSources): PortcullisConfig => {
  const stage = str(context("stage"), "stage") ?? "dev";
  if (!STAGE_RE.test(stage)) {
    throw new ConfigError(`stage "${stage}" must match ${STAGE_RE} (lowercase, starts with a letter)`);
  }

  const tablePrefix = str(context("tablePrefix"), "tablePrefix") ?? `portcullis-${stage}`;
  if (!PREFIX_RE.test(tablePrefix))
    throw new ConfigError(`tablePrefix "${tablePrefix}" must match ${PREFIX_RE}`);

  const regions = list(context("regions"), "regions") ?? [...DEFAULT_REGIONS];
  if (regions.length === 0) throw new ConfigError("regions must name at least one region");
  for (const r of regions) {
    if (!REGION_RE.test(r)) throw new ConfigError(`region "${r}" is not a valid AWS region name`);
  }
  if (new Set(regions).size !== regions.length)
    throw new ConfigError(`regions contain duplicates: ${regions}`);

  const primaryRegion = str(context("primaryRegion"), "primaryRegion") ?? regions[0]!;
  if (!regions.includes(primaryRegion)) {
    throw new ConfigError(`primaryRegion "${primaryRegion}" is not one of regions (${regions.join(",")})`);
  }

  const account =
    str(context("account"), "account") ??
    str(env.PORTCULLIS_ACCOUNT, "PORTCULLIS_ACCOUNT") ??
    str(env.CDK_DEFAULT_ACCOUNT, "CDK_DEFAULT_ACCOUNT");
  if (account !== undefined && !ACCOUNT_RE.test(account)) {
    throw new ConfigError(`account "${account}" must be a 12-digit AWS account id`);
  }

  const retention = positiveInt(context("logRetentionDays"), "logRetentionDays") ?? RetentionDays.ONE_MONTH;
  if (!RETENTIONS.has(retention)) {
    throw new ConfigError(`logRetentionDays ${retention} is not a CloudWatch Logs retention value`);
  }

  const issuer = str(context("issuer"), "issuer");
  if (issuer !== undefined && !/^https:\/\/[^\s/]+(\/\S*)?$/.test(issuer)) {
    throw new ConfigError(`issuer "${issuer}" must be an https URL`);
  }

  return {
    stage,
    tablePrefix,
    regions,
    primaryRegion,
    account,
    contributorInsights: bool(context("contributorInsights"), "contributorInsights") ?? false,
    logRetention: retention as RetentionDays,
    issuer,
    apiThrottle: {
      rateLimit: positiveInt(context("apiRateLimit"), "apiRateLimit") ?? 1000,
      burstLimit: positiveInt(context("apiBurstLimit"), "apiBurstLimit") ?? 2000,
    },
  };
};
