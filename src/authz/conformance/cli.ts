/**
 * `portcullis conformance <file-or-dir>... [--store memory|dynamodb]`: runs OpenFGA-format
 * conformance YAML against the memory store (default) or a DynamoDB Local started for the run,
 * prints one line per failing assertion, then `N passed, N failed`. Exit code 0 only when nothing
 * failed (2 on usage errors).
 */
import { randomBytes } from "node:crypto";
import type { AuthzStore } from "../ports.ts";
import { loadConformanceTests } from "./loader.ts";
import { runConformance } from "./runner.ts";

const USAGE = "usage: portcullis conformance <file-or-dir>... [--store memory|dynamodb]\n";

interface Backend {
  readonly store: AuthzStore;
  close(): Promise<void>;
}

async function memoryBackend(): Promise<Backend> {
  const { MemoryAuthzStore } = await import("../adapters/memory.ts");
  return { store: new MemoryAuthzStore(), close: async () => {} };
}

async function dynamoDbBackend(): Promise<Backend> {
  const [
    { startDynamoDbLocal },
    { createDynamoDbClient, createTables, deleteTables },
    { tableNames },
    { DynamoDbAuthzStore },
  ] = await Promise.all([
    import("../../local/dynamodb-local.ts"),
    import("../../shared/dynamodb.ts"),
    import("../../shared/tables.ts"),
    import("../adapters/dynamodb.ts"),
  ]);
  const local = await startDynamoDbLocal({ inMemory: true });
  const client = createDynamoDbClient({ endpoint: local.endpoint });
  const names = tableNames(`conformance-${randomBytes(4).toString("hex")}`);
  try {
    await createTables(client, names);
  } catch (e) {
    client.destroy();
    await local.stop();
    throw e;
  }
  return {
    store: new DynamoDbAuthzStore(client, names.authz),
    close: async () => {
      try {
        await deleteTables(client, names);
      } finally {
        client.destroy();
        await local.stop();
      }
    },
  };
}

export async function runConformanceCli(argv: string[]): Promise<number> {
  const paths: string[] = [];
  let backend = "memory";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--store") backend = argv[++i] ?? "";
    else if (a.startsWith("--store=")) backend = a.slice("--store=".length);
    else if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE);
      return 0;
    } else if (a.startsWith("--")) {
      process.stderr.write(`unknown option ${a}\n${USAGE}`);
      return 2;
    } else paths.push(a);
  }
  if (paths.length === 0 || (backend !== "memory" && backend !== "dynamodb")) {
    process.stderr.write(USAGE);
    return 2;
  }
  const tests = await loadConformanceTests(paths);
  const b = backend === "dynamodb" ? await dynamoDbBackend() : await memoryBackend();
  try {
    const summary = await runConformance(tests, { store: b.store });
    for (const r of summary.reports) for (const f of r.failures) process.stdout.write(`FAIL ${f}\n`);
    process.stdout.write(`${summary.passed} passed, ${summary.failed} failed\n`);
    return summary.failed === 0 ? 0 : 1;
  } finally {
    await b.close();
  }
}
