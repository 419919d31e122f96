/**
 * Contract tests of the Audit stack (lib/stacks/audit-stack.ts): the writer and its least
 * privilege, the store and sink rules with their retry policies and dead-letter queues, the
 * archive, Firehose → S3, the spill queue and what the emitting functions get of it, the disabled
 * redrive mappings, the alarms (against the EMF lines the handlers really write), outputs and
 * cdk-nag. Synthesized in-process like stacks.test.ts (no bundling).
 */

import type { CfnResource } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { Context } from "aws-lambda";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configFromEnv } from "../../functions/_shared/config.ts";
import { createContainer } from "../../functions/_shared/container.ts";
import { createHandlers } from "../../functions/_shared/handlers.ts";
import { redriveBodies } from "../../functions/audit-writer.ts";
import { FUNCTIONS, type FunctionSpec } from "../../lib/config/functions.ts";
import {
  AUDIT_SUBSCRIPTION_FILTER_NAME,
  auditArchiveName,
  auditSpillQueueName,
  eventBusName,
  functionLogGroupName,
  functionLogGroupPrefix,
} from "../../lib/config/names.ts";
import { AUDIT_COUNT_ALARMS, AUDIT_EVENT_SOURCE, type AuditStack } from "../../lib/stacks/audit-stack.ts";
import { AUDIT_SOURCE } from "../../src/audit/adapters/eventbridge.ts";
import { AUDIT_LINE_FILTER_PATTERN, auditLine } from "../../src/audit/adapters/log-lines.ts";
import { AUDIT_METRIC_NAMES, AUDIT_NAMESPACE } from "../../src/audit/metrics.ts";
import { tableName } from "../../src/shared/tables.ts";
import { checkEventAt } from "../support/audit-events.ts";
import { subscriptionDelivery } from "../support/cloudwatch-logs.ts";
import { apiEvent, bearer, lambdaContext } from "../support/events.ts";
import {
  acknowledgements,
  actionsOf,
  asArray,
  environmentOf,
  flat,
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

let synth: Synth;
beforeAll(() => {
  synth = synthesize({ stage: "test", regions: REGIONS.join(",") });
});
afterAll(() => synth.dispose());

const auditOf = (region: string = PRIMARY): AuditStack => synth.stacks.regions.get(region)!.audit;
const template = (stack: AuditStack = auditOf()) =>
  Template.fromStack(stack).toJSON() as {
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
  };
const logicalId = (stack: AuditStack, c: IConstruct) =>
  stack.getLogicalId((c.node.defaultChild ?? c) as CfnResource);
const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });

/** Allow statements of the role `roleId` (inline and attached policies) in the stack. */
const roleStatements = (stack: AuditStack, roleId: string): Statement[] =>
  Object.values(resources(stack, "AWS::IAM::Policy"))
    .filter((p) => JSON.stringify(p.Properties?.Roles).includes(`{"Ref":"${roleId}"}`))
    .flatMap((p) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === "Allow");

const queuePolicyOf = (stack: AuditStack, queueId: string): Statement[] =>
  Object.values(resources(stack, "AWS::SQS::QueuePolicy"))
    .filter((p) => JSON.stringify(p.Properties?.Queues) === JSON.stringify([ref(queueId)]))
    .flatMap((p) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);

describe.each(REGIONS)("audit stack (%s)", (region) => {
  const stack = () => auditOf(region);
  const ids = () => {
    const s = stack();
    return {
      writer: logicalId(s, s.writer.function),
      writerRole: logicalId(s, s.writer.role),
      forwarder: logicalId(s, s.forwarder.function),
      forwarderRole: logicalId(s, s.forwarder.role),
      spill: logicalId(s, s.spillQueue),
      storeDlq: logicalId(s, s.storeDlq),
      sinkDlq: logicalId(s, s.sinkDlq),
      bus: logicalId(s, s.bus),
      bucket: logicalId(s, s.sinkBucket),
      stream: logicalId(s, s.deliveryStream),
      topic: logicalId(s, s.alarmTopic),
    };
  };

  it("writer: the audit-writer entry on nodejs22.x arm64, its env, log retention, async retries into the store DLQ", () => {
    const fn = template(stack()).Resources[ids().writer]!;
    const p = fn.Properties!;
    expect(p).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      Timeout: 30,
      TracingConfig: { Mode: "Active" },
      DeadLetterConfig: { TargetArn: arnOf(ids().storeDlq) },
    });
    expect((p.Environment as { Variables: Json }).Variables).toEqual({
      NODE_OPTIONS: "--enable-source-maps",
      PORTCULLIS_TABLE_PREFIX: synth.config.tablePrefix,
      PORTCULLIS_REGION: region,
      PORTCULLIS_AUDIT_RETENTION_DAYS: "365",
    });
    const logGroupId = (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(template(stack()).Resources[logGroupId]!.Properties?.RetentionInDays).toBe(
      synth.config.logRetention,
    );
    // Asynchronous retries: the writer's and the forwarder's, nothing else.
    const invoke = Object.values(resources(stack(), "AWS::Lambda::EventInvokeConfig"));
    expect(invoke).toHaveLength(2);
    expect(invoke.map((r) => r.Properties)).toEqual(
      expect.arrayContaining(
        [ids().writer, ids().forwarder].map((id) =>
          expect.objectContaining({
            FunctionName: ref(id),
            MaximumRetryAttempts: 2,
            MaximumEventAgeInSeconds: 21_600,
          }),
        ),
      ),
    );
  });

  it("forwarder: the audit-forwarder entry, its env, async retries into the store DLQ; CloudWatch Logs may invoke it for the function log groups only", () => {
    const t = template(stack());
    const p = t.Resources[ids().forwarder]!.Properties!;
    expect(p).toMatchObject({
      Runtime: "nodejs22.x",
      Handler: "index.handler",
      Timeout: 60,
      DeadLetterConfig: { TargetArn: arnOf(ids().storeDlq) },
    });
    expect((p.Environment as { Variables: Json }).Variables).toEqual({
      NODE_OPTIONS: "--enable-source-maps",
      PORTCULLIS_REGION: region,
      PORTCULLIS_EVENT_BUS: eventBusName(synth.config),
      PORTCULLIS_AUDIT_DLQ_URL: ref(ids().spill),
      PORTCULLIS_AUDIT_LOG_GROUP_PREFIX: functionLogGroupPrefix(synth.config),
    });
    const permissions = Object.values(resources(stack(), "AWS::Lambda::Permission"))
      .map((r) => r.Properties!)
      .filter((x) => JSON.stringify(x.FunctionName).includes(ids().forwarder));
    expect(permissions).toEqual([
      expect.objectContaining({ Action: "lambda:InvokeFunction", Principal: "logs.amazonaws.com" }),
    ]);
    const sourceArn = flat(permissions[0]!.SourceArn);
    expect(sourceArn).toContain(`:log-group:${functionLogGroupPrefix(synth.config)}*:*`);
    expect(sourceArn).toContain(`:logs:${region}:`);
    expect(permissions[0]!.SourceAccount).toEqual({ Ref: "AWS::AccountId" });
    // IAM: PutEvents on this bus, SendMessage on the spill queue and the store DLQ (Lambda's
    // DeadLetterConfig sends as the function); no table, no other bus.
    const statements = roleStatements(stack(), ids().forwarderRole);
    const services = new Set(statements.flatMap(actionsOf).map((a) => a.split(":")[0]));
    expect([...services].sort()).toEqual(["events", "logs", "sqs", "xray"]);
    const on = (service: string) =>
      statements
        .filter((st) => actionsOf(st).some((a) => a.startsWith(`${service}:`)))
        .map((st) => JSON.stringify([actionsOf(st), st.Resource]));
    expect(on("events")).toEqual([JSON.stringify([["events:PutEvents"], arnOf(ids().bus)])]);
    expect(on("sqs").sort()).toEqual(
      [
        JSON.stringify([["sqs:SendMessage"], arnOf(ids().spill)]),
        JSON.stringify([["sqs:SendMessage"], arnOf(ids().storeDlq)]),
      ].sort(),
    );
  });

  it("writer IAM: PutItem on the audit table only; consume of the two redrive queues; nothing else", () => {
    const statements = roleStatements(stack(), ids().writerRole);
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
    expect(dynamo).toHaveLength(1);
    expect(actionsOf(dynamo[0]!)).toEqual(["dynamodb:PutItem"]);
    const target = JSON.stringify(dynamo[0]!.Resource);
    expect(target).toContain(`:table/${tableName(synth.config.tablePrefix, "audit")}"`);
    expect(target).not.toContain("/index/");
    expect(target).not.toContain("*");

    const services = new Set(statements.flatMap(actionsOf).map((a) => a.split(":")[0]));
    expect([...services].sort()).toEqual(["dynamodb", "logs", "sqs", "xray"]);
    for (const s of statements.filter((x) => actionsOf(x).some((a) => a.startsWith("sqs:")))) {
      expect(actionsOf(s).every((a) => !a.includes("*"))).toBe(true);
      const targets = asArray(s.Resource).map((r) => JSON.stringify(r));
      for (const t of targets)
        expect([JSON.stringify(arnOf(ids().spill)), JSON.stringify(arnOf(ids().storeDlq))]).toContain(t);
    }
    // It never deletes, updates or reads events, and never puts events on the bus.
    const all = statements.flatMap(actionsOf);
    for (const forbidden of [
      "dynamodb:DeleteItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "events:PutEvents",
    ])
      expect(all).not.toContain(forbidden);
  });

  it("store rule: source portcullis.audit on the audit bus → writer, retry policy and its own DLQ", () => {
    expect(AUDIT_EVENT_SOURCE).toBe(AUDIT_SOURCE);
    const rule = template(stack()).Resources[logicalId(stack(), stack().storeRule)]!;
    expect(rule.Properties).toMatchObject({
      EventBusName: ref(ids().bus),
      EventPattern: { source: [AUDIT_SOURCE] },
      State: "ENABLED",
    });
    const targets = rule.Properties!.Targets as Json[];
    expect(targets).toEqual([
      expect.objectContaining({
        Arn: arnOf(ids().writer),
        DeadLetterConfig: { Arn: arnOf(ids().storeDlq) },
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
      }),
    ]);
    // EventBridge may send to the DLQ for this rule only.
    const allow = queuePolicyOf(stack(), ids().storeDlq).filter(
      (s) => s.Effect === "Allow" && JSON.stringify(s.Principal).includes("events.amazonaws.com"),
    );
    expect(allow).toHaveLength(1);
    expect(actionsOf(allow[0]!)).toEqual(["sqs:SendMessage"]);
    expect(JSON.stringify(allow[0]!.Condition)).toContain(logicalId(stack(), stack().storeRule));
  });

  it("archive: the bus, same pattern, retention", () => {
    const archives = Object.values(resources(stack(), "AWS::Events::Archive"));
    expect(archives).toHaveLength(1);
    expect(archives[0]!.Properties).toMatchObject({
      ArchiveName: auditArchiveName(synth.config),
      SourceArn: arnOf(ids().bus),
      EventPattern: { source: [AUDIT_SOURCE] },
      RetentionDays: 90,
    });
  });

  it("sink rule: same pattern → Firehose with retry and DLQ; its role may only put records on the stream", () => {
    const rule = template(stack()).Resources[logicalId(stack(), stack().sinkRule)]!;
    expect(rule.Properties).toMatchObject({
      EventBusName: ref(ids().bus),
      EventPattern: { source: [AUDIT_SOURCE] },
    });
    const [target, ...rest] = rule.Properties!.Targets as Json[];
    expect(rest).toEqual([]);
    expect(target).toMatchObject({
      Arn: arnOf(ids().stream),
      DeadLetterConfig: { Arn: arnOf(ids().sinkDlq) },
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
    });
    const roleId = (target!.RoleArn as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    const role = template(stack()).Resources[roleId]!;
    expect(JSON.stringify(role.Properties?.AssumeRolePolicyDocument)).toContain("events.amazonaws.com");
    const statements = roleStatements(stack(), roleId);
    expect(statements).toEqual([
      expect.objectContaining({
        Action: ["firehose:PutRecord", "firehose:PutRecordBatch"],
        Resource: arnOf(ids().stream),
      }),
    ]);
    expect(
      queuePolicyOf(stack(), ids().sinkDlq).some(
        (s) =>
          s.Effect === "Allow" && JSON.stringify(s.Condition).includes(logicalId(stack(), stack().sinkRule)),
      ),
    ).toBe(true);
  });

  it("firehose: encrypted DirectPut stream into the sink bucket, date-prefixed gzip objects, error logs", () => {
    const stream = template(stack()).Resources[ids().stream]!;
    const p = stream.Properties!;
    expect(p).toMatchObject({
      DeliveryStreamType: "DirectPut",
      DeliveryStreamEncryptionConfigurationInput: { KeyType: "AWS_OWNED_CMK" },
    });
    const s3 = p.ExtendedS3DestinationConfiguration as Json;
    expect(s3).toMatchObject({
      BucketARN: arnOf(ids().bucket),
      CompressionFormat: "GZIP",
      Prefix: expect.stringMatching(/^events\/year=!\{timestamp:yyyy\}\//),
      ErrorOutputPrefix: expect.stringContaining("!{firehose:error-output-type}"),
      CloudWatchLoggingOptions: { Enabled: true },
    });
    // Firehose's role: assumed only by Firehose for this account; S3 object writes on this bucket only.
    const roleId = (s3.RoleARN as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    const role = template(stack()).Resources[roleId]!;
    expect(JSON.stringify(role.Properties?.AssumeRolePolicyDocument)).toContain("firehose.amazonaws.com");
    expect(JSON.stringify(role.Properties?.AssumeRolePolicyDocument)).toContain("sts:ExternalId");
    const statements = roleStatements(stack(), roleId);
    const s3Actions = statements.flatMap(actionsOf).filter((a) => a.startsWith("s3:"));
    expect(s3Actions).toEqual(expect.arrayContaining(["s3:PutObject", "s3:AbortMultipartUpload"]));
    expect(s3Actions.filter((a) => a.includes("*") || a.startsWith("s3:Delete"))).toEqual([]);
    for (const s of statements.filter((x) => actionsOf(x).some((a) => a.startsWith("s3:"))))
      for (const r of asArray(s.Resource)) expect(JSON.stringify(r)).toContain(ids().bucket);
    const logs = statements.filter((x) => actionsOf(x).some((a) => a.startsWith("logs:")));
    expect(logs.flatMap(actionsOf)).toEqual(["logs:PutLogEvents"]);
    expect(JSON.stringify(logs[0]!.Resource)).toContain(
      `":log-stream:",{"Ref":"${logicalId(stack(), stack().node.findChild("SinkLogStream"))}"}`,
    );
  });

  it("sink bucket: encrypted, public access blocked, TLS only, versioned, access-logged, Glacier lifecycle, retained", () => {
    const bucket = template(stack()).Resources[ids().bucket]!;
    const p = bucket.Properties!;
    expect(bucket.DeletionPolicy).toBe("Retain");
    expect(p.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
    expect(p.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(p.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(p.LoggingConfiguration).toMatchObject({ DestinationBucketName: expect.anything() });
    const rules = (p.LifecycleConfiguration as { Rules: Json[] }).Rules;
    expect(rules).toEqual([
      expect.objectContaining({
        Status: "Enabled",
        Transitions: [{ StorageClass: "GLACIER", TransitionInDays: 90 }],
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      }),
    ]);
    expect(rules[0]!.ExpirationInDays).toBeUndefined();
    const policy = Object.values(resources(stack(), "AWS::S3::BucketPolicy")).find(
      (r) => JSON.stringify(r.Properties?.Bucket) === JSON.stringify(ref(ids().bucket)),
    )!;
    expect((policy.Properties!.PolicyDocument as { Statement: Statement[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });

  it("queues: spill queue and both DLQs are SSE-SQS encrypted, TLS only, kept 14 days", () => {
    const queues = resources(stack(), "AWS::SQS::Queue");
    expect(Object.keys(queues).sort()).toEqual([ids().spill, ids().storeDlq, ids().sinkDlq].sort());
    expect(queues[ids().spill]!.Properties?.QueueName).toBe(auditSpillQueueName(synth.config));
    for (const [id, q] of Object.entries(queues)) {
      expect(q.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
      // Visibility timeout above the writer's timeout (event source mapping requirement).
      expect(q.Properties!.VisibilityTimeout as number).toBeGreaterThanOrEqual(30);
      const deny = queuePolicyOf(stack(), id).filter((s) => s.Effect === "Deny");
      expect(JSON.stringify(deny)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it("redrive: disabled event source mappings from the spill queue and the store DLQ onto the writer", () => {
    const mappings = Object.values(resources(stack(), "AWS::Lambda::EventSourceMapping"));
    expect(mappings.map((m) => m.Properties)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          EventSourceArn: arnOf(ids().spill),
          Enabled: false,
          FunctionName: ref(ids().writer),
        }),
        // One message at a time: a forwarder's dead-lettered payload can hold thousands of events.
        expect.objectContaining({
          EventSourceArn: arnOf(ids().storeDlq),
          Enabled: false,
          FunctionName: ref(ids().writer),
          BatchSize: 1,
        }),
      ]),
    );
    expect(mappings).toHaveLength(2);
  });

  it("emitting functions write audit lines (log transport), send to this region's spill queue (SendMessage only), know its URL", () => {
    // Same-region references: outputs the Audit stack publishes, read by name (Fn::GetStackOutput).
    const outputs = template(stack()).Outputs;
    const published = (value: unknown) =>
      Object.entries(outputs).find(
        ([name, o]) => name.startsWith("PublishOutput") && JSON.stringify(o.Value) === JSON.stringify(value),
      )?.[0];
    const urlOutput = published(ref(ids().spill));
    const arnOutput = published(arnOf(ids().spill));
    expect(urlOutput).toBeDefined();
    expect(arnOutput).toBeDefined();
    const fromAudit = (name: string) => ({
      "Fn::GetStackOutput": { StackName: stack().stackName, Region: region, OutputName: name },
    });
    const emitters = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => f.emitsEvents);
    expect(emitters.length).toBeGreaterThan(0);
    for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
      const env = environmentOf(synth.stacks, region, spec);
      const sqs = functionStatements(synth.stacks, region, spec).filter((s) =>
        actionsOf(s).some((a) => a.startsWith("sqs:")),
      );
      // Audit lines are written in the invocation; no function registers the audit extension.
      expect(env.PORTCULLIS_AUDIT_FLUSH, spec.id).toBe("in-invocation");
      expect(env.PORTCULLIS_AUDIT_BUS, spec.id).toBe(spec.emitsEvents ? "log" : undefined);
      if (spec.emitsEvents) {
        expect(env.PORTCULLIS_AUDIT_DLQ_URL, spec.id).toEqual(fromAudit(urlOutput!));
        expect(sqs.flatMap(actionsOf), spec.id).toEqual(["sqs:SendMessage"]);
        expect(sqs[0]!.Resource, spec.id).toEqual(fromAudit(arnOutput!));
      } else {
        expect(env.PORTCULLIS_AUDIT_DLQ_URL, spec.id).toBeUndefined();
        expect(sqs, spec.id).toEqual([]);
      }
    }
  });

  it("log transport: each emitting function's log group (named under the forwarder's permission prefix) has a subscription filter on audit lines to this region's forwarder; no other has one", () => {
    const api = synth.stacks.regions.get(region)!.api;
    const apiResources = Template.fromStack(api).toJSON().Resources as Record<string, Resource>;
    const filters = Object.values(resources(api, "AWS::Logs::SubscriptionFilter")).map((f) => f.Properties!);
    const forwarderArn = Object.entries(template(stack()).Outputs).find(
      ([name, o]) =>
        name.startsWith("PublishOutput") &&
        JSON.stringify(o.Value) === JSON.stringify(arnOf(ids().forwarder)),
    )?.[0];
    expect(forwarderArn).toBeDefined();
    for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
      const fn = api.functions.get(spec.id)!;
      const groupId = api.getLogicalId(fn.logGroup.node.defaultChild as CfnResource);
      const name = apiResources[groupId]!.Properties!.LogGroupName as string;
      expect(name).toBe(functionLogGroupName(synth.config, spec.id));
      expect(name.startsWith(functionLogGroupPrefix(synth.config))).toBe(true);
      const mine = filters.filter((f) => JSON.stringify(f.LogGroupName) === JSON.stringify(ref(groupId)));
      expect(mine, spec.id).toHaveLength(spec.emitsEvents ? 1 : 0);
      if (spec.emitsEvents) {
        expect(mine[0]).toEqual({
          LogGroupName: ref(groupId),
          FilterPattern: AUDIT_LINE_FILTER_PATTERN,
          FilterName: AUDIT_SUBSCRIPTION_FILTER_NAME,
          DestinationArn: {
            "Fn::GetStackOutput": { StackName: stack().stackName, Region: region, OutputName: forwarderArn },
          },
        });
        // The function (switched to the log transport) is created or updated after its filter.
        const filterId = Object.entries(resources(api, "AWS::Logs::SubscriptionFilter")).find(
          ([, f]) => JSON.stringify(f.Properties?.LogGroupName) === JSON.stringify(ref(groupId)),
        )![0];
        const fnId = api.getLogicalId(fn.function.node.defaultChild as CfnResource);
        expect(apiResources[fnId]!.DependsOn).toContain(filterId);
      }
    }
    expect(filters).toHaveLength((FUNCTIONS as readonly FunctionSpec[]).filter((f) => f.emitsEvents).length);
    // The forwarder's own log group is never subscribed (it would forward its own failures).
    expect(resources(stack(), "AWS::Logs::SubscriptionFilter")).toEqual({});
  });

  it("alarms: every audit counter, the lag, the queues, the writer, the sink; all notify the topic", () => {
    const alarms = Object.values(resources(stack(), "AWS::CloudWatch::Alarm")).map((a) => a.Properties!);
    for (const a of alarms) expect(a.AlarmActions).toEqual([ref(ids().topic)]);
    const on = (namespace: string, metric: string) =>
      alarms.filter((a) => a.Namespace === namespace && a.MetricName === metric);

    for (const name of AUDIT_COUNT_ALARMS) {
      expect(AUDIT_METRIC_NAMES).toContain(name);
      const [a, ...more] = on(AUDIT_NAMESPACE, name);
      expect(more).toEqual([]);
      expect(a).toMatchObject({
        Dimensions: [{ Name: "Region", Value: region }],
        Statistic: "Sum",
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
      });
    }
    expect(on(AUDIT_NAMESPACE, "AuditEventLag")).toEqual([
      expect.objectContaining({
        Dimensions: [{ Name: "Region", Value: region }],
        Statistic: "Maximum",
        Threshold: synth.config.audit.lagAlarmMs,
        ComparisonOperator: "GreaterThanThreshold",
      }),
    ]);
    const depth = on("AWS/SQS", "ApproximateNumberOfMessagesVisible");
    expect(depth.map((a) => JSON.stringify(a.Dimensions)).sort()).toEqual(
      [ids().spill, ids().storeDlq, ids().sinkDlq]
        .map((id) => JSON.stringify([{ Name: "QueueName", Value: { "Fn::GetAtt": [id, "QueueName"] } }]))
        .sort(),
    );
    for (const a of depth)
      expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: "GreaterThanThreshold" });
    const errors = on("AWS/Lambda", "Errors");
    expect(errors).toHaveLength(2);
    expect(errors).toEqual(
      expect.arrayContaining(
        [ids().writer, ids().forwarder].map((id) =>
          expect.objectContaining({
            Dimensions: [{ Name: "FunctionName", Value: ref(id) }],
            Threshold: 0,
            Statistic: "Sum",
          }),
        ),
      ),
    );
    // What Lambda's asynchronous side drops, for both asynchronously invoked functions.
    for (const metric of ["AsyncEventsDropped", "DeadLetterErrors"])
      expect(
        on("AWS/Lambda", metric)
          .map((a) => JSON.stringify(a.Dimensions))
          .sort(),
      ).toEqual(
        [ids().writer, ids().forwarder]
          .map((id) => JSON.stringify([{ Name: "FunctionName", Value: ref(id) }]))
          .sort(),
      );
    expect(on("AWS/Lambda", "Throttles")).toEqual([
      expect.objectContaining({ Dimensions: [{ Name: "FunctionName", Value: ref(ids().forwarder) }] }),
    ]);
    // Subscription deliveries CloudWatch Logs gave up on, per emitting function's log group.
    const emitters = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => f.emitsEvents);
    for (const metric of ["DeliveryErrors", "DeliveryThrottling"]) {
      const dims = on("AWS/Logs", metric).map((a) => JSON.stringify(a.Dimensions));
      expect(dims.sort()).toEqual(
        emitters
          .map((f) =>
            JSON.stringify([
              { Name: "DestinationType", Value: "Lambda" },
              { Name: "FilterName", Value: AUDIT_SUBSCRIPTION_FILTER_NAME },
              { Name: "LogGroupName", Value: functionLogGroupName(synth.config, f.id) },
            ]),
          )
          .sort(),
      );
    }
    expect(on("AWS/Events", "InvocationsFailedToBeSentToDlq")).toHaveLength(2);
    expect(on("AWS/Firehose", "DeliveryToS3.DataFreshness")).toHaveLength(1);
  });

  it("alarm topic: TLS-only publishing, no subscription without alarmEmail", () => {
    const policy = Object.values(resources(stack(), "AWS::SNS::TopicPolicy"))[0]!;
    expect((policy.Properties!.PolicyDocument as { Statement: Statement[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Action: "sns:Publish",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
    expect(resources(stack(), "AWS::SNS::Subscription")).toEqual({});
  });

  it("outputs: spill queue URL, archive name, bucket name", () => {
    const outputs = template(stack()).Outputs;
    expect(outputs.SpillQueueUrl?.Value).toEqual(ref(ids().spill));
    expect(outputs.ArchiveName?.Value).toEqual(ref(logicalId(stack(), stack().archive)));
    expect(outputs.SinkBucketName?.Value).toEqual(ref(ids().bucket));
    expect(outputs.SpillRedriveMappingId).toBeDefined();
    expect(outputs.StoreDlqRedriveMappingId).toBeDefined();
  });

  it("cdk-nag: no findings in the stack; every acknowledgement has a reason", () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack());
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    const acks = acknowledgements(stack());
    expect([...new Set(acks.map(([id]) => id.replace(/^annotation::/i, "")))].sort()).toEqual(
      [
        "AwsSolutions-IAM5[Resource::*]", // X-Ray (ApiFunction)
        `AwsSolutions-IAM5[Resource::<${ids().bucket}.Arn>/*]`,
        "AwsSolutions-L1",
        "AwsSolutions-S1",
        "AwsSolutions-SQS3",
      ].sort(),
    );
    for (const [, reason] of acks) expect(reason.length).toBeGreaterThan(40);
  });
});

describe("audit stack: the bus", () => {
  it("is the one the api stack's functions put events on", () => {
    for (const region of REGIONS) {
      const bus = Object.values(resources(auditOf(region), "AWS::Events::EventBus"));
      expect(bus.map((b) => b.Properties?.Name)).toEqual([eventBusName(synth.config)]);
    }
    expect(auditOf(REPLICA).dependencies.map((d) => d.stackName)).toContain(synth.stacks.data.stackName);
    for (const region of REGIONS)
      expect(synth.stacks.regions.get(region)!.api.dependencies.map((d) => d.stackName)).toContain(
        auditOf(region).stackName,
      );
  });
});

describe("audit stack: configuration", () => {
  it("retention, archive, lifecycle, lag threshold and alarm email come from the config", () => {
    const custom = synthesize({
      stage: "test",
      regions: "eu-west-1",
      auditRetentionDays: "400",
      auditArchiveRetentionDays: "30",
      auditSinkGlacierDays: "120",
      auditSinkExpirationDays: "2555",
      auditLagAlarmMs: "5000",
      alarmEmail: "oncall@example.com",
    });
    try {
      const stack = custom.stacks.regions.get("eu-west-1")!.audit;
      const t = Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> };
      const writer = t.Resources[logicalId(stack, stack.writer.function)]!;
      expect(
        (writer.Properties!.Environment as { Variables: Json }).Variables.PORTCULLIS_AUDIT_RETENTION_DAYS,
      ).toBe("400");
      expect(Object.values(resources(stack, "AWS::Events::Archive"))[0]!.Properties?.RetentionDays).toBe(30);
      const rules = (
        t.Resources[logicalId(stack, stack.sinkBucket)]!.Properties!.LifecycleConfiguration as {
          Rules: Json[];
        }
      ).Rules;
      expect(rules[0]).toMatchObject({
        Transitions: [{ StorageClass: "GLACIER", TransitionInDays: 120 }],
        ExpirationInDays: 2555,
      });
      const lag = Object.values(resources(stack, "AWS::CloudWatch::Alarm")).find(
        (a) => a.Properties?.MetricName === "AuditEventLag",
      )!;
      expect(lag.Properties?.Threshold).toBe(5000);
      expect(Object.values(resources(stack, "AWS::SNS::Subscription")).map((s) => s.Properties)).toEqual([
        expect.objectContaining({ Protocol: "email", Endpoint: "oncall@example.com" }),
      ]);
    } finally {
      custom.dispose();
    }
  });
});

describe("audit stack: the eventbridge transport", () => {
  it("emitters put events on the bus themselves, after the response; no subscription filter", () => {
    const custom = synthesize({ stage: "test", regions: "eu-west-1", auditTransport: "eventbridge" });
    try {
      const api = custom.stacks.regions.get("eu-west-1")!.api;
      for (const spec of FUNCTIONS as readonly FunctionSpec[]) {
        const env = environmentOf(custom.stacks, "eu-west-1", spec);
        const actions = functionStatements(custom.stacks, "eu-west-1", spec).flatMap(actionsOf);
        expect(actions.includes("events:PutEvents"), spec.id).toBe(spec.emitsEvents ?? false);
        expect(env.PORTCULLIS_AUDIT_FLUSH, spec.id).toBe(
          spec.emitsEvents ? "after-response" : "in-invocation",
        );
        expect(env.PORTCULLIS_AUDIT_BUS, spec.id).toBe(spec.emitsEvents ? "eventbridge" : undefined);
      }
      expect(resources(api, "AWS::Logs::SubscriptionFilter")).toEqual({});
    } finally {
      custom.dispose();
    }
  });
});

describe("alarm dimensions match what the handlers emit", () => {
  it("the EMF line of an emitting handler carries exactly the dimension set the alarms use", async () => {
    const config = configFromEnv(
      {
        PORTCULLIS_ADMIN_KEY: "admin-key-for-audit-stack-test",
        PORTCULLIS_LOG_LEVEL: "silent",
        PORTCULLIS_AUDIT_BUS: "in-process",
        PORTCULLIS_AUDIT_EMF: "true",
        PORTCULLIS_REGION: PRIMARY,
      },
      { issuer: "http://localhost" },
    );
    const c = createContainer(config);
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const res = await createHandlers(c).admin!(
        apiEvent({
          method: "POST",
          path: "/admin/v1/tenants",
          headers: bearer("admin-key-for-audit-stack-test"),
          body: { name: "Acme" },
        }),
        { ...lambdaContext, getRemainingTimeInMillis: () => 10_000 } as unknown as Context,
      );
      expect(res.statusCode).toBe(201);
    } finally {
      spy.mockRestore();
      c.audit.destroy();
    }
    const emf = writes
      .flatMap((w) => w.split("\n"))
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Json)
      .find((j) => j._aws);
    expect(emf).toBeDefined();
    const directive = (emf!._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] })
      .CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe(AUDIT_NAMESPACE);
    // CloudWatch matches an alarm's metric on the exact dimension set: the handlers' set must be
    // the alarms' set ({Region}), or the alarms watch a metric nobody writes.
    const alarmDimensions = Object.values(resources(auditOf(PRIMARY), "AWS::CloudWatch::Alarm"))
      .filter((a) => a.Properties?.Namespace === AUDIT_NAMESPACE)
      .map((a) => a.Properties!.Dimensions as { Name: string; Value: string }[]);
    expect(alarmDimensions.length).toBe(AUDIT_COUNT_ALARMS.length + 1);
    for (const dims of alarmDimensions) {
      expect(directive.Dimensions).toEqual([dims.map((d) => d.Name)]);
      for (const d of dims) expect(emf![d.Name]).toBe(d.Value);
    }
  });
});

describe("redrive message shapes (functions/audit-writer.ts)", () => {
  const event = { v: 1, id: "01J0000000000000000000000A", tenant: "t1" };
  it("keeps spill messages, unwraps EventBridge events of the store DLQ, passes anything else", () => {
    const spill = JSON.stringify({ reason: "bus refused", event });
    const dead = JSON.stringify({
      version: "0",
      source: AUDIT_SOURCE,
      "detail-type": "token.issued",
      detail: event,
    });
    const out = redriveBodies({ Records: [{ body: spill }, { body: dead }, { body: "not json" }] });
    expect(out.Records[0]!.body).toBe(spill);
    expect(JSON.parse(out.Records[1]!.body)).toEqual({ reason: "dead-letter", event });
    expect(out.Records[2]!.body).toBe("not json");
  });

  it("expands a dead-lettered forwarder payload (CloudWatch Logs event) into one message per audit line", () => {
    const [a, b] = [checkEventAt("t1", 1, Date.UTC(2099, 0)), checkEventAt("t1", 2, Date.UTC(2099, 0))];
    const body = JSON.stringify(
      // The last line cut short: rejected, logged.
      subscriptionDelivery([`${auditLine(a)}\n`, `${auditLine(b)}\n`, auditLine(b).slice(0, 40)]),
    );
    const spill = JSON.stringify({ reason: "bus refused", event });
    const out = redriveBodies({ Records: [{ body }, { body: spill }] });
    expect(out.Records.map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { reason: "dead-letter", event: a },
      { reason: "dead-letter", event: b },
      { reason: "bus refused", event },
    ]);
  });
});
