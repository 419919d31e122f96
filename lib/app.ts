/**
 * Builds the Portcullis stacks for a configuration: one stack set per region. Used by `bin/app.ts`
 * and by the infra tests, so both synthesize exactly the same thing.
 *
 * Primary region: Keys (primary signing and wrapping keys, KMS roles, admin secret), Data (global
 * tables), Audit, Api. Other regions: Keys (replica keys, KMS roles), Audit, Api. The table
 * replicas of those regions are created by the primary Data stack.
 *
 * Issuer: `PORTCULLIS_ISSUER` and `PORTCULLIS_API_AUDIENCE` are the same in every region. Without
 * `issuer`, a single region uses its API endpoint; several regions all use the primary region's
 * API endpoint (a warning recommends a custom domain), never one URL per region.
 */
import { Annotations, type App, type Environment, Tags, Validations } from "aws-cdk-lib";
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
    description: `Portcullis ${config.stage}: primary multi-region token keys, KMS roles and admin key secret`,
    config,
    secretReplicaRegions: others,
    // The replica keys in other regions need the keys' ARNs (weak cross-region references).
    crossRegionReferences: others.length > 0,
  });

  const data = new DataStack(app, stackName(config, "Data", config.primaryRegion), {
    env: envFor(config.primaryRegion),
    description: `Portcullis ${config.stage}: DynamoDB global tables (replicas: ${others.join(", ") || "none"})`,
    config,
  });

  // Without a configured issuer, every region of a multi-region deployment uses the primary
  // region's endpoint (a weak cross-region reference), so it is built first.
  const sharedIssuerFromPrimary = config.issuer === undefined && others.length > 0;
  let primaryApi: ApiStack | undefined;
  const built = new Map<string, RegionStacks>();
  for (const region of [config.primaryRegion, ...others]) {
    const keys =
      region === config.primaryRegion
        ? primaryKeys
        : new KeysStack(app, stackName(config, "Keys", region), {
            env: envFor(region),
            description: `Portcullis ${config.stage}: replicas of the multi-region token keys, KMS roles`,
            config,
            primary: { signingKeyArn: primaryKeys.signingKeyArn, wrappingKeyArn: primaryKeys.wrappingKeyArn },
            crossRegionReferences: true,
          });
    const audit = new AuditStack(app, stackName(config, "Audit", region), {
      env: envFor(region),
      description: `Portcullis ${config.stage}: audit bus, writer, archive, S3 sink, spill queue and alarms`,
      config,
      emitters: (options.functions ?? FUNCTIONS).filter((f) => f.emitsEvents).map((f) => f.id),
    });
    // The writer stores into the audit table (a replica outside the primary region).
    audit.addStackDependency(data, "the audit table (and its replicas) must exist");
    const issuer = config.issuer ?? primaryApi?.api.apiEndpoint;
    const api = new ApiStack(app, stackName(config, "Api", region), {
      env: envFor(region),
      description: `Portcullis ${config.stage}: HTTP API and functions`,
      config,
      functions: options.functions ?? FUNCTIONS,
      bus: audit.bus,
      spillQueue: audit.spillQueue,
      forwarder: audit.forwarder.function,
      ...(issuer === undefined ? {} : { issuer }),
      crossRegionReferences: sharedIssuerFromPrimary,
    });
    if (region === config.primaryRegion) {
      primaryApi = api;
      if (sharedIssuerFromPrimary)
        Annotations.of(api).addWarningV2(
          "@portcullis/issuer-default",
          `No issuer configured: every region uses this region's API endpoint as issuer and API audience, so token issuance and discovery depend on ${region}. Set -c issuer=https://<shared custom domain> (docs/DEPLOY.md "Issuer").`,
        );
    }
    // Found by name, not by reference: the tables (replicas), the replicated admin secret, and the
    // signer and key admin roles the functions run as.
    api.addStackDependency(data, "tables and their replicas must exist");
    api.addStackDependency(primaryKeys, "the admin key secret (replicated) must exist");
    if (keys !== primaryKeys) api.addStackDependency(keys, "the KMS roles and key aliases must exist");
    built.set(region, { region, keys, audit, api });
  }
  const regions = new Map<string, RegionStacks>(config.regions.map((r) => [r, built.get(r)!]));

  // cdk-nag v3 is a policy validation plugin: unacknowledged findings fail `cdk synth`.
  if (options.nag ?? true)
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    );
  return { data, regions };
};
