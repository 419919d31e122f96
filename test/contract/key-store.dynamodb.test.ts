import { DynamoDbKeyStore } from "../../src/keys/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeKeyStore } from "./key-store.suite.ts";

const ddb = useDynamoDbTables();

// The ring is one partition of the platform table, so every test needs its own tables.
describeKeyStore("dynamodb", async () => new DynamoDbKeyStore(ddb.client, (await ddb.fresh()).platform));
