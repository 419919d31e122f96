/**
 * Audit overhead on authorization checks: the `authz` Lambda handler invoked in process with API
 * Gateway events (the full path: parse, router, authentication, check, audit, flush middleware),
 * in the same run with audit emission off, on with the in-process bus (memory audit store, as
 * `npm start`), and on with the EventBridge bus (protocol-level stand-in on 127.0.0.1, one
 * `PutEvents` per invocation as deployed). Modes alternate in rounds so drift hits all alike.
 *
 *   npx tsx bench/audit-overhead.ts [--quick]
 */
import { pathToFileURL } from "node:url";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { configFromEnv } from "../functions/_shared/config.ts";
import { type Container, createContainer } from "../functions/_shared/container.ts";
import { createHandlers } from "../functions/_shared/handlers.ts";
import type { LambdaHttpHandler } from "../functions/_shared/lambda.ts";
import { startEventBridgeStandin } from "../test/support/eventbridge-standin.ts";

const ADMIN = "bench-admin-audit-overhead";
const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "team",
      relations: { member: { this: {} } },
      metadata: { relations: { member: { directly_related_user_types: [{ type: "user" }] } } },
    },
    {
      type: "document",
      relations: { viewer: { this: {} } },
      metadata: {
        relations: {
          viewer: { directly_related_user_types: [{ type: "user" }, { type: "team", relation: "member" }] },
        },
      },
    },
  ],
};

let seq = 0;
const context = { awsRequestId: "bench", getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
function event(method: string, path: string, body: unknown, key: string): APIGatewayProxyEventV2 {
  const id = `r${++seq}`;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "user-agent": "bench" },
    requestContext: {
      accountId: "123456789012",
      apiId: "bench",
      domainName: "bench",
      domainPrefix: "bench",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" },
      requestId: id,
      routeKey: "$default",
      stage: "$default",
      time: "",
      timeEpoch: 0,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  } as APIGatewayProxyEventV2;
}

interface Mode {
  readonly name: string;
  readonly c: Container;
  readonly authz: LambdaHttpHandler;
  readonly key: string;
  readonly storeId: string;
  done: number;
  ms: number;
  /** checks/s of each round. */
  readonly rates: number[];
}

async function mode(name: string, env: NodeJS.ProcessEnv, teams: number, docs: number): Promise<Mode> {
  const c = createContainer(
    configFromEnv(
      { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_LOG_LEVEL: "warn", ...env },
      { issuer: "http://localhost" },
    ),
  );
  const t = await c.tenants.create(name);
  const { key } = await c.tenants.createApiKey(t.id, "bench");
  const h = createHandlers(c);
  const authz = h.authz!;
  const call = async (method: string, path: string, body: unknown) => {
    const r = await authz(event(method, path, body, key), context);
    if (typeof r === "object" && r.statusCode && r.statusCode >= 300)
      throw new Error(`${path}: ${r.statusCode} ${r.body}`);
    return JSON.parse(typeof r === "object" && r.body ? r.body : "{}") as Record<string, string>;
  };
  const { id: storeId } = await call("POST", "/stores", { name: "bench" });
  await call("POST", `/stores/${storeId}/authorization-models`, MODEL);
  const tuples = [];
  for (let d = 0; d < docs; d++)
    tuples.push({ user: `team:t${d % teams}#member`, relation: "viewer", object: `document:d${d}` });
  for (let u = 0; u < teams * 10; u++)
    tuples.push({ user: `user:u${u}`, relation: "member", object: `team:t${u % teams}` });
  for (let i = 0; i < tuples.length; i += 100)
    await call("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: tuples.slice(i, i + 100) } });
  await c.audit.emitter.flush();
  return { name, c, authz, key, storeId: storeId!, done: 0, ms: 0, rates: [] };
}

async function round(m: Mode, ms: number, users: number, docs: number): Promise<void> {
  const end = performance.now() + ms;
  const t0 = performance.now();
  let i = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 50; k++, i++) {
      const body = {
        tuple_key: {
          user: `user:u${(i * 7) % users}`,
          relation: "viewer",
          object: `document:d${(i * 13) % docs}`,
        },
      };
      await m.authz(event("POST", `/stores/${m.storeId}/check`, body, m.key), context);
    }
    m.done += 50;
  }
  const took = performance.now() - t0;
  m.ms += took;
  m.rates.push((i / took) * 1000);
}

export async function run(options: { quick?: boolean } = {}): Promise<void> {
  const quick = options.quick ?? false;
  const teams = quick ? 20 : 100;
  const docs = quick ? 200 : 2000;
  const rounds = quick ? 2 : 5;
  const roundMs = quick ? 300 : 1500;
  const eb = await startEventBridgeStandin();
  try {
    const modes = [
      await mode("off", { PORTCULLIS_AUDIT_BUS: "off" }, teams, docs),
      await mode("in-process", { PORTCULLIS_AUDIT_BUS: "in-process" }, teams, docs),
      await mode(
        "eventbridge",
        {
          PORTCULLIS_AUDIT_BUS: "eventbridge",
          PORTCULLIS_EVENTBRIDGE_ENDPOINT: eb.url,
          PORTCULLIS_AUDIT_EMF: "false",
        },
        teams,
        docs,
      ),
    ];
    for (const m of modes) await round(m, Math.min(200, roundMs), teams * 10, docs); // warm-up
    for (const m of modes) {
      m.done = 0;
      m.ms = 0;
      m.rates.length = 0;
    }
    for (let r = 0; r < rounds; r++) for (const m of modes) await round(m, roundMs, teams * 10, docs);
    const base = modes[0]!;
    // The median round: the machine may be shared, so single rounds are noisy.
    const rate = (m: Mode) => [...m.rates].sort((x, y) => x - y)[Math.floor(m.rates.length / 2)]!;
    process.stdout.write(
      `checks through the authz Lambda handler, in process, sequential; median of ${rounds} rounds x ${roundMs} ms per mode\n`,
    );
    for (const m of modes) {
      const t = m.c.audit.metrics.totals;
      const overhead = ((rate(base) - rate(m)) / rate(base)) * 100;
      process.stdout.write(
        `  audit ${m.name.padEnd(12)} ${rate(m).toFixed(0).padStart(7)} checks/s  ${(1000 / rate(m)).toFixed(3)} ms/check  overhead ${m === base ? "   –  " : `${overhead.toFixed(1).padStart(5)}%`}  events emitted ${t.AuditEventsEmitted}, delivered ${t.AuditEventsDelivered}, spilled ${t.AuditEventsSpilled}\n`,
      );
    }
    process.stdout.write(
      `  EventBridge stand-in: ${eb.stats.requests} PutEvents requests, ${eb.accepted.length} entries\n`,
    );
    for (const m of modes) m.c.audit.destroy();
  } finally {
    await eb.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await run({ quick: process.argv.includes("--quick") });
