import { DynamoDbUserStore } from "../../src/users/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeUserStore } from "./user-store.suite.ts";

const ddb = useDynamoDbTables();

// Tests use fresh tenant ids, so they share the file's tables; a page size of 1 exercises paging.
describeUserStore(
  "dynamodb",
  () => new DynamoDbUserStore(ddb.client, ddb.names.platform, { queryPageSize: 1 }),
);
