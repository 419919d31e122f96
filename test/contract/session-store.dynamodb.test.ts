import { DynamoDbSignInStore } from "../../src/sessions/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeSignInStore } from "./session-store.suite.ts";

const ddb = useDynamoDbTables();

// Tests use random ids, so they share the file's tables.
describeSignInStore("dynamodb", () => new DynamoDbSignInStore(ddb.client, ddb.names.platform));
