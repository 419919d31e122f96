/**
 * Contract tests of the synthesized stacks: global tables, multi-region signing key, bus, HTTP API
 * routes, function defaults, least-privilege IAM, and cdk-nag. One app (two regions) is synthesized
 * in-process through `buildApp`, exactly as `bin/app.ts` does, without bundling (see bundling.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnResource, type Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type PortcullisStacks } from "../../lib/app.ts";
import { FUNCTIONS, type FunctionSpec } from "../../lib/config/functions.ts";
import { adminKeySecretName, eventBusName, signingKeyAlias, stackName } from "../../lib/config/names.ts";
import { type PortcullisConfig, resolveConfig } from "../../lib/config/stage.ts";
import { TABLES, tableName } from "../../src/shared/tables.ts";

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
}

const REGIONS = ["eu-west-1", "us-east-1"] as const;
const [PRIMARY, REPLICA] = REGIONS;
const FLAGS = (
  JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as { context: Json }
).context;

/** Synthesizes the whole app like `cdk synth` would, minus asset bundling. */
const synthesize = (
  context: Json,
): { app: App; stacks: PortcullisStacks; config: PortcullisConfig; outdir: string } => {
  const outdir = mkdtempSync(join(tmpdir(), "portcullis-infra-"));
  const app = new App({ outdir, context: { ...FLAGS, "aws:cdk:bundling-stacks": [], ...context } });
  const config = resolveConfig({ context: (key) => app.node.tryGetContext(key), env: {} });
  const stacks = buildApp(app, config);
  app.synth(); // runs the cdk-nag plugin: throws on unacknowledged findings
  return { app, stacks, config, outdir };
};

const resources = (stack: Stack, type: string): Record<string, Resource> =>
  Template.fromStack(stack).findResources(type) as Record<string, Resource>;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const isAccountRoot = (principal: unknown): boolean => {
  const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
  return JSON.stringify(aws ?? null)
    .replace(/[\s"]/g, "")
    .endsWith(":root]]}");
};

/** Every Allow statement attached to a role: its default policy, other policies and inline ones. */
const roleStatements = (stack: Stack, roleLogicalId: string): Statement[] => {
  const template = Template.fromStack(stack);
  const role = template.toJSON().Resources[roleLogicalId] as Resource;
  expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  const inline = asArray(role.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[]);
  const attached = Object.values(resources(stack, "AWS::IAM::Policy")).filter((p) =>
    JSON.stringify(p.Properties?.Roles).includes(`"${roleLogicalId}"`),
  );
  return [
    ...inline.map((p) => p.PolicyDocument),
    ...attached.map((p) => p.Properties?.PolicyDocument as { Statement: Statement[] }),
  ]
    .flatMap((doc) => doc.Statement)
    .filter((s) => s.Effect === "Allow");
};

const functionLogicalIds = (stacks: PortcullisStacks, region: string, spec: FunctionSpec) => {
  const api = stacks.regions.get(region)!.api;
  const fn = api.functions.get(spec.id)!;
  return {
    fn: api.getLogicalId(fn.function.node.defaultChild as CfnResource),
    role: api.getLogicalId(fn.role.node.defaultChild as CfnResource),
  };
};

const specOf = (id: string): FunctionSpec => (FUNCTIONS as readonly FunctionSpec[]).find((f) => f.id === id)!;

let synth: ReturnType<typeof synthesize>;
beforeAll(() => {
  synth = synthesize({ stage: "test", regions: REGIONS.join(",") });
});
afterAll(() => rmSync(synth.outdir, { recursive: true, force: true }));

describe("stacks", () => {
  it("creates one stack set per region, data only in the primary", () => {
    const names = synth.app.node.children
      .filter((c): c is Stack => "templateFile" in c)
      .map((s) => s.stackName)
      .sort();
    expect(names).toEqual(
      [
        ...["Keys", "Data", "Audit", "Api"].map((k) => stackName(synth.config, k as "Data", PRIMARY)),
        ...["Keys", "Audit", "Api"].map((k) => stackName(synth.config, k as "Data", REPLICA)),
      ].sort(),
    );
    for (const region of REGIONS) {
      const set = synth.stacks.regions.get(region)!;
      for (const stack of [set.keys, set.audit, set.api]) expect(stack.region).toBe(region);
    }
    expect(synth.stacks.data.region).toBe(PRIMARY);
  });
});

describe("data: global tables", () => {
  it("has exactly the tables of src/shared/tables.ts and nothing else", () => {
    const tables = resources(synth.stacks.data, "AWS::DynamoDB::GlobalTable");
    expect(Object.values(tables).map((t) => t.Properties?.TableName)).toEqual(
      TABLES.map((d) => tableName(synth.config.tablePrefix, d.id)),
    );
    for (const set of synth.stacks.regions.values()) {
      for (const stack of [set.keys, set.audit, set.api]) {
        expect(resources(stack, "AWS::DynamoDB::GlobalTable")).toEqual({});
        expect(resources(stack, "AWS::DynamoDB::Table")).toEqual({});
      }
    }
  });

  it.each(TABLES.map((d) => [d.id, d] as const))(
    "%s: keys, GSIs, TTL, PITR, protection, replicas",
    (_, def) => {
      const [table] = Object.values(
        Template.fromStack(synth.stacks.data).findResources("AWS::DynamoDB::GlobalTable", {
          Properties: { TableName: tableName(synth.config.tablePrefix, def.id) },
        }),
      ) as Resource[];
      const p = table!.Properties!;
      expect(table!.DeletionPolicy).toBe("Retain");
      expect(p.BillingMode).toBe("PAY_PER_REQUEST");
      expect(p.KeySchema).toEqual([
        { AttributeName: def.partitionKey.name, KeyType: "HASH" },
        { AttributeName: def.sortKey.name, KeyType: "RANGE" },
      ]);
      const keys = [
        def.partitionKey,
        def.sortKey,
        ...def.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ];
      expect(p.AttributeDefinitions).toEqual(
        expect.arrayContaining(keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type }))),
      );
      expect(p.GlobalSecondaryIndexes).toEqual(
        def.globalSecondaryIndexes.map((i) => ({
          IndexName: i.indexName,
          KeySchema: [
            { AttributeName: i.partitionKey.name, KeyType: "HASH" },
            { AttributeName: i.sortKey.name, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        })),
      );
      expect(p.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
      expect(p.SSESpecification).toMatchObject({ SSEEnabled: true });

      const replicas = p.Replicas as Json[];
      expect(replicas.map((r) => r.Region).sort()).toEqual([...REGIONS].sort());
      for (const replica of replicas) {
        expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(replica.DeletionProtectionEnabled).toBe(true);
      }
    },
  );
});

describe("keys", () => {
  const keyPolicyIsRootOnly = (policy: { Statement: Statement[] }) => {
    for (const s of policy.Statement.filter((st) => st.Effect === "Allow")) {
      expect(JSON.stringify(s.Principal ?? null)).not.toMatch(/"\*"/);
      if (asArray(s.Action).some((a) => a === "kms:*" || a === "*"))
        expect(isAccountRoot(s.Principal)).toBe(true);
    }
  };

  it("primary region: multi-region ECC_NIST_P256 SIGN_VERIFY key, retained, root-only kms:*", () => {
    const stack = synth.stacks.regions.get(PRIMARY)!.keys;
    const keys = Object.values(resources(stack, "AWS::KMS::Key"));
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    expect(key.DeletionPolicy).toBe("Retain");
    expect(key.Properties).toMatchObject({
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      MultiRegion: true,
    });
    keyPolicyIsRootOnly(key.Properties!.KeyPolicy as { Statement: Statement[] });
    expect(key.Properties!.Tags).toContainEqual({ Key: "portcullis:purpose", Value: "token-signing" });
    expect(resources(stack, "AWS::KMS::ReplicaKey")).toEqual({});
  });

  it("other regions: a replica of the primary key with the same policy shape", () => {
    const stack = synth.stacks.regions.get(REPLICA)!.keys;
    expect(resources(stack, "AWS::KMS::Key")).toEqual({});
    const replicas = Object.values(resources(stack, "AWS::KMS::ReplicaKey"));
    expect(replicas).toHaveLength(1);
    const replica = replicas[0]!;
    expect(replica.DeletionPolicy).toBe("Retain");
    keyPolicyIsRootOnly(replica.Properties!.KeyPolicy as { Statement: Statement[] });
    expect(replica.Properties!.Tags).toContainEqual({ Key: "portcullis:purpose", Value: "token-signing" });
    // The primary key's ARN, read from the primary Keys stack in the primary region.
    const ref = JSON.stringify(replica.Properties!.PrimaryKeyArn);
    expect(ref).toContain(stackName(synth.config, "Keys", PRIMARY));
    expect(ref).toContain(PRIMARY);
  });

  it("every region has the signing key alias", () => {
    for (const region of REGIONS) {
      const aliases = Object.values(resources(synth.stacks.regions.get(region)!.keys, "AWS::KMS::Alias"));
      expect(aliases.map((a) => a.Properties?.AliasName)).toEqual([signingKeyAlias(synth.config)]);
      expect(JSON.stringify(aliases[0]!.Properties?.TargetKeyId)).toContain('"Ref":"SigningKey"');
    }
  });

  it("admin key secret: generated (no value in the template), replicated to the other regions", () => {
    const secrets = Object.values(
      resources(synth.stacks.regions.get(PRIMARY)!.keys, "AWS::SecretsManager::Secret"),
    );
    expect(secrets).toHaveLength(1);
    const p = secrets[0]!.Properties!;
    expect(p.Name).toBe(adminKeySecretName(synth.config));
    expect(p.SecretString).toBeUndefined();
    expect(p.GenerateSecretString).toMatchObject({ ExcludePunctuation: true });
    expect(p.ReplicaRegions).toEqual([{ Region: REPLICA }]);
    expect(resources(synth.stacks.regions.get(REPLICA)!.keys, "AWS::SecretsManager::Secret")).toEqual({});
  });
});

describe("audit", () => {
  it("every region has the audit bus", () => {
    for (const region of REGIONS) {
      const buses = Object.values(
        resources(synth.stacks.regions.get(region)!.audit, "AWS::Events::EventBus"),
      );
      expect(buses.map((b) => b.Properties?.Name)).toEqual([eventBusName(synth.config)]);
    }
  });
});

describe.each(REGIONS)("api (%s)", (region) => {
  const api = () => synth.stacks.regions.get(region)!.api;

  it("has exactly the configured routes, each integrated with its function", () => {
    const template = Template.fromStack(api());
    const all = template.toJSON().Resources as Record<string, Resource>;
    const routes = Object.values(resources(api(), "AWS::ApiGatewayV2::Route"));
    expect(routes.map((r) => r.Properties?.RouteKey).sort()).toEqual(
      FUNCTIONS.flatMap((f) => f.routes).sort(),
    );
    for (const spec of FUNCTIONS) {
      const { fn } = functionLogicalIds(synth.stacks, region, spec);
      for (const routeKey of spec.routes) {
        const route = routes.find((r) => r.Properties?.RouteKey === routeKey)!;
        const integrationId = JSON.stringify(route.Properties?.Target).match(/"Ref":"([^"]+)"/)?.[1];
        const integration = all[integrationId!]!;
        expect(integration.Properties).toMatchObject({
          IntegrationType: "AWS_PROXY",
          PayloadFormatVersion: "2.0",
          IntegrationUri: { "Fn::GetAtt": [fn, "Arn"] },
        });
      }
    }
  });

  it("default stage logs access and throttles", () => {
    const stages = Object.values(resources(api(), "AWS::ApiGatewayV2::Stage"));
    expect(stages).toHaveLength(1);
    expect(stages[0]!.Properties).toMatchObject({
      StageName: "$default",
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: expect.anything(),
        Format: expect.stringContaining("$context.requestId"),
      },
      DefaultRouteSettings: {
        ThrottlingRateLimit: synth.config.apiThrottle.rateLimit,
        ThrottlingBurstLimit: synth.config.apiThrottle.burstLimit,
      },
    });
  });

  it("functions: nodejs22.x, arm64, X-Ray, own log group with retention, reserved env", () => {
    const fns = resources(api(), "AWS::Lambda::Function");
    expect(Object.keys(fns)).toHaveLength(FUNCTIONS.length);
    const logGroups = resources(api(), "AWS::Logs::LogGroup");
    for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
      const { fn } = functionLogicalIds(synth.stacks, region, spec);
      const p = fns[fn]!.Properties!;
      expect(p).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        MemorySize: 512,
        Timeout: 10,
        TracingConfig: { Mode: "Active" },
      });
      const logGroupId = (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups[logGroupId]!.Properties?.RetentionInDays).toBe(synth.config.logRetention);
      const env = (p.Environment as { Variables: Json }).Variables;
      expect(env).toMatchObject({
        NODE_OPTIONS: "--enable-source-maps",
        PORTCULLIS_TABLE_PREFIX: synth.config.tablePrefix,
        PORTCULLIS_REGION: region,
        PORTCULLIS_STORE: "dynamodb",
        PORTCULLIS_EVENT_BUS: eventBusName(synth.config),
        PORTCULLIS_ISSUER: expect.anything(),
        PORTCULLIS_SIGNER: "kms",
        PORTCULLIS_KMS_KEY_ID: signingKeyAlias(synth.config),
      });
      expect("PORTCULLIS_ADMIN_KEY_SECRET_ARN" in env).toBe(spec.authenticates ?? true);
    }
  });

  it("IAM: admin reaches only the platform table (and its index), health no table at all", () => {
    const admin = roleStatements(api(), functionLogicalIds(synth.stacks, region, specOf("admin")).role);
    const health = roleStatements(api(), functionLogicalIds(synth.stacks, region, specOf("health")).role);
    const isDynamo = (s: Statement) => asArray(s.Action).some((a) => a.startsWith("dynamodb:") || a === "*");

    const adminDynamo = admin.filter(isDynamo);
    expect(adminDynamo.length).toBeGreaterThan(0);
    for (const s of adminDynamo) {
      expect(asArray(s.Action)).not.toContain("dynamodb:*");
      const targets = asArray(s.Resource).map((r) => JSON.stringify(r));
      for (const t of targets) {
        expect(t).not.toBe('"*"');
        expect(t).toMatch(
          new RegExp(`:table/${tableName(synth.config.tablePrefix, "platform")}(/index/gsi1)?"`),
        );
      }
      expect(asArray(s.Action)).toEqual(expect.arrayContaining(["dynamodb:PutItem", "dynamodb:Query"]));
    }
    expect(health.filter(isDynamo)).toEqual([]);
    expect(health.some((s) => asArray(s.Action).some((a) => a.startsWith("secretsmanager:")))).toBe(false);

    const secretReads = admin.filter((s) => asArray(s.Action).includes("secretsmanager:GetSecretValue"));
    expect(JSON.stringify(secretReads.map((s) => s.Resource))).toContain(
      `:secret:${adminKeySecretName(synth.config)}-??????`,
    );
  });

  it("IAM: only signers use the signing key (this region's), only emitters put events, no wildcard actions", () => {
    const keysStack = synth.stacks.regions.get(region)!.keys.stackName;
    for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
      const statements = roleStatements(api(), functionLogicalIds(synth.stacks, region, spec).role);
      const actions = statements.flatMap((s) => asArray(s.Action));
      const kms = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("kms:")));
      expect(kms.length > 0).toBe(spec.signs ?? false);
      for (const s of kms) {
        expect(asArray(s.Action).sort()).toEqual(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]);
        expect(JSON.stringify(s.Resource)).toContain(keysStack);
      }
      expect(actions.includes("events:PutEvents")).toBe(spec.emitsEvents ?? false);
      expect(actions.filter((a) => a.includes("*"))).toEqual([]);
      // The only wildcard resource is X-Ray's, which has no resource-level permissions.
      for (const s of statements.filter((st) => JSON.stringify(st.Resource) === '"*"')) {
        expect(asArray(s.Action).every((a) => a.startsWith("xray:"))).toBe(true);
      }
      // Tables: exactly the declared ones, by exact ARN.
      const tableArns = statements
        .filter((st) => asArray(st.Action).some((a) => a.startsWith("dynamodb:")))
        .flatMap((st) => asArray(st.Resource).map((r) => JSON.stringify(r).match(/:table\/([^/"]+)/)?.[1]));
      expect([...new Set(tableArns)].sort()).toEqual(
        Object.keys(spec.tables)
          .map((id) => tableName(synth.config.tablePrefix, id as "platform"))
          .sort(),
      );
    }
  });
});

describe("cdk-nag (AwsSolutions)", () => {
  it("reports no unacknowledged findings", () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synth.app);
    const summary = report.violations.map(
      (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
    );
    expect(summary).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("every acknowledgement names an AwsSolutions rule and gives a real reason", () => {
    const acks: [string, string][] = [];
    const visit = (c: IConstruct) => {
      for (const m of c.node.metadata) {
        if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(m.data as Record<string, string>))
            acks.push([id, reason]);
        }
      }
      c.node.children.forEach(visit);
    };
    visit(synth.app);
    const ids = new Set(acks.map(([id]) => id.replace(/^annotation::/i, "")));
    expect([...ids].sort()).toEqual([
      "AwsSolutions-APIG4",
      "AwsSolutions-IAM5[Resource::*]",
      "AwsSolutions-L1",
      "AwsSolutions-SMG4",
    ]);
    for (const [, reason] of acks) expect(reason.length).toBeGreaterThan(40);
  });

  it("acknowledgements are written to the templates (cdk_nag metadata) for auditors", () => {
    const routes = Object.values(
      Template.fromStack(synth.stacks.regions.get(PRIMARY)!.api).findResources("AWS::ApiGatewayV2::Route"),
    ) as { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string }[] } } }[];
    for (const r of routes)
      expect(r.Metadata?.cdk_nag?.rules_to_suppress.map((x) => x.id)).toContain("AwsSolutions-APIG4");
  });
});

describe("three regions", () => {
  it("adds a table replica, a replica key, a bus and an API per extra region", () => {
    const three = synthesize({ stage: "test", regions: "eu-west-1,us-east-1,ap-southeast-2" });
    try {
      for (const table of Object.values(resources(three.stacks.data, "AWS::DynamoDB::GlobalTable"))) {
        expect((table.Properties!.Replicas as Json[]).map((r) => r.Region).sort()).toEqual([
          "ap-southeast-2",
          "eu-west-1",
          "us-east-1",
        ]);
      }
      const extra = three.stacks.regions.get("ap-southeast-2")!;
      expect(Object.keys(resources(extra.keys, "AWS::KMS::ReplicaKey"))).toHaveLength(1);
      expect(Object.keys(resources(extra.audit, "AWS::Events::EventBus"))).toHaveLength(1);
      expect(Object.keys(resources(extra.api, "AWS::ApiGatewayV2::Api"))).toHaveLength(1);
      const secret = Object.values(
        resources(three.stacks.regions.get("eu-west-1")!.keys, "AWS::SecretsManager::Secret"),
      )[0]!;
      expect(secret.Properties?.ReplicaRegions).toEqual([
        { Region: "us-east-1" },
        { Region: "ap-southeast-2" },
      ]);
    } finally {
      rmSync(three.outdir, { recursive: true, force: true });
    }
  });
});
