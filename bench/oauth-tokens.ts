/**
 * OAuth token endpoint benchmark: `client_credentials` tokens per second and latency at 32
 * concurrent requests over the local HTTP server, next to node-oidc-provider (8.x, the version
 * line that runs on Node 20) configured for the same grant with an ES256 JWT access token, in the
 * same run; and raw ES256 signatures per second as the ceiling.
 *
 *   npx tsx bench/oauth-tokens.ts [--quick] [--seconds 6] [--concurrency 32] [--rounds 3] [--only local|envelope|oidc-provider|bare]
 *
 * The load generator (`http-load.ts`: raw sockets, requests serialised once) runs in a worker thread
 * (its own event loop and core) with keep-alive connections; every request is
 * `POST grant_type=client_credentials&scope=authz%3Acheck` with `client_secret_basic`, and every
 * answer must be a 200 with a JWT access token. Each server runs in its own child process (a
 * fresh heap and JIT state, as in production: servers sharing one isolate slow each other down),
 * one after the other in interleaved rounds (each round in another order). Besides throughput and
 * latency, each server's CPU time per token is reported (its process' user + system time during the
 * window, from /proc, GC threads included): the figure to compare on a machine shared with other
 * work.
 */
import { type ChildProcess, fork } from "node:child_process";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { importJWK, SignJWT } from "jose";
import { configFromEnv } from "../functions/_shared/config.ts";
import { createContainer } from "../functions/_shared/container.ts";
import { createHandlers } from "../functions/_shared/handlers.ts";
import { startLocalPlatform } from "../functions/_shared/platform.ts";
import { createKmsClient } from "../src/keys/adapters/kms.ts";
import { createLogger } from "../src/shared/logger.ts";
import { apiEvent, lambdaContext } from "../test/support/events.ts";
import { startKmsStandin } from "../test/support/kms-standin.ts";
import { type HttpPhase, httpLoad, processCpuMs } from "./http-load.ts";
import { combine, type LoadResult, type Target } from "./oauth-load.ts";

/** Portcullis' local platform (memory store) with one tenant and one client. */
async function portcullis(signer: "local" | "kms-envelope"): Promise<Target> {
  const env: NodeJS.ProcessEnv = {
    PORTCULLIS_ADMIN_KEY: "bench-admin",
    PORTCULLIS_LOG_LEVEL: "silent",
    PORTCULLIS_SIGNER: signer,
  };
  const kms = signer === "kms-envelope" ? await startKmsStandin() : undefined;
  if (kms) {
    const c = createKmsClient({ endpoint: kms.url });
    env.PORTCULLIS_KMS_ENDPOINT = kms.url;
    env.PORTCULLIS_KMS_WRAPPING_KEY_ID = (await c.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    c.destroy();
  }
  const p = await startLocalPlatform({ env, port: 0, seed: false, log: createLogger({ level: "silent" }) });
  const close = async () => {
    await p.close();
    p.container.kms?.destroy();
    await kms?.close();
  };
  try {
    const admin = async (path: string, body: unknown) => {
      const r = await fetch(`${p.url}${path}`, {
        method: "POST",
        headers: { authorization: "Bearer bench-admin", "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await r.json()) as Record<string, string>;
    };
    const tenant = await admin("/admin/v1/tenants", { name: "bench" });
    const client = await admin(`/admin/v1/tenants/${tenant.id}/clients`, {
      client_name: "bench",
      scope: "authz:check",
    });
    const name = signer === "local" ? "portcullis (local signer)" : "portcullis (kms-envelope, stand-in)";
    return {
      name,
      url: p.url,
      path: "/oauth/token",
      clientId: client.client_id!,
      secret: client.client_secret!,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** node-oidc-provider with the client_credentials grant, ES256 JWT access tokens, memory adapter. */
async function oidcProvider(): Promise<Target> {
  // oidc-provider ships no types; only its constructor and callback() are used.
  const specifier = "oidc-provider";
  const { default: Provider } = (await import(specifier)) as {
    default: new (
      issuer: string,
      config: unknown,
    ) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };
  };
  const { createRequire } = await import("node:module");
  const version = (createRequire(import.meta.url)("oidc-provider/package.json") as { version: string })
    .version;
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "bench", alg: "ES256", use: "sig" };
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secret = "bench-secret-0123456789abcdef0123456789abcdef";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "bench",
        client_secret: secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "ES256",
        scope: "authz:check",
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ["authz:check"],
    cookies: { keys: ["bench-cookie-key"] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => "https://api.example.com",
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "authz:check",
          audience: "https://api.example.com",
          accessTokenTTL: 600,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
  });
  server.on("request", provider.callback());
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  try {
    // Sanity: the provider answers with a JWT access token.
    const probe = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`bench:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=authz%3Acheck",
    });
    const t = (await probe.json()) as { access_token?: string };
    if (!t.access_token?.startsWith("eyJ"))
      throw new Error(`oidc-provider did not issue a JWT: ${JSON.stringify(t)}`);
    return {
      name: `oidc-provider ${version}`,
      url: issuer,
      path: "/token",
      clientId: "bench",
      secret,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Reference floor: a bare node:http server doing the same work by hand (Basic check, one ES256
 * signature with node:crypto) — no routing, validation, stores or Lambda event emulation.
 */
async function bare(): Promise<Target> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const auth = `Basic ${Buffer.from("bare:bare-secret").toString("base64")}`;
  const header = Buffer.from(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid: "bare" })).toString(
    "base64url",
  );
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (req.headers.authorization !== auth || form.get("grant_type") !== "client_credentials") {
        res.writeHead(401).end();
        return;
      }
      const iat = Math.floor(Date.now() / 1000);
      const claims = {
        iss: "http://bare",
        sub: "bare",
        aud: "https://api.example.com",
        iat,
        exp: iat + 600,
        jti: randomUUID(),
        scope: form.get("scope"),
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
      const sig = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString(
        "base64url",
      );
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(
        JSON.stringify({
          access_token: `${input}.${sig}`,
          token_type: "Bearer",
          expires_in: 600,
          scope: claims.scope,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    name: "bare node:http + node:crypto (floor)",
    url,
    path: "/token",
    clientId: "bare",
    secret: "bare-secret",
    close,
  };
}

/**
 * The oauth group's Lambda handler called directly with API Gateway v2 events, one at a time: the
 * per-invocation cost in AWS, where API Gateway replaces the local HTTP server.
 */
async function inProcess(ms = 1500): Promise<number> {
  const config = configFromEnv(
    { PORTCULLIS_ADMIN_KEY: "bench", PORTCULLIS_LOG_LEVEL: "silent" },
    { issuer: "http://bench" },
  );
  const c = createContainer(config, { log: createLogger({ level: "silent" }) });
  const handler = createHandlers(c).oauth!;
  const tenant = await c.tenants.create("bench");
  const { client, secret } = await c.oauth.clients.register(tenant.id, {
    client_name: "bench",
    scope: "authz:check",
  });
  const headers = {
    authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString("base64")}`,
    "content-type": "application/x-www-form-urlencoded",
  };
  const body = "grant_type=client_credentials&scope=authz%3Acheck";
  const call = () =>
    handler(apiEvent({ method: "POST", path: "/oauth/token", headers, rawBody: body }), lambdaContext);
  for (let i = 0; i < 500; i++) await call();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const r = await call();
    if (r.statusCode !== 200) throw new Error(`token request failed: ${r.statusCode}`);
    n++;
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** Raw ES256 signatures per second: node:crypto (ieee-p1363) and jose (WebCrypto). */
async function rawSigns(ms = 1000): Promise<{ node: number; jose: number }> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const data = Buffer.from("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9");
  let n = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < ms) {
    sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
    n++;
  }
  const node = n / ((performance.now() - t0) / 1000);
  const key = await importJWK({ ...privateKey.export({ format: "jwk" }) }, "ES256");
  n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await new SignJWT({ sub: "bench" }).setProtectedHeader({ alg: "ES256" }).sign(key);
    n++;
  }
  return { node, jose: n / ((performance.now() - t0) / 1000) };
}

const fmt = (v: number, d = 0) =>
  v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
/** A server's figures over its phases, with CPU time per token. */
interface Figures extends LoadResult {
  /** Server process CPU µs per token (NaN where /proc is not available). */
  readonly cpuPerToken: number;
}

type Kind = "local" | "envelope" | "oidc-provider" | "bare";
const KINDS: readonly Kind[] = ["local", "envelope", "oidc-provider", "bare"];

const makeTarget = (kind: Kind): Promise<Target> =>
  kind === "local"
    ? portcullis("local")
    : kind === "envelope"
      ? portcullis("kms-envelope")
      : kind === "oidc-provider"
        ? oidcProvider()
        : bare();

/** A target served by a child process (`--serve <kind>`), with its pid for CPU accounting. */
interface Served extends Target {
  readonly pid: number;
}

type Ready = Omit<Target, "close">;

/** The child side: starts one server, reports it, serves until told to close. */
async function serve(kind: Kind): Promise<void> {
  const t = await makeTarget(kind);
  const { close, ...ready } = t;
  process.on("message", (m) => {
    if (m === "close") void close().finally(() => process.exit(0));
  });
  process.send!({ ready });
}

/** Starts a server in a child process (this module with `--serve`, the same loader flags). */
async function spawnTarget(kind: Kind): Promise<Served> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve", kind], {
    execArgv: process.execArgv,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { ready: Ready }).ready));
    child.once("exit", (code) => reject(new Error(`the ${kind} server exited (${code})`)));
    child.once("error", reject);
  });
  child.removeAllListeners("exit");
  return {
    ...ready,
    pid: child.pid!,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.send("close");
      await exited;
    },
  };
}

function figures(phases: readonly HttpPhase[]): Figures {
  const r = combine(phases);
  const cpu = phases.every((p) => p.cpuMs !== undefined)
    ? (phases.reduce((a, p) => a + p.cpuMs!, 0) * 1000) / r.ok
    : Number.NaN;
  return {
    ...r,
    errors: r.errors + phases.reduce((a, p) => a + p.wrong, 0),
    // The server runs in another process: its CPU time, not this thread's event loop, is its busy time.
    perBusySecond: 1e6 / cpu,
    cpuPerToken: cpu,
  };
}

const row = (name: string, r: Figures) =>
  `  ${name.padEnd(38)} ${fmt(r.ok / r.seconds).padStart(9)}  ${fmt(r.p50, 2).padStart(7)}  ${fmt(r.p99, 2).padStart(7)}  ${fmt(r.cpuPerToken, 1).padStart(9)}  ${fmt(r.perBusySecond).padStart(12)}  ${String(r.errors).padStart(6)}`;

/** One measured window against a target: client_credentials with client_secret_basic. */
function measure(t: Served, o: { concurrency: number; seconds: number; warmup: number }): Promise<HttpPhase> {
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.secret)}`).toString("base64")}`;
  return httpLoad({
    url: t.url,
    method: "POST",
    path: t.path,
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    bodies: ["grant_type=client_credentials&scope=authz%3Acheck"],
    order: "cycle",
    expect: new Uint8Array(1),
    expectTexts: ['"access_token":"eyJ'],
    serverCpuMs: () => processCpuMs(t.pid),
    ...o,
  });
}

/** Runs the benchmark and prints its figures. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv[0] === "--serve") return serve(argv[1] as Kind);
  const arg = (name: string, d: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) || d : d;
  };
  const quick = argv.includes("--quick");
  const seconds = arg("--seconds", quick ? 1.5 : 6);
  const rounds = arg("--rounds", quick ? 1 : 3);
  const concurrency = arg("--concurrency", 32);
  const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1] : undefined;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const targets: Served[] = [];
  try {
    for (const kind of KINDS) if (!only || only === kind) targets.push(await spawnTarget(kind));
    // Interleaved rounds, each in another order, so load from anything else on the machine hits
    // every server alike.
    const phases = new Map<Served, HttpPhase[]>(targets.map((t) => [t, []]));
    for (let r = 0; r < rounds; r++)
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length]!;
        phases
          .get(t)!
          // A longer first warm-up: each server is a fresh process (JIT).
          .push(await measure(t, { concurrency, seconds: seconds / rounds, warmup: r === 0 ? 2 : 0.3 }));
      }
    const [l1, l5] = loadavg();
    out(
      `\nOAuth client_credentials: ${concurrency} concurrent, ${seconds} s per server in ${rounds} interleaved rounds, client_secret_basic, ES256 JWT access tokens (${cpus().length} CPUs, load average ${fmt(l1!, 1)} / ${fmt(l5!, 1)}, ${new Date().toISOString().slice(0, 16)}Z)`,
    );
    out(
      `  ${"server (own process)".padEnd(38)} ${"tokens/s".padStart(9)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  ${"CPU µs/tok".padStart(9)}  ${"tokens/CPU-s".padStart(12)}  ${"errors".padStart(6)}`,
    );
    const results = new Map(targets.map((t) => [t.name, figures(phases.get(t)!)]));
    for (const [name, r] of results) out(row(name, r));
    const perToken = await inProcess(quick ? 500 : 1500);
    out(
      `  oauth Lambda handler in process (API Gateway v2 events, no HTTP): ${fmt(perToken, 1)} µs/token = ${fmt(1e6 / perToken)} tokens/s per container`,
    );
    const raw = await rawSigns();
    out(
      `  raw ES256 signs/s (the limit, one core): node:crypto ieee-p1363 ${fmt(raw.node)}, jose WebCrypto SignJWT ${fmt(raw.jose)}`,
    );
    const local = results.get("portcullis (local signer)");
    const op = [...results.entries()].find(([n]) => n.startsWith("oidc-provider"))?.[1];
    if (local && op) {
      const ratio = local.ok / local.seconds / (op.ok / op.seconds);
      const capacity = op.cpuPerToken / local.cpuPerToken;
      const met = ratio >= 4 && local.p99 < 15;
      out(
        `  portcullis / oidc-provider: ${fmt(ratio, 2)}x tokens/s, ${fmt(capacity, 2)}x tokens per CPU second; p99 ${fmt(local.p99, 2)} ms (target >= 4x and p99 < 15 ms: ${met ? "met" : "NOT met"})`,
      );
    }
    const floor = [...results.entries()].find(([n]) => n.startsWith("bare"))?.[1];
    if (local && floor)
      out(
        `  portcullis / floor: ${fmt(local.ok / local.seconds / (floor.ok / floor.seconds), 2)}x tokens/s; ${fmt(local.cpuPerToken - floor.cpuPerToken, 1)} CPU µs per token above the floor`,
      );
  } finally {
    for (const t of targets) await t.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const serving = process.argv[2] === "--serve";
  run().then(
    () => {
      if (!serving) process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
