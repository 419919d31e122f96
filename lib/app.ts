/**
 * Builds the Portcullis stacks for a configuration: one stack set per region. Used by `bin/app.ts`
 * and by the infra tests, so both synthesize exactly the same thing.
 *
 * Primary region: Keys (primary signing key, admin secret), Data (global tables), Audit, Api.
 * Other regions: Keys (replica signing key), Audit, Api. The table replicas of those regions are
 * created by the primary Data stack.
 */
import { type App, type Environment, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { FUNCTIONS, type FunctionSpec } from "./config/functions.ts";
import { stackName } from "./config/names.ts";
import { type PortcullisConfig, replicaRegions } from "./config/stage.ts";
import { ApiStack } from "./stacks/api-stack.ts";
import { AuditStack } from "./stacks/audit-stack.ts";
import { DataStack } from "./stacks/data-stack.ts";
import { KeysStack } from "./stacks/keys-stack.ts";

export interface RegionStacks {
  readonly region: string;
  readonly keys: KeysStack;
  readonly audit: AuditStack;
  readonly api: ApiStack;
}

export interface PortcullisStacks {
  /** The global tables (primary region). */
  readonly data: DataStack;
  /** Stacks per region, in configured order. */
  readonly regions: ReadonlyMap<string, RegionStacks>;
}

export interface BuildOptions {
  /** Functions to deploy. @default FUNCTIONS */
  readonly functions?: readonly FunctionSpec[];
  /** Apply the cdk-nag AwsSolutions checks to every stack. @default true */
  readonly nag?: boolean;
}

/** Adds every Portcullis stack for `config` to `app`. */
export const buildApp = (
  app: App,
  config: PortcullisConfig,
  options: BuildOptions = {},
): PortcullisStacks => {
  const envFor = (region: string): Environment =>
    config.account === undefined ? { region } : { account: config.account, region };
  const others = replicaRegions(config);

  Tags.of(app).add("project", "portcullis");
  Tags.of(app).add("portcullis:stage", config.stage);

  const primaryKeys = new KeysStack(app, stackName(config, "Keys", config.primaryRegion), {
    env: envFor(config.primaryRegion),
    description: `Portcullis ${config.stage}: primary multi-region signing key and admin key secret`,
    config,
    secretReplicaRegions: others,
    // The replica keys in other regions need this key's ARN (SSM-backed cross-region reference).
    crossRegionReferences: others.length > 0,
  });

  const data = new DataStack(app, stackName(config, "Data", config.primaryRegion), {
    env: envFor(config.primaryRegion),
    description: `Portcullis ${config.stage}: DynamoDB global tables (replicas: ${others.join(", ") || "none"})`,
    config,
  });

  const regions = new Map<string, RegionStacks>();
  for (const region of config.regions) {
    const keys =
      region === config.primaryRegion
        ? primaryKeys
        : new KeysStack(app, stackName(config, "Keys", region), {
            env: envFor(region),
            description: `Portcullis ${config.stage}: replica of the multi-region signing key`,
            config,
            primaryKeyArn: primaryKeys.signingKeyArn,
            crossRegionReferences: true,
          });
    const audit = new AuditStack(app, stackName(config, "Audit", region), {
      env: envFor(region),
      description: `Portcullis ${config.stage}: audit event bus`,
      config,
    });
    const api = new ApiStack(app, stackName(config, "Api", region), {
      env: envFor(region),
      description: `Portcullis ${config.stage}: HTTP API and functions`,
      config,
      functions: options.functions ?? FUNCTIONS,
      bus: audit.bus,
      signingKeyArn: keys.signingKeyArn,
    });
    // Found by name, not by reference: the tables (replicas) and the replicated admin secret.
    api.addStackDependency(data, "tables and their replicas must exist");
    api.addStackDependency(primaryKeys, "the admin key secret (replicated) must exist");
    regions.set(region, { region, keys, audit, api });
  }

  // cdk-nag v3 is a policy validation plugin: unacknowledged findings fail `cdk synth`.
  if (options.nag ?? true)
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    );
  return { data, regions };
};
