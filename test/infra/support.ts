/**
 * Shared helpers of the infra suites: synthesize the app in-process exactly as `bin/app.ts` does
 * (minus asset bundling), read resources, and collect every IAM statement a function's role gets,
 * wherever the role lives (its own role in the Api stack, or a Keys-stack role it runs as).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnResource, type Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { expect } from "vitest";
import { type BuildOptions, buildApp, type PortcullisStacks } from "../../lib/app.ts";
import type { FunctionSpec } from "../../lib/config/functions.ts";
import { type PortcullisConfig, resolveConfig } from "../../lib/config/stage.ts";

export type Json = Record<string, unknown>;
export interface Resource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
  DependsOn?: string[];
  Metadata?: Json;
}
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDoc {
  Statement: Statement[];
}

export const FLAGS = (
  JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as { context: Json }
).context;

export interface Synth {
  readonly app: App;
  readonly stacks: PortcullisStacks;
  readonly config: PortcullisConfig;
  readonly outdir: string;
  /** Removes the output directory. */
  readonly dispose: () => void;
}

/** Synthesizes the whole app like `cdk synth` would, minus asset bundling; runs cdk-nag. */
export const synthesize = (context: Json, options: BuildOptions = {}): Synth => {
  const outdir = mkdtempSync(join(tmpdir(), "portcullis-infra-"));
  const app = new App({ outdir, context: { ...FLAGS, "aws:cdk:bundling-stacks": [], ...context } });
  const config = resolveConfig({ context: (key) => app.node.tryGetContext(key), env: {} });
  const stacks = buildApp(app, config, options);
  app.synth(); // runs the cdk-nag plugin: throws on unacknowledged findings
  return { app, stacks, config, outdir, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
};

export const resources = (stack: Stack, type: string): Record<string, Resource> =>
  Template.fromStack(stack).findResources(type) as Record<string, Resource>;

export const only = (stack: Stack, type: string): Resource => {
  const all = Object.values(resources(stack, type));
  expect(all).toHaveLength(1);
  return all[0]!;
};

export const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

export const actionsOf = (s: Statement): string[] => asArray(s.Action);

/** A CloudFormation value with its intrinsic functions flattened to a comparable string. */
export const flat = (v: unknown): string =>
  JSON.stringify(v)
    .replace(/\{"Ref":"AWS::AccountId"\}/g, '"ACCOUNT"')
    .replace(/\{"Fn::Join":\["",\[((?:"[^"]*",?)+)\]\]\}/g, (_, parts: string) =>
      JSON.stringify((JSON.parse(`[${parts}]`) as string[]).join("")),
    );

/** Whether an IAM action pattern (with `*`) matches an action. */
export const actionMatches = (pattern: string, action: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(action);

/** Allow statements attached to the role `logicalId` of `stack` (its inline and attached policies). */
const statementsOfRole = (stack: Stack, logicalId: string): Statement[] => {
  const role = Template.fromStack(stack).toJSON().Resources[logicalId] as Resource;
  expect(role.Type).toBe("AWS::IAM::Role");
  expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  const inline = asArray(role.Properties?.Policies as { PolicyDocument: PolicyDoc }[]);
  const attached = Object.values(resources(stack, "AWS::IAM::Policy")).filter((p) =>
    JSON.stringify(p.Properties?.Roles).includes(`{"Ref":"${logicalId}"}`),
  );
  return [
    ...inline.map((p) => p.PolicyDocument),
    ...attached.map((p) => p.Properties?.PolicyDocument as PolicyDoc),
  ].flatMap((d) => d.Statement);
};

/** Logical id of the `AWS::IAM::Role` named `name` in `stack`. */
export const roleLogicalIdByName = (stack: Stack, name: string): string => {
  const [id] = Object.entries(resources(stack, "AWS::IAM::Role")).find(
    ([, r]) => r.Properties?.RoleName === name,
  )!;
  return id;
};

/**
 * Every Allow statement the function's execution role gets: its own role's policies, or, for a
 * function running as a Keys-stack role, that role's policies plus those the Api stack attaches by
 * name.
 */
export const functionStatements = (stacks: PortcullisStacks, region: string, spec: FunctionSpec) => {
  const set = stacks.regions.get(region)!;
  const fn = set.api.functions.get(spec.id)!;
  const own = fn.role.node.defaultChild as CfnResource | undefined;
  let statements: Statement[];
  if (own !== undefined) {
    statements = statementsOfRole(set.api, set.api.getLogicalId(own));
  } else {
    const name = fn.role.roleName;
    const byName = Object.values(resources(set.api, "AWS::IAM::Policy")).filter((p) =>
      asArray(p.Properties?.Roles as unknown[]).includes(name),
    );
    expect(byName.length).toBeGreaterThan(0);
    statements = [
      ...statementsOfRole(set.keys, roleLogicalIdByName(set.keys, name)),
      ...byName.flatMap((p) => (p.Properties!.PolicyDocument as PolicyDoc).Statement),
    ];
  }
  return statements.filter((s) => s.Effect === "Allow");
};

/** The function's resource in its Api stack. */
export const functionResource = (stacks: PortcullisStacks, region: string, spec: FunctionSpec) => {
  const api = stacks.regions.get(region)!.api;
  const fn = api.functions.get(spec.id)!;
  const logicalId = api.getLogicalId(fn.function.node.defaultChild as CfnResource);
  return { logicalId, resource: Template.fromStack(api).toJSON().Resources[logicalId] as Resource };
};

/** The function's environment variables. */
export const environmentOf = (stacks: PortcullisStacks, region: string, spec: FunctionSpec): Json =>
  (functionResource(stacks, region, spec).resource.Properties!.Environment as { Variables: Json }).Variables;

/**
 * The cdk-nag acknowledgements made anywhere under `scope`: [rule id, reason] pairs (tests check
 * the set of rules and that every reason says something).
 */
export function acknowledgements(scope: IConstruct): [string, string][] {
  const acks: [string, string][] = [];
  const visit = (c: IConstruct) => {
    for (const m of c.node.metadata)
      if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        for (const [id, reason] of Object.entries(m.data as Record<string, string>)) acks.push([id, reason]);
    c.node.children.forEach(visit);
  };
  visit(scope);
  return acks;
}
