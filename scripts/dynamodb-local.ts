/**
 * `npm run dynamodb-local`: a persistent DynamoDB Local (data in `.dynamodb-local/`) with the
 * platform's tables, for running `npm start` against DynamoDB. Stops on Ctrl-C / SIGTERM.
 *
 * Environment: `PORT` (default 8000), `PORTCULLIS_TABLE_PREFIX` (default `portcullis-local`).
 */
import { fileURLToPath } from "node:url";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.ts";
import { createDynamoDbClient, createTables } from "../src/shared/dynamodb.ts";
import { tableNames } from "../src/shared/tables.ts";

const port = Number(process.env.PORT ?? "8000");
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`PORT must be a TCP port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const prefix = process.env.PORTCULLIS_TABLE_PREFIX ?? "portcullis-local";
const dataDir = fileURLToPath(new URL("../.dynamodb-local", import.meta.url));

try {
  const local = await startDynamoDbLocal({ dataDir, port });
  const client = createDynamoDbClient({ endpoint: local.endpoint });
  const names = tableNames(prefix);
  await createTables(client, names);
  client.destroy();

  console.log(`DynamoDB Local is running at ${local.endpoint} (data in ${dataDir})`);
  console.log(`Tables: ${Object.values(names).join(", ")}`);
  console.log("Point the local platform at it with:");
  const prefixEnv = prefix === "portcullis-local" ? "" : ` PORTCULLIS_TABLE_PREFIX=${prefix}`;
  console.log(
    `  PORTCULLIS_STORE=dynamodb PORTCULLIS_DYNAMODB_ENDPOINT=${local.endpoint}${prefixEnv} npm start`,
  );
  console.log("Press Ctrl-C to stop.");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping DynamoDB Local...`);
    await local.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
}
