/**
 * Contract tests of the synthesized stacks: global tables, admin secret, bus, HTTP API routes,
 * function defaults, least-privilege IAM of every function, and cdk-nag. One app (two regions) is
 * synthesized in-process through `buildApp`, exactly as `bin/app.ts` does, without bundling (see
 * bundling.test.ts). Keys, key policies and KMS grants: keys.test.ts; signer modes and issuer:
 * signer-modes.test.ts.
 */
import type { CfnResource, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortcullisStacks } from "../../lib/app.ts";
import { FUNCTIONS, type FunctionSpec, rotatesKeys } from "../../lib/config/functions.ts";
import { adminKeySecretName, eventBusName, signingKeyAlias, stackName } from "../../lib/config/names.ts";
import { TABLES, tableName } from "../../src/shared/tables.ts";
import {
  acknowledgements,
  actionsOf,
  asArray,
  environmentOf,
  functionStatements,
  type Json,
  type Resource,
  resources,
  type Statement,
  type Synth,
  synthesize,
} from "./support.ts";

const REGIONS = ["eu-west-1", "us-east-1"] as const;
const [PRIMARY, REPLICA] = REGIONS;

const functionLogicalIds = (stacks: PortcullisStacks, region: string, spec: FunctionSpec) => {
  const api = stacks.regions.get(region)!.api;
  const fn = api.functions.get(spec.id)!;
  return { fn: api.getLogicalId(fn.function.node.defaultChild as CfnResource) };
};

const specOf = (id: string): FunctionSpec => (FUNCTIONS as readonly FunctionSpec[]).find((f) => f.id === id)!;

let synth: Synth;
beforeAll(() => {
  synth = synthesize({ stage: "test", regions: REGIONS.join(",") });
});
afterAll(() => synth.dispose());

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

describe("admin key secret", () => {
  it("is generated (no value in the template) and replicated to the other regions", () => {
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
      const env = environmentOf(synth.stacks, region, spec);
      expect(env).toMatchObject({
        NODE_OPTIONS: "--enable-source-maps",
        PORTCULLIS_TABLE_PREFIX: synth.config.tablePrefix,
        PORTCULLIS_REGION: region,
        PORTCULLIS_STORE: "dynamodb",
        PORTCULLIS_EVENT_BUS: eventBusName(synth.config),
        PORTCULLIS_ISSUER: expect.anything(),
        PORTCULLIS_SIGNER: "kms",
        PORTCULLIS_KMS_KEY_ID: signingKeyAlias(synth.config),
        PORTCULLIS_KMS_REPLICA_REGIONS: REGIONS.filter((r) => r !== region).join(","),
      });
      expect(env.PORTCULLIS_API_AUDIENCE).toEqual(env.PORTCULLIS_ISSUER);
      expect(env.PORTCULLIS_KMS_WRAPPING_KEY_ID).toBeUndefined();
      expect("PORTCULLIS_ADMIN_KEY_SECRET_ARN" in env).toBe(spec.authenticates ?? true);
    }
  });

  it("IAM: admin reaches only the platform table (and its index), health no table at all", () => {
    const admin = functionStatements(synth.stacks, region, specOf("admin"));
    const health = functionStatements(synth.stacks, region, specOf("health"));
    const isDynamo = (s: Statement) => actionsOf(s).some((a) => a.startsWith("dynamodb:") || a === "*");

    const adminDynamo = admin.filter(isDynamo);
    expect(adminDynamo.length).toBeGreaterThan(0);
    for (const s of adminDynamo) {
      expect(actionsOf(s)).not.toContain("dynamodb:*");
      const targets = asArray(s.Resource).map((r) => JSON.stringify(r));
      for (const t of targets) {
        expect(t).not.toBe('"*"');
        expect(t).toMatch(
          new RegExp(`:table/${tableName(synth.config.tablePrefix, "platform")}(/index/gsi1)?"`),
        );
      }
      expect(actionsOf(s)).toEqual(expect.arrayContaining(["dynamodb:PutItem", "dynamodb:Query"]));
    }
    expect(health.filter(isDynamo)).toEqual([]);
    expect(health.some((s) => actionsOf(s).some((a) => a.startsWith("secretsmanager:")))).toBe(false);

    const secretReads = admin.filter((s) => actionsOf(s).includes("secretsmanager:GetSecretValue"));
    expect(JSON.stringify(secretReads.map((s) => s.Resource))).toContain(
      `:secret:${adminKeySecretName(synth.config)}-??????`,
    );
  });

  it("authz reads the other region's replicas (read-only) to answer tokens written there", () => {
    for (const [here, peer] of [
      [PRIMARY, REPLICA],
      [REPLICA, PRIMARY],
    ] as const) {
      const env = environmentOf(synth.stacks, here, specOf("authz"));
      expect(env.PORTCULLIS_AUTHZ_PEER_REGIONS).toBe(peer);
      const peerStatements = functionStatements(synth.stacks, here, specOf("authz")).filter((s) =>
        JSON.stringify(s.Resource).includes(`:${peer}:`),
      );
      const peerTables = peerStatements.flatMap((s) => asArray(s.Resource).map((r) => JSON.stringify(r)));
      expect(
        peerTables.some((t) => t.includes(`:table/${tableName(synth.config.tablePrefix, "authz")}`)),
      ).toBe(true);
      for (const s of peerStatements) {
        expect(
          actionsOf(s).every((a) => /^dynamodb:(Get|BatchGet|Query|Scan|Describe|ConditionCheck)/.test(a)),
        ).toBe(true);
      }
      // No other function looks at other regions' tables.
      expect(
        environmentOf(synth.stacks, here, specOf("admin")).PORTCULLIS_AUTHZ_PEER_REGIONS,
      ).toBeUndefined();
    }
  });

  it("IAM: every authenticating function reads the platform table (key ring Query, revocation GetItem)", () => {
    const platformArn = `:table/${tableName(synth.config.tablePrefix, "platform")}"`; // the table, not an index
    for (const spec of (FUNCTIONS as readonly FunctionSpec[]).filter((f) => f.authenticates !== false)) {
      const reads = functionStatements(synth.stacks, region, spec).filter((s) =>
        asArray(s.Resource).some((r) => JSON.stringify(r).includes(platformArn)),
      );
      expect(reads.flatMap(actionsOf)).toEqual(
        expect.arrayContaining(["dynamodb:Query", "dynamodb:GetItem"]),
      );
    }
  });

  it("IAM: least privilege for every function: no wildcard actions, wildcard resources only where justified", () => {
    for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
      const statements = functionStatements(synth.stacks, region, spec);
      const actions = statements.flatMap(actionsOf);
      // No service-wide or wildcard action (dynamodb:*, kms:*, …) anywhere.
      expect(actions.filter((a) => a.includes("*"))).toEqual([]);
      // The default audit transport is log lines: no function puts events itself (audit-stack.test.ts).
      expect(actions.includes("events:PutEvents")).toBe(false);
      // KMS only for the signer and the key admin (details: keys.test.ts).
      const kms = actions.filter((a) => a.startsWith("kms:"));
      expect(kms.length > 0).toBe((spec.signs ?? false) || rotatesKeys(spec));
      for (const s of statements) {
        const targets = asArray(s.Resource).map((r) => JSON.stringify(r));
        // Resource "*": X-Ray (no resource-level permissions) or a conditioned kms:CreateKey.
        if (targets.includes('"*"')) {
          const xray = actionsOf(s).every((a) => a.startsWith("xray:"));
          const createKey = actionsOf(s).join() === "kms:CreateKey" && s.Condition !== undefined;
          expect(xray || createKey, JSON.stringify(s)).toBe(true);
        }
        // Other wildcards: KMS keys that do not exist at deploy time, found by their purpose tag.
        for (const t of targets.filter((x) => x.includes("*") && x !== '"*"')) {
          expect(t).toMatch(/:kms:[a-z0-9-]+:",\{"Ref":"AWS::AccountId"\},":key\/\*"/);
          expect(JSON.stringify(s.Condition)).toMatch(
            /"aws:(Resource|Request)Tag\/portcullis:purpose":"token-signing"/,
          );
        }
      }
      // Tables: exactly the declared ones, by exact ARN.
      const tableArns = statements
        .filter((st) => actionsOf(st).some((a) => a.startsWith("dynamodb:")))
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
    const acks = acknowledgements(synth.app);
    const ids = new Set(acks.map(([id]) => id.replace(/^annotation::/i, "")));
    expect([...ids].sort()).toEqual(
      [
        "AwsSolutions-APIG4",
        "AwsSolutions-IAM5[Resource::*]",
        // The signer's and key admin's tag-conditioned KMS grants (keys made by rotation).
        ...REGIONS.map((r) => `AwsSolutions-IAM5[Resource::arn:aws:kms:${r}:<AWS::AccountId>:key/*]`),
        "AwsSolutions-L1",
        "AwsSolutions-SMG4",
        // Audit stack (audit-stack.test.ts): Firehose writes objects of the sink bucket; the access
        // log bucket is not itself logged; the spill queue and the sink DLQ are dead-letter queues.
        "AwsSolutions-IAM5[Resource::<SinkBucket774CD224.Arn>/*]",
        "AwsSolutions-S1",
        "AwsSolutions-SQS3",
      ].sort(),
    );
    for (const [, reason] of acks) expect(reason.length).toBeGreaterThan(40);
  });

  it("acknowledgements are written to the templates (cdk_nag metadata) for auditors", () => {
    const routes = Object.values(
      Template.fromStack(synth.stacks.regions.get(PRIMARY)!.api).findResources("AWS::ApiGatewayV2::Route"),
    ) as { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string }[] } } }[];
    for (const r of routes)
      expect(r.Metadata?.cdk_nag?.rules_to_suppress.map((x) => x.id)).toContain("AwsSolutions-APIG4");
  });

  it("the oauth routes' justification: public discovery and JWKS, client authentication elsewhere", () => {
    const oauth = specOf("oauth");
    expect(oauth.publicAccess).toMatch(/discovery .*JWKS are public by specification/i);
    expect(oauth.publicAccess).toMatch(
      /token, introspection and revocation endpoints authenticate OAuth clients/,
    );
    expect(oauth.publicAccess).toMatch(/RFC 6749 §2\.3.*RFC 7662.*RFC 7009/);
    const routes = Object.values(
      resources(synth.stacks.regions.get(PRIMARY)!.api, "AWS::ApiGatewayV2::Route"),
    ).filter((r) => oauth.routes.includes(r.Properties?.RouteKey as never));
    expect(routes).toHaveLength(oauth.routes.length);
    for (const r of routes)
      expect(
        (r.Metadata as { cdk_nag: { rules_to_suppress: { reason: string }[] } }).cdk_nag.rules_to_suppress,
      ).toContainEqual({ id: "AwsSolutions-APIG4", reason: oauth.publicAccess });
  });
});

describe("three regions", () => {
  it("adds a table replica, replica keys, KMS roles, a bus and an API per extra region", () => {
    const three = synthesize({
      stage: "test",
      regions: "eu-west-1,us-east-1,ap-southeast-2",
      issuer: "https://auth.example.com",
    });
    try {
      for (const table of Object.values(resources(three.stacks.data, "AWS::DynamoDB::GlobalTable"))) {
        expect((table.Properties!.Replicas as Json[]).map((r) => r.Region).sort()).toEqual([
          "ap-southeast-2",
          "eu-west-1",
          "us-east-1",
        ]);
      }
      const extra = three.stacks.regions.get("ap-southeast-2")!;
      expect(Object.keys(resources(extra.keys, "AWS::KMS::ReplicaKey"))).toHaveLength(2);
      expect(Object.keys(resources(extra.keys, "AWS::IAM::Role"))).toHaveLength(2);
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
      three.dispose();
    }
  });
});

describe("stack order", () => {
  it("each Api stack depends on its region's Keys stack (the roles it runs as)", () => {
    for (const region of REGIONS) {
      const { keys, api } = synth.stacks.regions.get(region)!;
      expect(api.dependencies.map((d: Stack) => d.stackName)).toContain(keys.stackName);
    }
    expect(stackName(synth.config, "Keys", PRIMARY)).toBe(synth.stacks.regions.get(PRIMARY)!.keys.stackName);
  });
});
