/**
 * Audit stack (every region): the audit pipeline behind the EventBridge bus (docs/AUDIT.md).
 *
 * ```
 *           ┌─ `log` transport (default): audit lines ──▶ function log groups ──subscription──▶ audit forwarder ─┐
 * emitters ─┤                                                   (a payload it cannot settle ──▶ store DLQ) │
 *    │      └─ `eventbridge` transport ─────────────────────────────────────────────────────────────────────┤ PutEvents
 *    │                     ┌─────────────────────────────────────────────────────────────────────────────────┘
 *    │                     ▼
 *    │                    bus ──StoreRule──▶ audit writer ──PutItem──▶ audit table
 *    │                     │       └─ failed delivery / function errors ──▶ store DLQ ─┐
 *    │                     ├──SinkRule──▶ Firehose ──▶ S3 (long-term, Glacier)       │ disabled event
 *    │                     │       └─ failed delivery ──▶ sink DLQ                    │ source mappings
 *    │                     └──archive (replay)                                        │ (enable = redrive)
 *    └─ spill (bus refused; the forwarder's too) ──▶ spill queue ─────────────────────┴──▶ audit writer
 * ```
 *
 * - Two rules with the same pattern, one target each, so an archive replay can be aimed at one of
 *   them (`FilterArns`): the table (idempotent by id) or the S3 sink.
 * - Queues use SQS-managed encryption (SSE-SQS) and refuse non-TLS requests; no KMS grant is needed
 *   to send to them, from the emitters or from EventBridge.
 * - Alarms (namespace `Portcullis/Audit`, dimension `Region`: the EMF lines of
 *   functions/_shared/handlers.ts; the queues; the writer; the sink) notify one SNS topic.
 */
import {
  ArnFormat,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  Stats,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Archive, EventBus, type IEventBus, type IRuleTarget, Rule } from "aws-cdk-lib/aws-events";
import {
  addToDeadLetterQueueResourcePolicy,
  bindBaseTargetConfig,
  LambdaFunction,
} from "aws-cdk-lib/aws-events-targets";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnDeliveryStream } from "aws-cdk-lib/aws-kinesisfirehose";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { LogGroup, LogStream } from "aws-cdk-lib/aws-logs";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
  StorageClass,
} from "aws-cdk-lib/aws-s3";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { type IQueue, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { AUDIT_NAMESPACE } from "../../src/audit/metrics.ts";
import { TABLES, tableName } from "../../src/shared/tables.ts";
import {
  AUDIT_SUBSCRIPTION_FILTER_NAME,
  alarmTopicName,
  auditArchiveName,
  auditDeliveryStreamName,
  auditSinkDlqName,
  auditSpillQueueName,
  auditStoreDlqName,
  eventBusName,
  functionLogGroupName,
  functionLogGroupPrefix,
} from "../config/names.ts";
import type { PortcullisConfig } from "../config/stage.ts";
import { ApiFunction } from "../constructs/api-function.ts";

/** `source` of audit events (src/audit/adapters/eventbridge.ts `AUDIT_SOURCE`; a test keeps them equal). */
export const AUDIT_EVENT_SOURCE = "portcullis.audit";

/** Audit metrics the stack alarms on when their sum is above zero (src/audit/metrics.ts). */
export const AUDIT_COUNT_ALARMS = [
  "AuditEventsSpilled",
  "AuditSpillFailures",
  "AuditEmitErrors",
  "AuditEventsRejected",
] as const;

/** EventBridge retry policy of both rule targets: EventBridge's maximum, then the target's DLQ. */
export const RULE_RETRY = { retryAttempts: 185, maxEventAge: Duration.hours(24) } as const;

/** Writer timeout; the redrive queues' visibility timeout is six times it (Lambda's guidance). */
const WRITER_TIMEOUT = Duration.seconds(30);
const REDRIVE_VISIBILITY = Duration.seconds(WRITER_TIMEOUT.toSeconds() * 6);

/** Forwarder timeout: a payload's `PutEvents` batches, their retries, then spills. */
const FORWARDER_TIMEOUT = Duration.seconds(60);

/** Firehose buffering of the S3 sink: the largest objects, at most 15 minutes late. */
const SINK_BUFFER = { intervalInSeconds: 900, sizeInMBs: 128 } as const;

/**
 * A Firehose rule target with a retry policy and a dead-letter queue (the library's Firehose
 * targets take neither). The rule's role may only put records on this stream.
 */
const firehoseTarget = (stream: CfnDeliveryStream, role: Role, deadLetterQueue: IQueue): IRuleTarget => ({
  bind: (rule) => {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "SinkPutRecords",
        effect: Effect.ALLOW,
        actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
        resources: [stream.attrArn],
      }),
    );
    addToDeadLetterQueueResourcePolicy(rule, deadLetterQueue);
    return {
      ...bindBaseTargetConfig({ ...RULE_RETRY, deadLetterQueue }),
      arn: stream.attrArn,
      role,
      targetResource: stream,
    };
  },
});

export interface AuditStackProps extends StackProps {
  readonly config: PortcullisConfig;
  /**
   * Ids of the functions that emit audit events (their log groups are subscribed with the `log`
   * transport: their delivery errors are alarmed here). @default none
   */
  readonly emitters?: readonly string[];
}

export class AuditStack extends Stack {
  readonly bus: IEventBus;
  /** Where emitters spill undeliverable events (`PORTCULLIS_AUDIT_DLQ_URL`). */
  readonly spillQueue: IQueue;
  /** Dead-letter queue of the store rule and of the writer's asynchronous invocations. */
  readonly storeDlq: IQueue;
  /** Dead-letter queue of the sink rule. */
  readonly sinkDlq: IQueue;
  readonly writer: ApiFunction;
  /** Puts the audit lines of the function logs on the bus (the `log` transport). */
  readonly forwarder: ApiFunction;
  readonly storeRule: Rule;
  readonly sinkRule: Rule;
  readonly archive: Archive;
  readonly sinkBucket: Bucket;
  readonly deliveryStream: CfnDeliveryStream;
  readonly alarmTopic: Topic;
  /** Alarms by id (`Spilled`, `SpillFailures`, …). */
  readonly alarms: ReadonlyMap<string, Alarm>;

  constructor(scope: Construct, id: string, props: AuditStackProps) {
    super(scope, id, props);
    const { config } = props;
    const pattern = { source: [AUDIT_EVENT_SOURCE] };

    const bus = new EventBus(this, "AuditBus", {
      eventBusName: eventBusName(config),
      description: "Portcullis audit events (CloudEvents-style envelope)",
    });
    this.bus = bus;

    // ── Queues ────────────────────────────────────────────────────────────────────────────────
    const queue = (qid: string, queueName: string) =>
      new Queue(this, qid, {
        queueName,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        // Redrive is an event source mapping onto the writer: a message stays invisible while the
        // writer handles it.
        visibilityTimeout: REDRIVE_VISIBILITY,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    const spillQueue = queue("SpillQueue", auditSpillQueueName(config));
    const storeDlq = queue("StoreDlq", auditStoreDlqName(config));
    const sinkDlq = queue("SinkDlq", auditSinkDlqName(config));
    this.spillQueue = spillQueue;
    this.storeDlq = storeDlq;
    this.sinkDlq = sinkDlq;
    Validations.of(spillQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue IS the dead-letter destination of the audit emitters (events the bus refused). Messages stay 14 days; redrive is the disabled event source mapping onto the audit writer (docs/AUDIT.md), and the depth alarm fires on the first message.",
    });
    Validations.of(sinkDlq).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue IS the dead-letter queue of the sink rule's Firehose target (EventBridge DeadLetterConfig, which cdk-nag does not recognise). Redrive is an archive replay aimed at the sink rule (docs/DEPLOY.md); the depth alarm fires on the first message.",
    });

    // ── Audit writer ──────────────────────────────────────────────────────────────────────────
    const auditTable = TABLES.find((t) => t.id === "audit");
    if (auditTable === undefined) throw new Error("src/shared/tables.ts has no audit table");
    const writer = new ApiFunction(this, "AuditWriter", {
      entry: "functions/audit-writer.ts",
      description: `Portcullis ${config.stage} audit writer: bus events and redriven dead letters into the audit table`,
      logRetention: config.logRetention,
      timeout: WRITER_TIMEOUT,
      environment: {
        PORTCULLIS_TABLE_PREFIX: config.tablePrefix,
        PORTCULLIS_REGION: this.region,
        PORTCULLIS_AUDIT_RETENTION_DAYS: String(config.audit.retentionDays),
      },
      // Store failures throw: Lambda retries the event twice, then keeps it in the store DLQ.
      async: { retryAttempts: 2, maxEventAge: Duration.hours(6), deadLetterQueue: storeDlq },
    });
    // Conditional PutItem only (src/audit/adapters/dynamodb.ts): no reads, no updates, no indexes.
    writer.grantPutItem(auditTable, tableName(config.tablePrefix, "audit"));
    this.writer = writer;

    // ── Audit forwarder (the `log` transport) ─────────────────────────────────────────────────
    // CloudWatch Logs subscription filters on the API functions' log groups (lib/stacks/api-stack.ts)
    // invoke it asynchronously with their audit lines; it puts the events on the bus, spilling what
    // the bus refuses. A payload it cannot settle is retried by Lambda, then kept in the store DLQ,
    // whose redrive (the writer) decodes it too.
    const forwarder = new ApiFunction(this, "AuditForwarder", {
      entry: "functions/audit-forwarder.ts",
      description: `Portcullis ${config.stage} audit forwarder: audit lines of the function logs onto the audit bus`,
      logRetention: config.logRetention,
      timeout: FORWARDER_TIMEOUT,
      environment: {
        PORTCULLIS_REGION: this.region,
        PORTCULLIS_EVENT_BUS: eventBusName(config),
        PORTCULLIS_AUDIT_DLQ_URL: spillQueue.queueUrl,
        PORTCULLIS_AUDIT_LOG_GROUP_PREFIX: functionLogGroupPrefix(config),
      },
      async: { retryAttempts: 2, maxEventAge: Duration.hours(6), deadLetterQueue: storeDlq },
    });
    forwarder.grantPutEvents(bus);
    forwarder.grantSendMessages(spillQueue);
    // Only for the API functions' log groups of this account and region (deterministic names).
    forwarder.function.addPermission("LogsInvoke", {
      principal: new ServicePrincipal("logs.amazonaws.com"),
      sourceAccount: this.account,
      sourceArn: this.formatArn({
        service: "logs",
        resource: "log-group",
        resourceName: `${functionLogGroupPrefix(config)}*:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    });
    this.forwarder = forwarder;

    // Redrive: one mapping per queue, created disabled. Enabling one drains the queue into the
    // writer (idempotent by event id); disable it again when the queue is empty (docs/DEPLOY.md).
    const redrive = (q: IQueue, batchSize = 10) =>
      new SqsEventSource(q, { enabled: false, batchSize, maxConcurrency: 2 });
    const spillRedrive = redrive(spillQueue);
    // One message at a time: a message of the forwarder's (a whole subscription payload) can hold
    // thousands of events, and ten of them could outlast the writer's timeout, again and again.
    const storeRedrive = redrive(storeDlq, 1);
    writer.function.addEventSource(spillRedrive);
    writer.function.addEventSource(storeRedrive);

    // ── Rules and archive ─────────────────────────────────────────────────────────────────────
    this.storeRule = new Rule(this, "StoreRule", {
      eventBus: bus,
      eventPattern: pattern,
      description: "Audit events -> audit writer -> audit table",
      targets: [new LambdaFunction(writer.function, { ...RULE_RETRY, deadLetterQueue: storeDlq })],
    });

    this.archive = new Archive(this, "AuditArchive", {
      sourceEventBus: bus,
      archiveName: auditArchiveName(config),
      description: "Audit events, for replay into the store or sink rule",
      eventPattern: pattern,
      retention: Duration.days(config.audit.archiveRetentionDays),
    });

    // ── Long-term sink: Firehose → S3 ─────────────────────────────────────────────────────────
    const accessLogs = new Bucket(this, "SinkAccessLogs", {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: "expire", expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "This bucket receives the server access logs of the audit sink bucket; logging it too would only log the log deliveries.",
    });
    const sinkBucket = new Bucket(this, "SinkBucket", {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "sink/",
      lifecycleRules: [
        {
          id: "archive",
          transitions: [
            {
              storageClass: StorageClass.GLACIER,
              transitionAfter: Duration.days(config.audit.sinkGlacierDays),
            },
          ],
          ...(config.audit.sinkExpirationDays === undefined
            ? {}
            : { expiration: Duration.days(config.audit.sinkExpirationDays) }),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.sinkBucket = sinkBucket;

    const sinkLogs = new LogGroup(this, "SinkLogs", { retention: config.logRetention });
    const sinkLogStream = new LogStream(this, "SinkLogStream", {
      logGroup: sinkLogs,
      logStreamName: "S3Delivery",
    });
    const firehoseRole = new Role(this, "SinkDeliveryRole", {
      assumedBy: new ServicePrincipal("firehose.amazonaws.com", {
        conditions: { StringEquals: { "sts:ExternalId": this.account } },
      }),
      description: `Portcullis ${config.stage} audit sink: Firehose writes the S3 bucket`,
    });
    // The actions Firehose needs for an S3 destination (no Delete*, no Get* on other buckets).
    firehoseRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "SinkBucketWrite",
        effect: Effect.ALLOW,
        actions: [
          "s3:AbortMultipartUpload",
          "s3:GetBucketLocation",
          "s3:GetObject",
          "s3:ListBucket",
          "s3:ListBucketMultipartUploads",
          "s3:PutObject",
        ],
        resources: [sinkBucket.bucketArn, sinkBucket.arnForObjects("*")],
      }),
    );
    firehoseRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "SinkErrorLogs",
        effect: Effect.ALLOW,
        actions: ["logs:PutLogEvents"],
        resources: [
          this.formatArn({
            service: "logs",
            resource: "log-group",
            resourceName: `${sinkLogs.logGroupName}:log-stream:${sinkLogStream.logStreamName}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    Validations.of(firehoseRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(sinkBucket.node.defaultChild as CfnBucket)}.Arn>/*]`,
      reason:
        "Firehose writes objects whose keys it derives at delivery time (events/year=…/hour=…/): object actions are limited to this one bucket.",
    });
    const deliveryStream = new CfnDeliveryStream(this, "SinkDeliveryStream", {
      deliveryStreamName: auditDeliveryStreamName(config),
      deliveryStreamType: "DirectPut",
      deliveryStreamEncryptionConfigurationInput: { keyType: "AWS_OWNED_CMK" },
      extendedS3DestinationConfiguration: {
        bucketArn: sinkBucket.bucketArn,
        roleArn: firehoseRole.roleArn,
        // Date-prefixed keys (UTC arrival time). Not partitioned by tenant: dynamic partitioning
        // caps active partitions (500 by default) and a busy hour can touch more tenants.
        prefix:
          "events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
        errorOutputPrefix:
          "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/",
        bufferingHints: SINK_BUFFER,
        compressionFormat: "GZIP",
        fileExtension: ".json.gz",
        // One EventBridge event (JSON) per line.
        processingConfiguration: { enabled: true, processors: [{ type: "AppendDelimiterToRecord" }] },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: sinkLogs.logGroupName,
          logStreamName: sinkLogStream.logStreamName,
        },
      },
    });
    // Firehose checks its role when the stream is created.
    deliveryStream.node.addDependency(firehoseRole);
    this.deliveryStream = deliveryStream;

    this.sinkRule = new Rule(this, "SinkRule", {
      eventBus: bus,
      eventPattern: pattern,
      description: "Audit events -> Firehose -> S3 (long-term sink)",
      targets: [
        firehoseTarget(
          deliveryStream,
          new Role(this, "SinkRuleRole", {
            assumedBy: new ServicePrincipal("events.amazonaws.com"),
            description: `Portcullis ${config.stage} audit sink rule: puts events on the delivery stream`,
          }),
          sinkDlq,
        ),
      ],
    });

    // ── Alarms ────────────────────────────────────────────────────────────────────────────────
    this.alarmTopic = new Topic(this, "AlarmTopic", {
      topicName: alarmTopicName(config),
      displayName: `Portcullis ${config.stage} alarms (${this.region})`,
      enforceSSL: true,
    });
    if (config.alarmEmail !== undefined)
      this.alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    const action = new SnsAction(this.alarmTopic);
    const alarms = new Map<string, Alarm>();
    const alarm = (
      aid: string,
      metric: IMetric,
      description: string,
      threshold = 0,
      evaluationPeriods = 1,
    ) => {
      const a = new Alarm(this, `${aid}Alarm`, {
        alarmName: `Portcullis-${config.stage}-audit-${aid}`,
        alarmDescription: `${description} (docs/AUDIT.md, docs/DEPLOY.md "Audit pipeline")`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        // No data is good news: EMF lines only carry counters that moved.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      alarms.set(aid, a);
    };
    // The emitters' EMF lines carry exactly the dimension `Region` (functions/_shared/handlers.ts).
    const auditMetric = (metricName: string, statistic: string) =>
      new Metric({
        namespace: AUDIT_NAMESPACE,
        metricName,
        dimensionsMap: { Region: this.region },
        statistic,
        period: Duration.minutes(1),
      });
    alarm(
      "Spilled",
      auditMetric("AuditEventsSpilled", Stats.SUM),
      "Audit events were spilled to the spill queue: the bus refused them",
    );
    alarm(
      "SpillFailures",
      auditMetric("AuditSpillFailures", Stats.SUM),
      "Audit events could be neither delivered nor spilled: they are only in the function logs",
    );
    alarm(
      "EmitErrors",
      auditMetric("AuditEmitErrors", Stats.SUM),
      "Audit emission failed inside a function (event not queued)",
    );
    alarm(
      "Lag",
      auditMetric("AuditEventLag", Stats.MAXIMUM).with({ period: Duration.minutes(5) }),
      `Audit events reach the bus more than ${config.audit.lagAlarmMs} ms after the decision`,
      config.audit.lagAlarmMs,
      2,
    );
    alarm(
      "Rejected",
      auditMetric("AuditEventsRejected", Stats.SUM),
      "The audit forwarder found audit lines it could not read (truncated or invalid): see its log for where they are",
    );
    const fiveMinutes = { statistic: Stats.SUM, period: Duration.minutes(5) };
    alarm(
      "ForwarderErrors",
      forwarder.function.metricErrors(fiveMinutes),
      "The audit forwarder failed (it is retried, then the payload is dead-lettered to the store DLQ)",
    );
    alarm(
      "ForwarderThrottles",
      forwarder.function.metricThrottles(fiveMinutes),
      "The audit forwarder is throttled: audit lines wait in Lambda's asynchronous queue (6 hours, then the store DLQ)",
    );
    // What Lambda's asynchronous side loses: events past their age or retries without a dead-letter
    // queue, and dead letters it could not send.
    for (const [fid, fn] of [
      ["Forwarder", forwarder],
      ["Writer", writer],
    ] as const)
      for (const metricName of ["AsyncEventsDropped", "DeadLetterErrors"])
        alarm(
          `${fid}${metricName}`,
          fn.function.metric(metricName, fiveMinutes),
          `Lambda dropped asynchronous invocations of the audit ${fid.toLowerCase()} (${metricName}): their events are only in the function logs (docs/DEPLOY.md "Redrive")`,
        );
    // CloudWatch Logs drops a subscription delivery on a non-retryable error (a missing permission,
    // a deleted forwarder): audit lines stay in the log group only (replay: docs/DEPLOY.md).
    if (config.audit.transport === "log")
      for (const id of props.emitters ?? [])
        for (const metricName of ["DeliveryErrors", "DeliveryThrottling"])
          alarm(
            `${id.charAt(0).toUpperCase()}${id.slice(1)}Lines${metricName}`,
            new Metric({
              namespace: "AWS/Logs",
              metricName,
              dimensionsMap: {
                LogGroupName: functionLogGroupName(config, id),
                DestinationType: "Lambda",
                FilterName: AUDIT_SUBSCRIPTION_FILTER_NAME,
              },
              ...fiveMinutes,
            }),
            `CloudWatch Logs could not deliver the audit lines of the ${id} function to the forwarder (${metricName}): replay them from its log group`,
          );
    const depth = (q: Queue) =>
      q.metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM, period: Duration.minutes(5) });
    alarm("SpillQueueDepth", depth(spillQueue), "Spilled audit events are waiting: redrive them");
    alarm("StoreDlqDepth", depth(storeDlq), "Audit events did not reach the audit table: redrive them");
    alarm("SinkDlqDepth", depth(sinkDlq), "Audit events did not reach the S3 sink: replay them");
    alarm(
      "WriterErrors",
      writer.function.metricErrors({ statistic: Stats.SUM, period: Duration.minutes(5) }),
      "The audit writer failed (it is retried, then dead-lettered)",
    );
    for (const [rid, rule] of [
      ["Store", this.storeRule],
      ["Sink", this.sinkRule],
    ] as const)
      alarm(
        `${rid}RuleDlqFailures`,
        new Metric({
          namespace: "AWS/Events",
          metricName: "InvocationsFailedToBeSentToDlq",
          dimensionsMap: { EventBusName: bus.eventBusName, RuleName: rule.ruleName },
          statistic: Stats.SUM,
          period: Duration.minutes(5),
        }),
        `EventBridge could not dead-letter audit events of the ${rid.toLowerCase()} rule: they are lost (replay the archive)`,
      );
    alarm(
      "SinkFreshness",
      new Metric({
        namespace: "AWS/Firehose",
        metricName: "DeliveryToS3.DataFreshness",
        dimensionsMap: { DeliveryStreamName: auditDeliveryStreamName(config) },
        statistic: Stats.MAXIMUM,
        period: Duration.minutes(5),
      }),
      "The oldest audit record in Firehose is more than twice the buffer interval old: S3 delivery is failing",
      SINK_BUFFER.intervalInSeconds * 2,
      2,
    );
    this.alarms = alarms;

    new CfnOutput(this, "AuditBusArn", { value: bus.eventBusArn });
    new CfnOutput(this, "SpillQueueUrl", { value: spillQueue.queueUrl });
    new CfnOutput(this, "StoreDlqUrl", { value: storeDlq.queueUrl });
    new CfnOutput(this, "SinkDlqUrl", { value: sinkDlq.queueUrl });
    new CfnOutput(this, "ArchiveName", { value: this.archive.archiveName });
    new CfnOutput(this, "SinkBucketName", { value: sinkBucket.bucketName });
    new CfnOutput(this, "WriterFunctionName", { value: writer.function.functionName });
    new CfnOutput(this, "ForwarderFunctionName", { value: forwarder.function.functionName });
    new CfnOutput(this, "SpillRedriveMappingId", { value: spillRedrive.eventSourceMappingId });
    new CfnOutput(this, "StoreDlqRedriveMappingId", { value: storeRedrive.eventSourceMappingId });
    new CfnOutput(this, "AlarmTopicArn", { value: this.alarmTopic.topicArn });
  }
}
