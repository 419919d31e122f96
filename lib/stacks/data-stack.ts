/**
 * Data stack (primary region only): the DynamoDB global tables from `src/shared/tables.ts`, with a
 * replica in every other configured region. Tables are retained and deletion-protected.
 */
import { RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { AttributeType, Billing, type ITableV2, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";
import { type KeyDef, TABLES, type TableId, tableName } from "../../src/shared/tables.ts";
import { type PortcullisConfig, replicaRegions } from "../config/stage.ts";

export interface DataStackProps extends StackProps {
  readonly config: PortcullisConfig;
}

const ATTRIBUTE_TYPES = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
  B: AttributeType.BINARY,
} as const;

const attribute = (key: KeyDef): { name: string; type: AttributeType } => ({
  name: key.name,
  type: ATTRIBUTE_TYPES[key.type],
});

const pascal = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);

export class DataStack extends Stack {
  /** The global tables by logical id (replicas: `table.replica(region)`). */
  readonly tables: ReadonlyMap<TableId, ITableV2>;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const replicas = replicaRegions(config).map((region) => ({ region }));

    const tables = new Map<TableId, ITableV2>();
    for (const def of TABLES) {
      const table = new TableV2(this, `${pascal(def.id)}Table`, {
        tableName: tableName(config.tablePrefix, def.id),
        partitionKey: attribute(def.partitionKey),
        sortKey: attribute(def.sortKey),
        globalSecondaryIndexes: def.globalSecondaryIndexes.map((index) => ({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          sortKey: attribute(index.sortKey),
        })),
        timeToLiveAttribute: def.ttlAttribute,
        billing: Billing.onDemand(),
        encryption: TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        contributorInsightsSpecification: { enabled: config.contributorInsights },
        removalPolicy: RemovalPolicy.RETAIN,
        replicas,
      });
      tables.set(def.id, table);
    }
    this.tables = tables;
  }
}
