/**
 * Vitest global setup: ONE in-memory DynamoDB Local for the whole run, shared by every test file
 * through `inject("dynamodbEndpoint")` (and `PORTCULLIS_TEST_DYNAMODB_ENDPOINT`). Each DynamoDB test
 * file creates its own tables with a unique prefix (test/support/dynamodb.ts).
 *
 * If `PORTCULLIS_TEST_DYNAMODB_ENDPOINT` is already set, that endpoint is used and nothing is started.
 * If DynamoDB Local cannot start (e.g. no Java), unrelated tests still run: the endpoint is empty and
 * `dynamodbError` explains why, so DynamoDB tests fail with that message.
 */
import type { TestProject } from "vitest/node";
import { type DynamoDbLocal, startDynamoDbLocal } from "../src/local/dynamodb-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** DynamoDB Local endpoint for this run; empty when it could not start. */
    dynamodbEndpoint: string;
    /** Why DynamoDB Local could not start; empty when it runs. */
    dynamodbError: string;
  }
}

export const ENDPOINT_ENV = "PORTCULLIS_TEST_DYNAMODB_ENDPOINT";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const preset = process.env[ENDPOINT_ENV];
  if (preset) {
    project.provide("dynamodbEndpoint", preset);
    project.provide("dynamodbError", "");
    return async () => {};
  }
  let local: DynamoDbLocal | undefined;
  try {
    local = await startDynamoDbLocal({ inMemory: true });
    process.env[ENDPOINT_ENV] = local.endpoint;
    project.provide("dynamodbEndpoint", local.endpoint);
    project.provide("dynamodbError", "");
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    project.provide("dynamodbEndpoint", "");
    project.provide("dynamodbError", `DynamoDB Local could not start: ${message}`);
  }
  return async () => {
    delete process.env[ENDPOINT_ENV];
    await local?.stop();
  };
}
