/**
 * `ApiFunction`: a NodejsFunction with Portcullis defaults (nodejs22.x, arm64, ESM bundle with source
 * maps, explicit log group, X-Ray) and its own role that starts with nothing but log writes and
 * X-Ray. Every other permission is added with the narrow `grant*` methods below.
 *
 * The signing and key rotation functions run as roles of the Keys stack instead (`roleName`): the
 * key policies name those roles, which hold the KMS grants (lib/constructs/key-policies.ts); the
 * function adds its other grants to them here, in its own stack.
 *
 * Not only for API groups: the audit writer (lib/stacks/audit-stack.ts) is built with it too, so
 * every function is bundled and locked down the same way.
 */
import { join } from "node:path";
import { Duration, Stack, Validations } from "aws-cdk-lib";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import { Effect, type IRole, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { LogLevel, NodejsFunction, OutputFormat, SourceMapMode } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { TableDef } from "../../src/shared/tables.ts";
import type { TableAccess } from "../config/functions.ts";
import { LOCK_FILE, REPO_ROOT } from "../config/paths.ts";

/** Lets ESM bundles load CommonJS dependencies that call `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/** DynamoDB actions per access level; no stream or table-management actions. */
export const TABLE_ACTIONS: Readonly<Record<TableAccess, readonly string[]>> = {
  read: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
  ],
  readwrite: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ],
};

export interface ApiFunctionProps {
  /** Handler file, relative to the repository root; it must export `handler`. */
  readonly entry: string;
  /** Environment variables (reserved `PORTCULLIS_*` ones included). */
  readonly environment: Readonly<Record<string, string>>;
  /** Log retention of the function's log group. */
  readonly logRetention: RetentionDays;
  /** Name of the function's log group. @default - generated */
  readonly logGroupName?: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default - none */
  readonly description?: string;
  /**
   * Name of an existing role (same account) to run as; the function adds its grants to it.
   * @default - a new role with log writes and X-Ray only
   */
  readonly roleName?: string;
  /**
   * Asynchronous invocations (EventBridge targets): retries after a function error, maximum event
   * age, and the SQS queue that keeps the events that still failed (`DeadLetterConfig`).
   * @default - Lambda's defaults (2 retries, 6 hours, no dead-letter queue)
   */
  readonly async?: {
    readonly retryAttempts: number;
    readonly maxEventAge: Duration;
    readonly deadLetterQueue: IQueue;
  };
}

export class ApiFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: IRole;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ApiFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      ...(props.logGroupName === undefined ? {} : { logGroupName: props.logGroupName }),
    });
    // Own role instead of AWSLambdaBasicExecutionRole: logs only to this function's log group.
    this.role =
      props.roleName === undefined
        ? new Role(this, "Role", {
            assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
            description: `Portcullis ${id} function`,
          })
        : Role.fromRoleName(this, "Role", props.roleName);
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, "Function", {
      entry: join(REPO_ROOT, props.entry),
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.description === undefined ? {} : { description: props.description }),
      ...(props.async === undefined
        ? {}
        : {
            retryAttempts: props.async.retryAttempts,
            maxEventAge: props.async.maxEventAge,
            deadLetterQueue: props.async.deadLetterQueue,
          }),
      environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        target: "node22",
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        // The nodejs22.x runtime ships AWS SDK v3; keeping it out keeps bundles (and cold starts) small.
        externalModules: ["@aws-sdk/*"],
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
      },
    });

    // An existing role gets its grants from a policy in this stack: create it before the function.
    if (props.roleName !== undefined) this.function.node.addDependency(this.role);

    // cdk-nag acknowledgements (the checks run as a policy validation plugin, see lib/app.ts).
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
    });
    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason:
        "nodejs22.x (LTS) is the platform's pinned runtime: bundles target node22 and are tested as such; moving to a newer runtime is a deliberate, tested change.",
    });
  }

  /** Allows `access` on one table and its GSIs, by exact ARN (no wildcards). */
  grantTable(table: TableDef, physicalName: string, access: TableAccess, region?: string): void {
    const stack = Stack.of(this);
    const tableArn = stack.formatArn({
      service: "dynamodb",
      resource: "table",
      resourceName: physicalName,
      ...(region ? { region } : {}),
    });
    const where = region ? region.replace(/[^A-Za-z0-9]/g, "") : "";
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: `Table${table.id.charAt(0).toUpperCase()}${table.id.slice(1)}${access === "read" ? "Read" : "ReadWrite"}${where}`,
        effect: Effect.ALLOW,
        actions: [...TABLE_ACTIONS[access]],
        resources: [tableArn, ...table.globalSecondaryIndexes.map((i) => `${tableArn}/index/${i.indexName}`)],
      }),
    );
  }

  /**
   * Allows only `PutItem` on one table (not its indexes), by exact ARN: an append-only writer such
   * as the audit writer (conditional puts, src/audit/adapters/dynamodb.ts).
   */
  grantPutItem(table: TableDef, physicalName: string): void {
    const tableArn = Stack.of(this).formatArn({
      service: "dynamodb",
      resource: "table",
      resourceName: physicalName,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: `Table${table.id.charAt(0).toUpperCase()}${table.id.slice(1)}PutItem`,
        effect: Effect.ALLOW,
        actions: ["dynamodb:PutItem"],
        resources: [tableArn],
      }),
    );
  }

  /**
   * Allows `sqs:SendMessage` (which also covers `SendMessageBatch`) on the queue and nothing else:
   * the audit spill (src/audit/adapters/sqs.ts) only sends. The queue uses SQS-managed encryption,
   * so no KMS grant is needed.
   */
  grantSendMessages(queue: IQueue): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "AuditSpillSend",
        effect: Effect.ALLOW,
        actions: ["sqs:SendMessage"],
        resources: [queue.queueArn],
      }),
    );
  }

  /** Allows reading the secret (`GetSecretValue`, `DescribeSecret`). */
  grantSecretRead(secret: ISecret): void {
    secret.grantRead(this.role);
  }

  /** Allows `PutEvents` on the bus. */
  grantPutEvents(bus: IEventBus): void {
    bus.grantPutEventsTo(this.role);
  }
}
