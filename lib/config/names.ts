/**
 * Physical names and stack ids derived from the stage. Deterministic names let every region find
 * its tables, bus, key aliases, roles and admin secret without cross-region references.
 */
import type { PortcullisConfig } from "./stage.ts";

/** The stacks of one region, in deployment order. */
export type StackKind = "Data" | "Keys" | "Audit" | "Api";

/** Stack id and CloudFormation name, e.g. `Portcullis-dev-Api-eu-west-1`. */
export const stackName = (config: PortcullisConfig, kind: StackKind, region: string): string =>
  `Portcullis-${config.stage}-${kind}-${region}`;

/** Alias of the multi-region signing key (same in every region). */
export const signingKeyAlias = (config: PortcullisConfig): string =>
  `alias/portcullis-${config.stage}-signing`;

/** Alias of the multi-region wrapping key of the `kms-envelope` signer (same in every region). */
export const wrappingKeyAlias = (config: PortcullisConfig): string =>
  `alias/portcullis-${config.stage}-token-wrapping`;

/**
 * Name of a region's signer role: the execution role of the signing function (`signs: true`), the
 * only principal the key policies let use the signing and wrapping keys. IAM is global, so the
 * region is part of the name; the key policies name every region's role (`aws:PrincipalArn`).
 */
export const signerRoleName = (config: PortcullisConfig, region: string): string =>
  `portcullis-${config.stage}-signer-${region}`;

/**
 * Name of a region's key admin role: the execution role of the function serving
 * `POST /admin/v1/keys/rotate` (creates, tags and replicates signing keys; envelope keys).
 */
export const keyAdminRoleName = (config: PortcullisConfig, region: string): string =>
  `portcullis-${config.stage}-keyadmin-${region}`;

/** Name of the platform admin key secret (replicated to every region under the same name). */
export const adminKeySecretName = (config: PortcullisConfig): string =>
  `portcullis/${config.stage}/admin-key`;

/** Name of the audit EventBridge bus in each region. */
export const eventBusName = (config: PortcullisConfig): string => `portcullis-${config.stage}-audit`;

/** Name of the HTTP API in each region. */
export const httpApiName = (config: PortcullisConfig): string => `portcullis-${config.stage}`;

/** Name of the EventBridge archive of the audit bus (replay), in each region. */
export const auditArchiveName = (config: PortcullisConfig): string => `portcullis-${config.stage}-audit`;

/** Name of the SQS queue the emitters spill undeliverable audit events to (`PORTCULLIS_AUDIT_DLQ_URL`). */
export const auditSpillQueueName = (config: PortcullisConfig): string =>
  `portcullis-${config.stage}-audit-spill`;

/** Name of the dead-letter queue of the store rule and of the audit writer's asynchronous invocations. */
export const auditStoreDlqName = (config: PortcullisConfig): string =>
  `portcullis-${config.stage}-audit-store-dlq`;

/** Name of the dead-letter queue of the sink rule (EventBridge → Firehose). */
export const auditSinkDlqName = (config: PortcullisConfig): string =>
  `portcullis-${config.stage}-audit-sink-dlq`;

/** Name of the Firehose delivery stream of the long-term audit sink (S3), in each region. */
export const auditDeliveryStreamName = (config: PortcullisConfig): string =>
  `portcullis-${config.stage}-audit`;

/** Name of the SNS topic of each region's alarms. */
export const alarmTopicName = (config: PortcullisConfig): string => `portcullis-${config.stage}-alarms`;

/**
 * Log group of an API function (`spec.id`): a deterministic name under one prefix, so the audit
 * forwarder's permission can name the log groups CloudWatch Logs may invoke it for.
 */
export const functionLogGroupName = (config: PortcullisConfig, id: string): string =>
  `${functionLogGroupPrefix(config)}${id}`;

/** Prefix of the API functions' log group names. */
export const functionLogGroupPrefix = (config: PortcullisConfig): string =>
  `/portcullis/${config.stage}/functions/`;

/** Name of the subscription filter on each emitting function's log group (the `log` transport). */
export const AUDIT_SUBSCRIPTION_FILTER_NAME = "portcullis-audit-lines";
