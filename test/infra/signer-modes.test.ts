/**
 * The signer-mode switch (`-c signer=kms|kms-envelope`) and the issuer rule: what each mode sets in
 * every function's environment (and that the runtime accepts it), which KMS grants the signer and
 * key admin roles get, and that `PORTCULLIS_ISSUER`/`PORTCULLIS_API_AUDIENCE` are one value for
 * every region.
 */
import { App, type Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { buildApp } from "../../lib/app.ts";
import { FUNCTIONS, type FunctionSpec, rotatesKeys } from "../../lib/config/functions.ts";
import { signingKeyAlias, stackName, wrappingKeyAlias } from "../../lib/config/names.ts";
import { resolveConfig } from "../../lib/config/stage.ts";
import { keySettingsFromEnv } from "../../src/keys/settings.ts";
import {
  actionsOf,
  environmentOf,
  FLAGS,
  flat,
  functionStatements,
  type Json,
  resources,
  type Synth,
  synthesize,
} from "./support.ts";

const REGIONS = ["eu-west-1", "us-east-1"] as const;
const ISSUER = "https://auth.example.com";
const specs = FUNCTIONS as readonly FunctionSpec[];
const signer = specs.find((f) => f.signs === true)!;
const rotator = specs.find(rotatesKeys)!;

/** The environment as Lambda would see it: deploy-time values replaced by a stand-in URL. */
const runtimeEnv = (env: Json): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env)
      .filter(([k]) => k !== "PORTCULLIS_ADMIN_KEY_SECRET_ARN")
      .map(([k, v]) => [k, typeof v === "string" ? v : "https://abc123.execute-api.example.com"]),
  );

const kmsStatements = (synth: Synth, region: string, spec: FunctionSpec) =>
  functionStatements(synth.stacks, region, spec).filter((s) =>
    actionsOf(s).some((a) => a.startsWith("kms:")),
  );

describe("signer=kms-envelope", () => {
  let synth: Synth;
  beforeAll(() => {
    synth = synthesize({ stage: "test", regions: REGIONS.join(","), issuer: ISSUER, signer: "kms-envelope" });
  });
  afterAll(() => synth.dispose());

  it.each(REGIONS)("every function in %s: envelope signer with the wrapping key alias", (region) => {
    for (const spec of specs) {
      const env = environmentOf(synth.stacks, region, spec);
      expect(env).toMatchObject({
        PORTCULLIS_SIGNER: "kms-envelope",
        PORTCULLIS_KMS_WRAPPING_KEY_ID: wrappingKeyAlias(synth.config),
      });
      expect(env.PORTCULLIS_KMS_KEY_ID).toBeUndefined();
      expect(env.PORTCULLIS_KMS_REPLICA_REGIONS).toBeUndefined();
      const keys = keySettingsFromEnv(runtimeEnv(env));
      expect(keys).toMatchObject({
        signer: "kms-envelope",
        kmsWrappingKeyId: wrappingKeyAlias(synth.config),
      });
    }
  });

  it.each(REGIONS)(
    "signer role in %s: Decrypt/GenerateDataKeyPair on this region's wrapping key only",
    (region) => {
      const kms = kmsStatements(synth, region, signer);
      expect(kms).toHaveLength(1);
      expect(actionsOf(kms[0]!).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKeyPair"]);
      expect(kms[0]!.Resource).toEqual({ "Fn::GetAtt": ["WrappingKey", "Arn"] });
      expect(kms[0]!.Condition).toEqual({
        StringEquals: { "kms:EncryptionContext:purpose": "portcullis-token-signing" },
        StringEqualsIfExists: { "kms:DataKeyPairSpec": "ECC_NIST_P256" },
      });
    },
  );

  it.each(REGIONS)(
    "key admin role in %s: GenerateDataKeyPair only (rotation); no CreateKey, no Decrypt",
    (region) => {
      const kms = kmsStatements(synth, region, rotator);
      expect(kms.flatMap(actionsOf)).toEqual(["kms:GenerateDataKeyPair"]);
      expect(kms[0]!.Resource).toEqual({ "Fn::GetAtt": ["WrappingKey", "Arn"] });
      expect(kms[0]!.Condition).toMatchObject({
        StringEquals: { "kms:EncryptionContext:purpose": "portcullis-token-signing" },
      });
    },
  );

  it("no other function touches KMS; no KMS grant has a wildcard resource", () => {
    for (const region of REGIONS)
      for (const spec of specs.filter((f) => f !== signer && f !== rotator))
        expect(kmsStatements(synth, region, spec)).toEqual([]);
  });

  it("switching modes changes grants only: both keys and both roles exist as in kms mode", () => {
    for (const region of REGIONS) {
      const keys = synth.stacks.regions.get(region)!.keys;
      const type = region === REGIONS[0] ? "AWS::KMS::Key" : "AWS::KMS::ReplicaKey";
      expect(Object.keys(resources(keys, type)).sort()).toEqual(["SigningKey", "WrappingKey"]);
      expect(Object.keys(resources(keys, "AWS::IAM::Role"))).toHaveLength(2);
    }
  });

  it("cdk-nag passes without any KMS wildcard acknowledgement", () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synth.app);
    expect(report.violations).toEqual([]);
    const acks = JSON.stringify(
      synth.stacks.regions
        .get(REGIONS[0])!
        .keys.node.findAll()
        .flatMap((c) => c.node.metadata),
    );
    expect(acks).not.toContain(":key/*]");
  });
});

describe("signer=kms (default)", () => {
  let synth: Synth;
  beforeAll(() => {
    synth = synthesize({ stage: "test", regions: REGIONS.join(","), issuer: ISSUER });
  });
  afterAll(() => synth.dispose());

  it.each(REGIONS)(
    "every function in %s: kms signer, key alias, replication to the other regions",
    (region) => {
      for (const spec of specs) {
        const env = environmentOf(synth.stacks, region, spec);
        expect(env).toMatchObject({
          PORTCULLIS_SIGNER: "kms",
          PORTCULLIS_KMS_KEY_ID: signingKeyAlias(synth.config),
          PORTCULLIS_KMS_REPLICA_REGIONS: REGIONS.filter((r) => r !== region).join(","),
        });
        expect(env.PORTCULLIS_KMS_WRAPPING_KEY_ID).toBeUndefined();
        // The runtime accepts exactly this environment (functions/_shared/config.ts).
        const config = configFromEnv(runtimeEnv(env), { issuer: "http://localhost" });
        expect(config.keys).toMatchObject({
          signer: "kms",
          kmsKeyId: signingKeyAlias(synth.config),
          kmsReplicaRegions: REGIONS.filter((r) => r !== region),
        });
        expect(config).toMatchObject({ issuer: ISSUER, apiAudience: ISSUER });
      }
    },
  );

  it("single region: no PORTCULLIS_KMS_REPLICA_REGIONS (nothing to replicate to)", () => {
    const one = synthesize({ stage: "test", regions: "eu-west-1" });
    try {
      for (const spec of specs) {
        const env = environmentOf(one.stacks, "eu-west-1", spec);
        expect(env.PORTCULLIS_KMS_REPLICA_REGIONS).toBeUndefined();
        expect(() => keySettingsFromEnv(runtimeEnv(env))).not.toThrow();
      }
      // No replication, so neither ReplicateKey nor replica CreateKey for the key admin.
      const sids = kmsStatements(one, "eu-west-1", rotator).map((s) => s.Sid);
      expect(sids).not.toContain("SigningKeyReplicate");
      expect(sids).not.toContain("SigningKeyCreateReplica");
    } finally {
      one.dispose();
    }
  });
});

describe("issuer and API audience: one value for every region", () => {
  const issuersOf = (synth: Synth) =>
    REGIONS.flatMap((region) =>
      specs.map((spec) => {
        const env = environmentOf(synth.stacks, region, spec);
        return { region, issuer: env.PORTCULLIS_ISSUER, audience: env.PORTCULLIS_API_AUDIENCE };
      }),
    );

  it("-c issuer: the configured URL everywhere; audience = issuer, or -c apiAudience", () => {
    const synth = synthesize({
      stage: "test",
      regions: REGIONS.join(","),
      issuer: ISSUER,
      apiAudience: "https://api.example.com",
    });
    try {
      for (const e of issuersOf(synth))
        expect(e).toMatchObject({ issuer: ISSUER, audience: "https://api.example.com" });
    } finally {
      synth.dispose();
    }
  });

  it("several regions without issuer: every region uses the primary's API endpoint, with a warning", () => {
    const synth = synthesize({ stage: "test", regions: REGIONS.join(",") });
    try {
      const primaryApi = synth.stacks.regions.get(REGIONS[0])!.api;
      const primaryValue = flat(primaryApi.resolve(primaryApi.api.apiEndpoint));
      const outputs = outputsOf(primaryApi);
      for (const e of issuersOf(synth)) {
        expect(e.audience).toEqual(e.issuer);
        if (e.region === REGIONS[0]) {
          expect(flat(e.issuer)).toBe(primaryValue);
        } else {
          // A weak cross-region reference to the primary Api stack's endpoint output.
          const ref = (e.issuer as { "Fn::GetStackOutput": Record<string, string> })["Fn::GetStackOutput"];
          expect(ref).toMatchObject({
            StackName: stackName(synth.config, "Api", REGIONS[0]),
            Region: REGIONS[0],
          });
          expect(flat(outputs[ref.OutputName!])).toBe(primaryValue);
        }
      }
      Annotations.fromStack(primaryApi).hasWarning("*", Match.stringLikeRegexp("No issuer configured"));
      for (const region of REGIONS.slice(1))
        expect(
          Annotations.fromStack(synth.stacks.regions.get(region)!.api).findWarning("*", Match.anyValue()),
        ).toEqual([]);
    } finally {
      synth.dispose();
    }
  });

  it("one region without issuer: its own API endpoint, no cross-region reference, no warning", () => {
    const synth = synthesize({ stage: "test", regions: "us-east-1" });
    try {
      const api = synth.stacks.regions.get("us-east-1")!.api;
      for (const spec of specs) {
        const env = environmentOf(synth.stacks, "us-east-1", spec);
        expect(flat(env.PORTCULLIS_ISSUER)).toBe(flat(api.resolve(api.api.apiEndpoint)));
        expect(env.PORTCULLIS_API_AUDIENCE).toEqual(env.PORTCULLIS_ISSUER);
      }
      expect(Annotations.fromStack(api).findWarning("*", Match.anyValue())).toEqual([]);
    } finally {
      synth.dispose();
    }
  });
});

/** Output values of a stack by output name. */
const outputsOf = (stack: Stack): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(
      (Template.fromStack(stack).toJSON() as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {},
    ).map(([k, v]) => [k, v.Value]),
  );

describe("function table guards (synth fails)", () => {
  const build = (functions: FunctionSpec[]) => {
    const app = new App({ context: { ...FLAGS, "aws:cdk:bundling-stacks": [] } });
    const config = resolveConfig({ context: (k) => ({ stage: "test", regions: "eu-west-1" })[k], env: {} });
    return () => buildApp(app, config, { functions, nag: false });
  };

  it("an authenticating function without the platform table", () => {
    expect(
      build([{ id: "x", entry: "functions/x.ts", routes: ["GET /x"], tables: { authz: "read" } }]),
    ).toThrow(/authenticates callers.*declare tables\.platform/);
  });

  it("two signing functions", () => {
    const fn = (id: string): FunctionSpec => ({
      id,
      entry: `functions/${id}.ts`,
      routes: [`GET /${id}`],
      tables: { platform: "read" },
      signs: true,
    });
    expect(build([fn("a"), fn("b")])).toThrow(/only one function may sign/);
  });
});
