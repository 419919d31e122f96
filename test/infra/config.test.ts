/** Typed deployment config and the functions table: defaults, validation, and agreement with src/. */
import { describe, expect, it } from "vitest";
import {
  FUNCTIONS,
  type FunctionSpec,
  parseRouteKey,
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
    });
    expect(replicaRegions(config)).toEqual(["us-east-1"]);
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
    [{ apiRateLimit: "-1" }, /positive integer/],
  ])("rejects %j", (context, message) => {
    expect(() => fromContext(context)).toThrow(ConfigError);
    expect(() => fromContext(context)).toThrow(message);
  });
});

describe("functions table", () => {
  it("the shipped table is valid", () => {
    expect(() => validateFunctions(FUNCTIONS)).not.toThrow();
    expect(FUNCTIONS.map((f) => f.id)).toEqual(expect.arrayContaining(["admin", "health"]));
  });

  it("splits route keys", () => {
    expect(parseRouteKey("ANY /admin/v1/{proxy+}")).toEqual({ method: "ANY", path: "/admin/v1/{proxy+}" });
    expect(parseRouteKey("GET /healthz")).toEqual({ method: "GET", path: "/healthz" });
  });

  const base: FunctionSpec = { id: "x", entry: "functions/x.ts", routes: ["GET /x"], tables: {} };
  it.each([
    [[base, { ...base, routes: ["GET /y"] }], /declared twice/],
    [[base, { ...base, id: "y" }], /served by both/],
    [[{ ...base, id: "Bad_Id" }], /function id/],
    [[{ ...base, entry: "../etc/passwd.ts" }], /under functions/],
    [[{ ...base, authenticates: false }], /publicAccess/],
    [[{ ...base, routes: ["GET healthz"] as unknown as FunctionSpec["routes"] }], /not a route key/],
  ] as [FunctionSpec[], RegExp][])("rejects %#", (specs, message) => {
    expect(() => validateFunctions(specs)).toThrow(message);
  });
});
