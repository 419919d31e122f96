/**
 * API stack (every region): one `ApiFunction` per entry of `lib/config/functions.ts`, the regional
 * HTTP API routing to them, and each function's least-privilege grants. Tables, the admin secret,
 * the key aliases and the KMS roles are found by their deterministic names. The region's audit bus
 * and spill queue come from its Audit stack (same-region references). The only cross-region
 * value is the default issuer of a multi-region deployment without `issuer` (lib/app.ts).
 */
import { CfnOutput, Duration, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { FilterPattern, LogGroup, SubscriptionFilter } from "aws-cdk-lib/aws-logs";
import { LambdaDestination } from "aws-cdk-lib/aws-logs-destinations";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { AUDIT_LINE_FILTER_PATTERN } from "../../src/audit/adapters/log-lines.ts";
import { TABLES, type TableId, tableName } from "../../src/shared/tables.ts";
import { type FunctionSpec, parseRouteKey, rotatesKeys, validateFunctions } from "../config/functions.ts";
import {
  AUDIT_SUBSCRIPTION_FILTER_NAME,
  adminKeySecretName,
  eventBusName,
  functionLogGroupName,
  httpApiName,
  keyAdminRoleName,
  signerRoleName,
  signingKeyAlias,
  wrappingKeyAlias,
} from "../config/names.ts";
import type { PortcullisConfig } from "../config/stage.ts";
import { ApiFunction } from "../constructs/api-function.ts";

export interface ApiStackProps extends StackProps {
  readonly config: PortcullisConfig;
  /** The functions and routes to deploy. */
  readonly functions: readonly FunctionSpec[];
  /** This region's audit bus. */
  readonly bus: IEventBus;
  /**
   * This region's audit forwarder (Audit stack): with the `log` transport, a subscription filter on
   * each emitting function's log group sends it the audit lines.
   */
  readonly forwarder: IFunction;
  /**
   * This region's audit spill queue (Audit stack): functions that emit events send what the bus
   * does not take there (`PORTCULLIS_AUDIT_DLQ_URL`).
   */
  readonly spillQueue: IQueue;
  /**
   * `PORTCULLIS_ISSUER`, the same in every region: the configured issuer, or the primary region's
   * API endpoint in a multi-region deployment without one.
   * @default - this region's API endpoint (single-region deployments only)
   */
  readonly issuer?: string;
}

/**
 * Signer settings of every function (src/keys/settings.ts). Each function builds the key ring and
 * refuses local keys with DynamoDB; only the signer and key admin roles may use the keys (IAM and
 * key policies). Aliases resolve to the key of the function's own region.
 */
export const signerEnvironment = (config: PortcullisConfig, region: string): Record<string, string> => {
  if (config.signer === "kms-envelope")
    return { PORTCULLIS_SIGNER: "kms-envelope", PORTCULLIS_KMS_WRAPPING_KEY_ID: wrappingKeyAlias(config) };
  const others = config.regions.filter((r) => r !== region);
  return {
    PORTCULLIS_SIGNER: "kms",
    PORTCULLIS_KMS_KEY_ID: signingKeyAlias(config),
    // Keys a rotation creates here are replicated to every other region.
    ...(others.length > 0 ? { PORTCULLIS_KMS_REPLICA_REGIONS: others.join(",") } : {}),
  };
};

/**
 * How a function emits audit events (src/audit/settings.ts). With the `log` transport, emitters write
 * audit lines (the CloudWatch Logs subscription filter hands them to the forwarder), synchronously in
 * the invocation, no extension needed; with `eventbridge` they flush after the response (Lambda
 * extension, functions/_shared/audit-extension.ts; in-invocation if it cannot register). Functions
 * that emit nothing have nothing to flush, so no extension.
 */
export const auditEnvironment = (config: PortcullisConfig, emitsEvents: boolean): Record<string, string> =>
  !emitsEvents
    ? { PORTCULLIS_AUDIT_FLUSH: "in-invocation" }
    : config.audit.transport === "log"
      ? { PORTCULLIS_AUDIT_BUS: "log", PORTCULLIS_AUDIT_FLUSH: "in-invocation" }
      : { PORTCULLIS_AUDIT_BUS: "eventbridge", PORTCULLIS_AUDIT_FLUSH: "after-response" };

/** Access log line: one JSON object per request, no request bodies or tokens. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: "$context.requestId",
    ip: "$context.identity.sourceIp",
    userAgent: "$context.identity.userAgent",
    requestTime: "$context.requestTimeEpoch",
    routeKey: "$context.routeKey",
    status: "$context.status",
    responseLength: "$context.responseLength",
    latencyMs: "$context.responseLatency",
    integrationLatencyMs: "$context.integrationLatency",
    integrationError: "$context.integrationErrorMessage",
  }),
);

export class ApiStack extends Stack {
  readonly api: HttpApi;
  readonly functions: ReadonlyMap<string, ApiFunction>;
  /** Base URL of the regional API. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config } = props;
    validateFunctions(props.functions);

    this.api = new HttpApi(this, "HttpApi", {
      apiName: httpApiName(config),
      description: `Portcullis ${config.stage} API (${this.region})`,
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, "AccessLogs", { retention: config.logRetention });
    const stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: config.apiThrottle.rateLimit, burstLimit: config.apiThrottle.burstLimit },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });
    this.url = this.api.apiEndpoint;

    // Same name in every region (replicated from the primary); a partial ARN, which Secrets Manager resolves.
    const adminKeySecret = Secret.fromSecretNameV2(this, "AdminKeySecret", adminKeySecretName(config));

    const issuer = props.issuer ?? this.api.apiEndpoint;
    const environment: Record<string, string> = {
      PORTCULLIS_TABLE_PREFIX: config.tablePrefix,
      PORTCULLIS_REGION: this.region,
      PORTCULLIS_STORE: "dynamodb",
      PORTCULLIS_EVENT_BUS: eventBusName(config),
      // Same values in every region: a token issued anywhere verifies everywhere.
      PORTCULLIS_ISSUER: issuer,
      PORTCULLIS_API_AUDIENCE: config.apiAudience ?? issuer,
      ...signerEnvironment(config, this.region),
    };

    const logTransport = config.audit.transport === "log";
    const functions = new Map<string, ApiFunction>();
    const peers = config.regions.filter((r) => r !== this.region);
    for (const spec of props.functions) {
      const authenticates = spec.authenticates ?? true;
      const readsPeers = (spec.readsPeerReplicas ?? false) && peers.length > 0;
      const tableEnv: Record<string, string> = {};
      for (const id of Object.keys(spec.tables) as TableId[]) {
        tableEnv[`TABLE_${id.toUpperCase()}`] = tableName(config.tablePrefix, id);
      }
      const fn = new ApiFunction(this, `${spec.id.charAt(0).toUpperCase()}${spec.id.slice(1)}Function`, {
        entry: spec.entry,
        description: `Portcullis ${config.stage} ${spec.id}: ${spec.routes.join(", ")}`,
        logRetention: config.logRetention,
        logGroupName: functionLogGroupName(config, spec.id),
        ...(spec.memorySize === undefined ? {} : { memorySize: spec.memorySize }),
        ...(spec.timeoutSeconds === undefined ? {} : { timeout: Duration.seconds(spec.timeoutSeconds) }),
        // The KMS principals live in the Keys stack with their KMS grants (lib/stacks/keys-stack.ts).
        ...(spec.signs
          ? { roleName: signerRoleName(config, this.region) }
          : rotatesKeys(spec)
            ? { roleName: keyAdminRoleName(config, this.region) }
            : {}),
        environment: {
          ...environment,
          ...tableEnv,
          // Only functions allowed to read the secret learn where it is (the container reads it when set).
          ...(authenticates ? { PORTCULLIS_ADMIN_KEY_SECRET_ARN: adminKeySecret.secretArn } : {}),
          ...(readsPeers ? { PORTCULLIS_AUTHZ_PEER_REGIONS: peers.join(",") } : {}),
          ...(spec.emitsEvents ? { PORTCULLIS_AUDIT_DLQ_URL: props.spillQueue.queueUrl } : {}),
          ...auditEnvironment(config, spec.emitsEvents ?? false),
        },
      });

      for (const def of TABLES) {
        const access = spec.tables[def.id];
        if (access === undefined) continue;
        fn.grantTable(def, tableName(config.tablePrefix, def.id), access);
        // Read-only on the other regions' replicas: consistency tokens written there (docs/CONSISTENCY.md).
        if (readsPeers)
          for (const peer of peers) fn.grantTable(def, tableName(config.tablePrefix, def.id), "read", peer);
      }
      if (authenticates) fn.grantSecretRead(adminKeySecret);
      if (spec.emitsEvents) {
        fn.grantSendMessages(props.spillQueue);
        if (logTransport) {
          const filter = new SubscriptionFilter(fn, "AuditLines", {
            logGroup: fn.logGroup,
            destination: new LambdaDestination(props.forwarder, { addPermissions: false }),
            filterPattern: FilterPattern.literal(AUDIT_LINE_FILTER_PATTERN),
            filterName: AUDIT_SUBSCRIPTION_FILTER_NAME,
          });
          // A subscription takes only what is written after it exists: the function (its
          // environment switched to the log transport) is created or updated after its filter.
          fn.function.node.addDependency(filter);
        } else fn.grantPutEvents(props.bus);
      }

      const integration = new HttpLambdaIntegration(`${spec.id}-integration`, fn.function);
      for (const routeKey of spec.routes) {
        const { method, path } = parseRouteKey(routeKey);
        const [route] = this.api.addRoutes({ path, methods: [HttpMethod[method]], integration });
        if (route === undefined) throw new Error(`route ${routeKey} was not created`);
        Validations.of(route).acknowledge({
          id: "AwsSolutions-APIG4",
          reason:
            spec.publicAccess ??
            "Authorization is done in the function: bearer tokens (platform admin key, tenant-scoped tokens) are verified by the handler, which returns 401/403 problem+json.",
        });
      }
      functions.set(spec.id, fn);
    }
    this.functions = functions;

    new CfnOutput(this, "ApiUrl", { value: stage.url });
  }
}
