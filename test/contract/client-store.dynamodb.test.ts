import { DynamoDbOAuthStore } from "../../src/oauth/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeOAuthStore } from "./client-store.suite.ts";

const ddb = useDynamoDbTables();

// Items are keyed by random ids, so tests share the file's tables. A Query page size of 1 makes
// every listing follow LastEvaluatedKey across several requests.
describeOAuthStore(
  "dynamodb",
  () => new DynamoDbOAuthStore(ddb.client, ddb.names.platform, { queryPageSize: 1 }),
);
