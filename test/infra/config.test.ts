/** Typed deployment config and the functions table: defaults, validation, and agreement with src/. */
import { describe, expect, it } from "vitest";
import {
  FUNCTIONS,
  type FunctionSpec,
  parseRouteKey,
  rotatesKeys,
  validateFunctions,
} from "../../lib/config/functions.ts";
import { ConfigError, replicaRegions, resolveConfig } from "../../lib/config/stage.ts";

const fromContext = (context: Record<string, unknown>, env: Record<string, string> = {}) =>
  resolveConfig({ context: (k) => context[k], env });

describe("resolveConfig", () => {
  it("defaults: stage dev, two regions, the first primary, no account", () => {
    const config = fromContext({});
    expect(config).toMatchObject({
      stage: "dev",
      tablePrefix: "portcullis-dev",
      regions: ["eu-west-1", "us-east-1"],
      primaryRegion: "eu-west-1",
      account: undefined,
      contributorInsights: false,
      issuer: undefined,
      apiAudience: undefined,
      signer: "kms",
    });
    expect(replicaRegions(config)).toEqual(["us-east-1"]);
    expect(config.audit).toEqual({
      retentionDays: 365,
      archiveRetentionDays: 90,
      sinkGlacierDays: 90,
      sinkExpirationDays: undefined,
      lagAlarmMs: 30_000,
      transport: "log",
    });
    expect(config.alarmEmail).toBeUndefined();
  });

  it("audit pipeline settings", () => {
    const config = fromContext({
      auditRetentionDays: "3650",
      auditArchiveRetentionDays: 7,
      auditSinkGlacierDays: "30",
      auditSinkExpirationDays: "2555",
      auditLagAlarmMs: "10000",
      auditTransport: "eventbridge",
      alarmEmail: "oncall@example.com",
    });
    expect(config.audit).toEqual({
      retentionDays: 3650,
      archiveRetentionDays: 7,
      sinkGlacierDays: 30,
      sinkExpirationDays: 2555,
      lagAlarmMs: 10_000,
      transport: "eventbridge",
    });
    expect(config.alarmEmail).toBe("oncall@example.com");
  });

  it("reads -c values (strings) and cdk.json values (lists, booleans)", () => {
    const config = fromContext({
      stage: "prod",
      regions: " eu-west-1, us-east-1 ,ap-southeast-2",
      primaryRegion: "us-east-1",
      contributorInsights: "true",
      logRetentionDays: "90",
      issuer: "https://auth.example.com",
    });
    expect(config.regions).toEqual(["eu-west-1", "us-east-1", "ap-southeast-2"]);
    expect(config.primaryRegion).toBe("us-east-1");
    expect(replicaRegions(config)).toEqual(["eu-west-1", "ap-southeast-2"]);
    expect(config.tablePrefix).toBe("portcullis-prod");
    expect(config.contributorInsights).toBe(true);
    expect(config.logRetention).toBe(90);
    expect(
      fromContext({ regions: ["us-west-2", "eu-central-1"], contributorInsights: false }).regions,
    ).toEqual(["us-west-2", "eu-central-1"]);
  });

  it("signer mode and API audience", () => {
    expect(fromContext({ signer: "kms-envelope" }).signer).toBe("kms-envelope");
    expect(fromContext({ signer: "kms" }).signer).toBe("kms");
    expect(fromContext({ apiAudience: "https://api.example.com" }).apiAudience).toBe(
      "https://api.example.com",
    );
    expect(fromContext({ apiAudience: "urn:example:platform" }).apiAudience).toBe("urn:example:platform");
  });

  it("account: -c account, then PORTCULLIS_ACCOUNT, then CDK_DEFAULT_ACCOUNT", () => {
    expect(fromContext({ account: "111111111111" }, { CDK_DEFAULT_ACCOUNT: "222222222222" }).account).toBe(
      "111111111111",
    );
    expect(fromContext({}, { PORTCULLIS_ACCOUNT: "333333333333", CDK_DEFAULT_ACCOUNT: "2" }).account).toBe(
      "333333333333",
    );
    expect(fromContext({}, { CDK_DEFAULT_ACCOUNT: "222222222222" }).account).toBe("222222222222");
  });

  it.each([
    [{ regions: "eu-west-1,eu-west-1" }, /duplicates/],
    [{ regions: "eu-west-1,mars-north-1x" }, /not a valid AWS region/],
    [{ regions: "," }, /at least one region/],
    [{ primaryRegion: "ap-south-1" }, /not one of regions/],
    [{ stage: "Prod" }, /stage/],
    [{ account: "12345" }, /12-digit/],
    [{ logRetentionDays: "42" }, /retention/],
    [{ issuer: "http://insecure.example.com" }, /https/],
    [{ signer: "local" }, /signer "local" must be one of kms, kms-envelope/],
    [{ signer: "KMS" }, /signer/],
    [{ apiAudience: "not a uri" }, /apiAudience/],
    [{ apiAudience: "https://api.example.com/#frag" }, /without fragment/],
    [{ apiRateLimit: "-1" }, /positive integer/],
    [{ auditRetentionDays: "3651" }, /auditRetentionDays 3651 must be at most 3650/],
    [{ auditRetentionDays: "0" }, /positive integer/],
    [{ auditSinkGlacierDays: "90", auditSinkExpirationDays: "90" }, /greater than auditSinkGlacierDays/],
    [{ alarmEmail: "not-an-address" }, /alarmEmail/],
    [{ auditTransport: "kinesis" }, /auditTransport must be one of log, eventbridge/],
  ])("rejects %j", (context, message) => {
    expect(() => fromContext(context)).toThrow(ConfigError);
    expect(() => fromContext(context)).toThrow(message);
  });
});

describe("functions table", () => {
  it("the shipped table is valid", () => {
    expect(() => validateFunctions(FUNCTIONS)).not.toThrow();
    expect(FUNCTIONS.map((f) => f.id)).toEqual(expect.arrayContaining(["admin", "health", "oauth"]));
  });

  it("oauth: the signing function; admin: the key rotation function", () => {
    expect(FUNCTIONS.filter((f) => (f as FunctionSpec).signs).map((f) => f.id)).toEqual(["oauth"]);
    expect(FUNCTIONS.filter(rotatesKeys).map((f) => f.id)).toEqual(["admin"]);
  });

  it("every authenticating function declares the platform table", () => {
    for (const f of FUNCTIONS as readonly FunctionSpec[])
      if (f.authenticates !== false) expect(f.tables.platform, f.id).toBeDefined();
  });

  it("splits route keys", () => {
    expect(parseRouteKey("ANY /admin/v1/{proxy+}")).toEqual({ method: "ANY", path: "/admin/v1/{proxy+}" });
    expect(parseRouteKey("GET /healthz")).toEqual({ method: "GET", path: "/healthz" });
  });

  const base: FunctionSpec = {
    id: "x",
    entry: "functions/x.ts",
    routes: ["GET /x"],
    tables: { platform: "read" },
  };
  it.each([
    [[base, { ...base, routes: ["GET /y"] }], /declared twice/],
    [[base, { ...base, id: "y" }], /served by both/],
    [[{ ...base, id: "Bad_Id" }], /function id/],
    [[{ ...base, entry: "../etc/passwd.ts" }], /under functions/],
    [[{ ...base, authenticates: false }], /publicAccess/],
    [[{ ...base, routes: ["GET healthz"] as unknown as FunctionSpec["routes"] }], /not a route key/],
    [[{ ...base, tables: { authz: "read" } }], /authenticates callers.*tables\.platform/],
    [
      [
        { ...base, signs: true },
        { ...base, id: "y", routes: ["GET /y"], signs: true },
      ],
      /only one function may sign/,
    ],
    [
      [
        { ...base, routes: ["ANY /admin/v1/{proxy+}"] },
        { ...base, id: "y", routes: ["POST /admin/v1/keys/rotate"] },
      ],
      /only one function may serve key rotation/,
    ],
    [[{ ...base, routes: ["ANY /admin/v1/{proxy+}"], signs: true }], /both sign and rotate/],
  ] as [FunctionSpec[], RegExp][])("rejects %#", (specs, message) => {
    expect(() => validateFunctions(specs)).toThrow(message);
  });
});
