import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KMSClient } from "@aws-sdk/client-kms";
import { type Audit, createAudit } from "../../src/audit/setup.ts";
import { DynamoDbAuthzStore } from "../../src/authz/adapters/dynamodb.ts";
import { MemoryAuthzStore } from "../../src/authz/adapters/memory.ts";
import { type AuthzHttp, createAuthzHttp, engineOptions } from "../../src/authz/http/index.ts";
import { type AuthzService, createAuthzService } from "../../src/authz/index.ts";
import type { AuthzStore } from "../../src/authz/ports.ts";
import { anyOf } from "../../src/http/router.ts";
import type { Authenticator } from "../../src/http/types.ts";
import { DynamoDbKeyStore } from "../../src/keys/adapters/dynamodb.ts";
import { MemoryKeyStore } from "../../src/keys/adapters/memory.ts";
import type { KeyRing } from "../../src/keys/ring.ts";
import { createKeyRing } from "../../src/keys/setup.ts";
import { DynamoDbOAuthStore } from "../../src/oauth/adapters/dynamodb.ts";
import { MemoryOAuthStore } from "../../src/oauth/adapters/memory.ts";
import { createOAuth, type OAuth } from "../../src/oauth/setup.ts";
import { DynamoDbSignInStore } from "../../src/sessions/adapters/dynamodb.ts";
import { MemorySignInStore } from "../../src/sessions/adapters/memory.ts";
import { loginAuditInput } from "../../src/sessions/audit-events.ts";
import { ConsentService } from "../../src/sessions/consents.ts";
import { EmailStepLimiter } from "../../src/sessions/email-step-limit.ts";
import type { SignInStore } from "../../src/sessions/ports.ts";
import { SessionService } from "../../src/sessions/service.ts";
import { LoginThrottle } from "../../src/sessions/throttle.ts";
import { type Clock, systemClock } from "../../src/shared/clock.ts";
import { createDynamoDbClient } from "../../src/shared/dynamodb.ts";
import { type IdGenerator, ulidGenerator } from "../../src/shared/ids.ts";
import { createLogger, type Logger } from "../../src/shared/logger.ts";
import type { InvocationOutput } from "../../src/shared/stdout.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { DynamoDbTenantDomainStore } from "../../src/tenants/adapters/domains-dynamodb.ts";
import { MemoryTenantDomainStore } from "../../src/tenants/adapters/domains-memory.ts";
import { DynamoDbTenantStore } from "../../src/tenants/adapters/dynamodb.ts";
import { MemoryTenantStore } from "../../src/tenants/adapters/memory.ts";
import { apiKeyAuthenticator, platformKeyAuthenticator } from "../../src/tenants/authn.ts";
import { TenantDomainService } from "../../src/tenants/domains.ts";
import type { TenantStore } from "../../src/tenants/ports.ts";
import { TenantService } from "../../src/tenants/service.ts";
import { DynamoDbUserStore } from "../../src/users/adapters/dynamodb.ts";
import { MemoryUserStore } from "../../src/users/adapters/memory.ts";
import { UserService } from "../../src/users/service.ts";
import type { PlatformConfig } from "./config.ts";

/** Everything the handlers need, wired once per container (cold start) or per local platform. */
export interface Container {
  readonly config: PlatformConfig;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly log: Logger;
  readonly tenantStore: TenantStore;
  readonly authzStore: AuthzStore;
  /** The authorization engine on `authzStore`. */
  readonly authz: AuthzService;
  /** The authorization API (OpenFGA HTTP API): routes, caches, consistency routing. */
  readonly authzApi: AuthzHttp;
  readonly tenants: TenantService;
  /** Email domains claimed by tenants (home-realm discovery of multi-tenant clients). */
  readonly tenantDomains: TenantDomainService;
  readonly authenticator: Authenticator;
  /** The DynamoDB client when the store is DynamoDB (for shutdown). */
  readonly dynamodb?: DynamoDBClient;
  /** Signing keys (local, KMS or KMS envelope) and their rotation. */
  readonly keyRing: KeyRing;
  /** The OAuth authorization server: clients, tokens, routes. */
  readonly oauth: OAuth;
  /** The KMS client of the KMS signer modes (for shutdown). */
  readonly kms?: KMSClient;
  /** End users per tenant. */
  readonly users: UserService;
  /** Browser sessions of end users. */
  readonly sessions: SessionService;
  /** Sessions, codes, refresh-token families, login transactions, failed-login counters, consents. */
  readonly signInStore: SignInStore;
  /** Remembered consent of users to (third-party) clients. */
  readonly consents: ConsentService;
  /** The audit pipeline: emitter, bus (in-process or EventBridge), store of the query API. */
  readonly audit: Audit;
  /**
   * Standard output written once per invocation (Lambda entries): log lines at info and debug
   * level and the audit lines of an invocation go out together at its end (src/shared/stdout.ts).
   */
  readonly output?: InvocationOutput;
}

export interface ContainerOverrides {
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly log?: Logger;
  /** Hold each invocation's routine log lines and audit lines for one write at its end (Lambda). */
  readonly output?: InvocationOutput;
  readonly dynamodb?: DynamoDBClient;
  readonly kms?: KMSClient;
  /** Wraps the sign-in store (tests: pause a step to force an interleaving). */
  readonly wrapSignInStore?: (store: SignInStore) => SignInStore;
}

/** Builds the adapters the configuration names; `config.adminKey` must already be resolved. */
export function createContainer(config: PlatformConfig, overrides: ContainerOverrides = {}): Container {
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? ulidGenerator;
  const { output } = overrides;
  const log =
    overrides.log ??
    createLogger({
      level: config.logLevel,
      base: { region: config.region },
      ...(output
        ? {
            write: (line, level) =>
              level === "info" || level === "debug" ? output.line(line) : output.urgent(line),
          }
        : {}),
    });
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
  const platformTable = tableNames(config.tablePrefix).platform;
  const tenantDomains = new TenantDomainService({
    store: dynamodb ? new DynamoDbTenantDomainStore(dynamodb, platformTable) : new MemoryTenantDomainStore(),
    tenants: tenantStore,
    clock,
  });
  const { ring: keyRing, kms } = createKeyRing(config.keys, {
    store: dynamodb ? new DynamoDbKeyStore(dynamodb, platformTable) : new MemoryKeyStore(),
    clock,
    log,
    region: config.region,
    ...(overrides.kms ? { kms: overrides.kms } : {}),
  });
  const tenantIsActive = async (id: string) => {
    const t = await tenantStore.getTenant(id);
    return t !== undefined && t.deletedAt === undefined;
  };
  const users = new UserService({
    store: dynamodb ? new DynamoDbUserStore(dynamodb, platformTable) : new MemoryUserStore(),
    clock,
    ids,
    tenantIsActive,
    scrypt: { ln: config.signIn.scryptLn, r: 8, p: 1 },
    // Disabling a user ends their sessions (and so their refresh tokens); deleting one also
    // forgets their consents.
    onDisabled: async (tenantId, userId) => {
      await sessions.revokeAll(tenantId, userId);
    },
    onDeleted: async (tenantId, userId) => {
      await consents.deleteAll(tenantId, userId);
      await sessions.revokeAll(tenantId, userId);
    },
  });
  const baseSignInStore: SignInStore = dynamodb
    ? new DynamoDbSignInStore(dynamodb, platformTable)
    : new MemorySignInStore();
  const signInStore = overrides.wrapSignInStore?.(baseSignInStore) ?? baseSignInStore;
  const consents = new ConsentService({ store: signInStore, clock });
  const sessions = new SessionService({
    store: signInStore,
    clock,
    ids,
    defaults: {
      idleTimeoutSeconds: config.signIn.sessionIdleTimeout,
      absoluteTimeoutSeconds: config.signIn.sessionMaxLifetime,
    },
    userIsActive: async (tenantId, userId) => (await users.findActive(tenantId, userId)) !== undefined,
    log,
  });
  const audit = createAudit(config.audit, {
    clock,
    ids,
    log,
    region: config.region,
    ...(dynamodb ? { dynamodb: { client: dynamodb, table: tableNames(config.tablePrefix).audit } } : {}),
    // Audit lines go out with the invocation's held log lines, in one write that throws if it fails.
    ...(output ? { writeLine: (chunk: string) => output.release(chunk, true) } : {}),
  });
  const oauth = createOAuth({
    issuer: config.issuer,
    ...(config.apiAudience ? { apiAudience: config.apiAudience } : {}),
    store: dynamodb ? new DynamoDbOAuthStore(dynamodb, platformTable) : new MemoryOAuthStore(),
    tenants: {
      isActive: async (id) => {
        const t = await tenantStore.getTenant(id);
        return t !== undefined && t.deletedAt === undefined;
      },
    },
    keyRing,
    clock,
    ids,
    log,
    tokenLifetime: config.tokenLifetime,
    clientAuthCacheMs: config.clientAuthCacheSeconds * 1000,
    maxTokenLifetime: config.keys.maxTokenLifetimeSeconds,
    jwksMaxAgeSeconds: config.keys.jwksMaxAgeSeconds,
    signIn: {
      users,
      sessions,
      store: signInStore,
      throttle: new LoginThrottle({ store: signInStore, clock }),
      consents,
      emailStepLimiter: new EmailStepLimiter({
        store: signInStore,
        clock,
        limits: config.signIn.emailStepLimits,
      }),
      organizations: tenantDomains,
      refreshTokenLifetimeSeconds: config.signIn.refreshTokenLifetime,
      // Sign-in events go to the audit pipeline (created below; events only happen per request).
      onEvent: (e) => audit.emitter.emit(loginAuditInput(e)),
    },
  });
  const authenticator = anyOf(
    platformKeyAuthenticator(config.adminKey),
    apiKeyAuthenticator(tenants),
    oauth.authenticator,
  );
  const { authz, authzApi } = authzOf(
    config,
    { store: authzStore, dynamodb, clock, ids, log, grantingPaths: audit.emitter.enabled },
    tenantStore,
    authenticator,
  );
  return {
    config,
    clock,
    ids,
    log,
    ...(output ? { output } : {}),
    tenantStore,
    authzStore,
    authz,
    authzApi,
    tenants,
    tenantDomains,
    authenticator,
    ...(dynamodb ? { dynamodb } : {}),
    keyRing,
    oauth,
    ...(kms ? { kms } : {}),
    users,
    sessions,
    signInStore,
    consents,
    audit,
  };
}

/**
 * The authorization engine, and its HTTP API with the writer-region fallback of consistency
 * tokens: with DynamoDB, a service on the authz table's replica in each configured peer region
 * (global tables keep the table name), created on first use.
 */
function authzOf(
  config: PlatformConfig,
  d: {
    store: AuthzStore;
    dynamodb: DynamoDBClient | undefined;
    clock: Clock;
    ids: IdGenerator;
    log: Logger;
    grantingPaths: boolean;
  },
  tenantStore: TenantStore,
  authenticator: Authenticator,
): { authz: AuthzService; authzApi: AuthzHttp } {
  const options = engineOptions(config.authz);
  const authz = createAuthzService({ store: d.store, clock: d.clock, ids: d.ids, options });
  const peers = new Map<string, AuthzService>();
  const peer = (region: string): AuthzService | undefined => {
    if (!d.dynamodb || !config.authz.peerRegions.includes(region)) return undefined;
    let s = peers.get(region);
    if (!s) {
      const client = createDynamoDbClient({
        region,
        ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
      });
      const store = new DynamoDbAuthzStore(client, tableNames(config.tablePrefix).authz);
      s = createAuthzService({ store, clock: d.clock, ids: d.ids, options });
      peers.set(region, s);
    }
    return s;
  };
  const authzApi = createAuthzHttp({
    service: authz,
    store: d.store,
    region: config.region,
    peer,
    tenantIsActive: async (id) => {
      const t = await tenantStore.getTenant(id);
      return t !== undefined && t.deletedAt === undefined;
    },
    authenticator,
    settings: config.authz,
    clock: d.clock,
    log: d.log,
    grantingPaths: d.grantingPaths,
  });
  return { authz, authzApi };
}
