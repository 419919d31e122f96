import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbAuthzStore } from "../../src/authz/adapters/dynamodb.ts";
import { MemoryAuthzStore } from "../../src/authz/adapters/memory.ts";
import type { AuthzStore } from "../../src/authz/ports.ts";
import { anyOf } from "../../src/http/router.ts";
import type { Authenticator } from "../../src/http/types.ts";
import { type Clock, systemClock } from "../../src/shared/clock.ts";
import { createDynamoDbClient } from "../../src/shared/dynamodb.ts";
import { type IdGenerator, ulidGenerator } from "../../src/shared/ids.ts";
import { createLogger, type Logger } from "../../src/shared/logger.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { DynamoDbTenantStore } from "../../src/tenants/adapters/dynamodb.ts";
import { MemoryTenantStore } from "../../src/tenants/adapters/memory.ts";
import { apiKeyAuthenticator, platformKeyAuthenticator } from "../../src/tenants/authn.ts";
import type { TenantStore } from "../../src/tenants/ports.ts";
import { TenantService } from "../../src/tenants/service.ts";
import type { PlatformConfig } from "./config.ts";

/** Everything the handlers need, wired once per container (cold start) or per local platform. */
export interface Container {
  readonly config: PlatformConfig;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly log: Logger;
  readonly tenantStore: TenantStore;
  readonly authzStore: AuthzStore;
  readonly tenants: TenantService;
  readonly authenticator: Authenticator;
  /** The DynamoDB client when the store is DynamoDB (for shutdown). */
  readonly dynamodb?: DynamoDBClient;
}

export interface ContainerOverrides {
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly log?: Logger;
  readonly dynamodb?: DynamoDBClient;
}

/** Builds the adapters the configuration names; `config.adminKey` must already be resolved. */
export function createContainer(config: PlatformConfig, overrides: ContainerOverrides = {}): Container {
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? ulidGenerator;
  const log = overrides.log ?? createLogger({ level: config.logLevel, base: { region: config.region } });
  let tenantStore: TenantStore;
  let authzStore: AuthzStore;
  let dynamodb: DynamoDBClient | undefined;
  if (config.store === "dynamodb") {
    dynamodb =
      overrides.dynamodb ??
      createDynamoDbClient({
        ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
        ...(config.region !== "local" ? { region: config.region } : {}),
      });
    const names = tableNames(config.tablePrefix);
    tenantStore = new DynamoDbTenantStore(dynamodb, names.platform);
    authzStore = new DynamoDbAuthzStore(dynamodb, names.authz);
  } else {
    tenantStore = new MemoryTenantStore();
    authzStore = new MemoryAuthzStore();
  }
  const tenants = new TenantService({ store: tenantStore, clock, ids });
  const authenticator = anyOf(platformKeyAuthenticator(config.adminKey), apiKeyAuthenticator(tenants));
  return {
    config,
    clock,
    ids,
    log,
    tenantStore,
    authzStore,
    tenants,
    authenticator,
    ...(dynamodb ? { dynamodb } : {}),
  };
}
