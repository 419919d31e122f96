import { DynamoDbAuditStore } from "../../src/audit/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeAuditStore } from "./audit-store.suite.ts";

const ddb = useDynamoDbTables();

// Tenants are random per test, so one table set serves the file. A Query page size of 3 makes
// listings follow LastEvaluatedKey across several requests (and filters skip items between them).
describeAuditStore(
  "dynamodb",
  (clock) =>
    new DynamoDbAuditStore(ddb.client, ddb.names.audit, { retentionDays: 30, clock, queryPageSize: 3 }),
);
