import { randomBytes } from "node:crypto";
import { type EventHandler, type LocalServer, startLocalServer } from "../../src/local/server.ts";
import { API_GROUPS } from "../../src/shared/api-groups.ts";
import { createTables } from "../../src/shared/dynamodb.ts";
import type { Logger } from "../../src/shared/logger.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { configFromEnv, type PlatformConfig } from "./config.ts";
import { type Container, type ContainerOverrides, createContainer } from "./container.ts";
import { createHandlers } from "./handlers.ts";

export interface LocalPlatform {
  readonly url: string;
  readonly container: Container;
  /** The admin key in force (generated when none was configured). */
  readonly adminKey: string;
  /** What was seeded (memory store only). */
  readonly demo?: { tenantId: string; apiKey: string };
  close(): Promise<void>;
}

export interface LocalPlatformOptions extends ContainerOverrides {
  readonly env?: NodeJS.ProcessEnv;
  /** @default PORT or 4000; 0 picks a free port */
  readonly port?: number;
  /** Seed a demo tenant and API key (memory store). @default true */
  readonly seed?: boolean;
  readonly log?: Logger;
}

/**
 * The whole platform in one process (`npm start`, e2e tests): the same handlers as the Lambda
 * functions, on the memory store or DynamoDB (Local), behind one HTTP server on 127.0.0.1.
 */
export async function startLocalPlatform(options: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  // The memory audit store runs in a worker thread here (off the request thread, as the audit
  // writer does in AWS), and audit events are built and delivered once per event-loop turn, for
  // all of the turn's requests, unless configured otherwise.
  const env: NodeJS.ProcessEnv = {
    PORTCULLIS_AUDIT_LOCAL_STORE: "worker",
    PORTCULLIS_AUDIT_FLUSH: "end-of-turn",
    ...(options.env ?? process.env),
  };
  const port = options.port ?? Number(env.PORT ?? 4000);
  const base = configFromEnv(env, { issuer: `http://127.0.0.1:${port}` });
  const adminKey = base.adminKey ?? `pca_${randomBytes(24).toString("base64url")}`;
  // Handlers are filled in once the server listens: with port 0 the issuer is only known then.
  const handlers: Record<string, EventHandler> = {};
  const server: LocalServer = await startLocalServer({
    groups: API_GROUPS,
    handlers,
    port,
    bodyLimit: base.bodyLimit,
  });
  const config: PlatformConfig = {
    ...base,
    adminKey,
    issuer: env.PORTCULLIS_ISSUER ? base.issuer : server.url,
  };
  const container = createContainer(config, options);
  try {
    if (container.dynamodb) await createTables(container.dynamodb, tableNames(config.tablePrefix));
  } catch (err) {
    await server.close();
    throw err;
  }
  Object.assign(handlers, createHandlers(container));
  let demo: LocalPlatform["demo"];
  if ((options.seed ?? true) && config.store === "memory") {
    const tenant = await container.tenants.create("demo");
    const { key } = await container.tenants.createApiKey(tenant.id, "demo key");
    demo = { tenantId: tenant.id, apiKey: key };
  }
  return {
    url: server.url,
    container,
    adminKey,
    ...(demo ? { demo } : {}),
    close: async () => {
      await server.close();
      // The audit pipeline first: the last turn's events may still need the DynamoDB client.
      await container.audit.destroy();
      container.dynamodb?.destroy();
    },
  };
}
