/**
 * Real esbuild bundling of the primary region's functions (the other stacks skip bundling): ESM
 * output with the `require` banner and a source map, AWS SDK v3 left to the runtime, and a bundle
 * that loads in Node with the environment the stack gives it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { App, type CfnResource } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type PortcullisStacks } from "../../lib/app.ts";
import { FUNCTIONS } from "../../lib/config/functions.ts";
import { stackName } from "../../lib/config/names.ts";
import { REPO_ROOT } from "../../lib/config/paths.ts";
import { resolveConfig } from "../../lib/config/stage.ts";
import { ESM_REQUIRE_BANNER } from "../../lib/constructs/api-function.ts";

const run = promisify(execFile);
const FLAGS = (
  JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
    context: Record<string, unknown>;
  }
).context;

// Inside the repository (git-ignored) so the bundles resolve the externalized `@aws-sdk/*` from
// node_modules, as they resolve the runtime's SDK in Lambda.
const cacheDir = join(REPO_ROOT, "node_modules", ".cache");
let outdir: string;
let stacks: PortcullisStacks;
let primaryApi: string;

beforeAll(() => {
  mkdirSync(cacheDir, { recursive: true });
  outdir = mkdtempSync(join(cacheDir, "portcullis-bundling-"));
  const context = { stage: "test", regions: "eu-west-1,us-east-1" };
  const config = resolveConfig({ context: (k) => context[k as keyof typeof context], env: {} });
  primaryApi = stackName(config, "Api", config.primaryRegion);
  const app = new App({
    outdir,
    context: {
      ...FLAGS,
      ...context,
      "aws:cdk:bundling-stacks": [primaryApi],
      "aws:cdk:enable-asset-metadata": true,
    },
  });
  stacks = buildApp(app, config);
  app.synth();
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe.each(FUNCTIONS.map((f) => f.id))("bundle of %s", (id) => {
  const bundleDir = () => {
    const api = stacks.regions.get("eu-west-1")!.api;
    expect(api.stackName).toBe(primaryApi);
    const fn = api.functions.get(id)!;
    const logicalId = api.getLogicalId(fn.function.node.defaultChild as CfnResource);
    const resource = Template.fromStack(api).toJSON().Resources[logicalId] as {
      Metadata: Record<string, string>;
    };
    return join(outdir, resource.Metadata["aws:asset:path"]!);
  };

  it("is an ESM file with the require banner, a source map and no bundled AWS SDK", () => {
    const dir = bundleDir();
    const code = readFileSync(join(dir, "index.mjs"), "utf8");
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    expect(existsSync(join(dir, "index.js"))).toBe(false);
    const map = JSON.parse(readFileSync(join(dir, "index.mjs.map"), "utf8")) as { sources: string[] };
    expect(map.sources.some((s) => s.includes("functions/"))).toBe(true);
    expect(map.sources.filter((s) => s.includes("@aws-sdk/"))).toEqual([]);
  });

  it("loads in Node with the function's environment and exports a handler", async () => {
    const api = stacks.regions.get("eu-west-1")!.api;
    const fn = api.functions.get(id)!;
    const logicalId = api.getLogicalId(fn.function.node.defaultChild as CfnResource);
    const props = (
      Template.fromStack(api).toJSON().Resources[logicalId] as { Properties: Record<string, unknown> }
    ).Properties;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(
      (props.Environment as { Variables: Record<string, unknown> }).Variables,
    )) {
      // Deploy-time values (API endpoint) get a stand-in; the secret is replaced by a plain admin key.
      if (k !== "PORTCULLIS_ADMIN_KEY_SECRET_ARN")
        env[k] = typeof v === "string" ? v : "https://api.example.com";
    }
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(bundleDir(), "index.mjs")).href)});
      if (typeof m.handler !== "function") throw new Error("no handler export");
      console.log("ok");`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env.PATH ?? "",
        ...env,
        PORTCULLIS_ADMIN_KEY: "test-admin-key-0123456789abcdef",
        PORTCULLIS_LOG_LEVEL: "silent",
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      },
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe("ok");
  });
});
