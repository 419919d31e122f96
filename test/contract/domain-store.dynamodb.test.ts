import { DynamoDbTenantDomainStore } from "../../src/tenants/adapters/domains-dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeDomainStore } from "./domain-store.suite.ts";

const ddb = useDynamoDbTables();

// Tenant ids are fresh per test, so the tests share one set of tables.
describeDomainStore("dynamodb", () => new DynamoDbTenantDomainStore(ddb.client, ddb.names.platform));
