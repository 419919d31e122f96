/**
 * DynamoDB Local helpers for test files. The run-wide DynamoDB Local comes from test/global-setup.ts;
 * each file (or test) gets tables under its own random prefix, deleted in `afterAll`.
 */
import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, inject } from "vitest";
import { createDynamoDbClient, createTables, deleteTables } from "../../src/shared/dynamodb.ts";
import { type TableNames, tableNames } from "../../src/shared/tables.ts";

/** Tables of one test file on the shared DynamoDB Local. */
export interface DynamoDbTestTables {
  /** Client for the run's DynamoDB Local (available from `beforeAll` on). */
  readonly client: DynamoDBClient;
  /** Names of this file's tables (available from `beforeAll` on). */
  readonly names: TableNames;
  /** Another fresh set of tables (e.g. one per test), also deleted in `afterAll`. */
  fresh(): Promise<TableNames>;
}

/** The run's DynamoDB Local endpoint; throws the global setup's reason when it could not start. */
export function dynamoDbEndpoint(): string {
  const endpoint = inject("dynamodbEndpoint");
  if (!endpoint) throw new Error(inject("dynamodbError") || "DynamoDB Local is not running (no endpoint).");
  return endpoint;
}

const randomPrefix = () => `t-${randomBytes(6).toString("hex")}`;

/**
 * Registers `beforeAll`/`afterAll` hooks that create a fresh set of tables (prefix `t-<random>`) and
 * delete every table set created through it afterwards.
 */
export function useDynamoDbTables(): DynamoDbTestTables {
  let client: DynamoDBClient | undefined;
  let names: TableNames | undefined;
  const created: TableNames[] = [];
  const ready = () => {
    if (!client || !names) throw new Error("DynamoDB test tables are not ready (used outside a test?)");
    return { client, names };
  };
  const fresh = async () => {
    const c = ready().client;
    const n = tableNames(randomPrefix());
    created.push(n);
    await createTables(c, n);
    return n;
  };

  beforeAll(async () => {
    client = createDynamoDbClient({ endpoint: dynamoDbEndpoint() });
    names = tableNames(randomPrefix());
    created.push(names);
    await createTables(client, names);
  });

  afterAll(async () => {
    if (!client) return;
    try {
      await Promise.all(created.map((n) => deleteTables(client!, n)));
    } finally {
      client.destroy();
    }
  });

  return {
    get client() {
      return ready().client;
    },
    get names() {
      return ready().names;
    },
    fresh,
  };
}
