/**
 * `npm run keys -- <command>`: operate the signing key ring.
 *
 *   list                           every key with its state and dates
 *   rotate [--force] [--kms-key-id ID]
 *                                  one rotation step (see docs/runbooks/key-rotation.md)
 *   retire [--kid KID] [--force]   unpublish previous keys whose tokens have all expired
 *   init                           fill an empty ring (done automatically on first signing)
 *   options: --json (machine-readable output), --url URL (go through a running platform's admin
 *            API with PORTCULLIS_ADMIN_KEY instead of the store, e.g. the local platform)
 *
 * Without --url it works on the store directly, through the AWS SDK, with the same environment as
 * the functions: PORTCULLIS_STORE=dynamodb, PORTCULLIS_TABLE_PREFIX, AWS_REGION (or
 * PORTCULLIS_DYNAMODB_ENDPOINT) and the signer settings (src/keys/settings.ts).
 */
import { parseArgs } from "node:util";
import { systemClock } from "../shared/clock.ts";
import { createDynamoDbClient } from "../shared/dynamodb.ts";
import { DomainError } from "../shared/errors.ts";
import { tableName } from "../shared/tables.ts";
import { DynamoDbKeyStore } from "./adapters/dynamodb.ts";
import { keyJson } from "./http.ts";
import type { KeyRecord } from "./model.ts";
import { keySettingsFromEnv } from "./settings.ts";
import { createKeyRing } from "./setup.ts";

/** Where the CLI reads its environment and writes (injectable for tests). */
export interface CliIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (s: string) => void;
  readonly err?: (s: string) => void;
}

const USAGE =
  "usage: keys list | rotate [--force] [--kms-key-id ID] | retire [--kid KID] [--force] | init [--json] [--url URL]\n";

type Row = Record<string, unknown>;

function table(rows: Row[]): string {
  const cols = [
    "kid",
    "alg",
    "state",
    "source",
    "created_at",
    "activated_at",
    "deactivated_at",
    "retirable_at",
  ];
  const cell = (r: Row, c: string) => String(r[c] ?? "-");
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(cols), ...rows.map((r) => line(cols.map((c) => cell(r, c))))].join("\n");
}

async function viaApi(url: string, command: string, body: Row, env: NodeJS.ProcessEnv): Promise<Row> {
  const key = env.PORTCULLIS_ADMIN_KEY;
  if (!key) throw new Error("--url needs PORTCULLIS_ADMIN_KEY");
  const path =
    command === "list" ? "/admin/v1/keys" : `/admin/v1/keys/${command === "init" ? "rotate" : command}`;
  const res = await fetch(`${url.replace(/\/+$/, "")}${path}`, {
    method: command === "list" ? "GET" : "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(command === "list" ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Row;
  if (!res.ok) throw new DomainError("conflict", String(json.detail ?? `HTTP ${res.status}`));
  return json;
}

async function viaStore(
  command: string,
  o: { force: boolean; kid?: string; kmsKeyId?: string },
  env: NodeJS.ProcessEnv,
): Promise<Row> {
  if (env.PORTCULLIS_STORE !== "dynamodb")
    throw new Error("the keys CLI needs PORTCULLIS_STORE=dynamodb (or --url for a running platform)");
  const settings = keySettingsFromEnv(env);
  const region = env.PORTCULLIS_REGION ?? env.AWS_REGION;
  const endpoint = env.PORTCULLIS_DYNAMODB_ENDPOINT;
  const ddb = createDynamoDbClient({ ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) });
  const store = new DynamoDbKeyStore(
    ddb,
    tableName(env.PORTCULLIS_TABLE_PREFIX ?? "portcullis-local", "platform"),
  );
  const { ring, kms } = createKeyRing(settings, { store, clock: systemClock, ...(region ? { region } : {}) });
  try {
    const show = (ks: readonly KeyRecord[]) => ks.map((k) => keyJson(k, ring));
    switch (command) {
      case "list":
        return { keys: show(await ring.list()) };
      case "init": {
        const r = await ring.initialize();
        return { action: r.keys.length ? "bootstrapped" : "unchanged", keys: show(await ring.list()) };
      }
      case "rotate": {
        const r = await ring.rotate({ force: o.force, ...(o.kmsKeyId ? { adoptKeyId: o.kmsKeyId } : {}) });
        return { action: r.action, changed: show(r.keys), keys: show(await ring.list()) };
      }
      default:
        return { retired: show(await ring.retire({ force: o.force, ...(o.kid ? { kid: o.kid } : {}) })) };
    }
  } finally {
    ddb.destroy();
    kms?.destroy();
  }
}

/** The CLI's options (`parseArgs`). */
const OPTIONS = {
  force: { type: "boolean", default: false },
  kid: { type: "string" },
  "kms-key-id": { type: "string" },
  json: { type: "boolean", default: false },
  url: { type: "string" },
} as const;

/** Whether `arg` is one of the options, as `--name` or `--name=value`. */
const isOption = (arg: string): boolean =>
  Object.keys(OPTIONS).some((o) => arg === `--${o}` || arg.startsWith(`--${o}=`));

/**
 * `--kid <value>` (any option taking a value) joined as `--kid=<value>` unless the value is one of
 * the options: a kid is an RFC 7638 thumbprint in base64url, and one in 64 starts with a dash, which
 * `parseArgs` refuses as ambiguous after an option.
 */
function joinValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.slice(2);
    const option =
      a.startsWith("--") && Object.hasOwn(OPTIONS, name) ? OPTIONS[name as keyof typeof OPTIONS] : undefined;
    if (option?.type === "string" && next !== undefined && !isOption(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Runs the keys CLI; returns the exit code (0 ok, 1 refused/failed, 2 usage). */
export async function runKeysCli(argv: string[], io: CliIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const out = io.out ?? ((s: string) => process.stdout.write(s));
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: joinValues(argv),
      allowPositionals: true,
      options: OPTIONS,
    });
  try {
    parsed = parse();
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const command = parsed.positionals[0];
  if (parsed.positionals.length !== 1 || !["list", "rotate", "retire", "init"].includes(command!)) {
    err(USAGE);
    return 2;
  }
  const v = parsed.values;
  try {
    const result = v.url
      ? await viaApi(
          v.url,
          command!,
          {
            ...(v.force ? { force: true } : {}),
            ...(v.kid ? { kid: v.kid } : {}),
            ...(v["kms-key-id"] ? { kms_key_id: v["kms-key-id"] } : {}),
          },
          env,
        )
      : await viaStore(
          command!,
          {
            force: v.force,
            ...(v.kid ? { kid: v.kid } : {}),
            ...(v["kms-key-id"] ? { kmsKeyId: v["kms-key-id"] } : {}),
          },
          env,
        );
    if (v.json) out(`${JSON.stringify(result, null, 2)}\n`);
    else {
      if (typeof result.action === "string") out(`${command}: ${result.action}\n`);
      if (Array.isArray(result.retired))
        out(`retired: ${result.retired.length ? table(result.retired as Row[]) : "none"}\n`);
      if (Array.isArray(result.keys)) out(`${table(result.keys as Row[])}\n`);
    }
    return 0;
  } catch (e) {
    err(
      `keys ${command}: ${e instanceof DomainError ? e.detail : e instanceof Error ? e.message : String(e)}\n`,
    );
    return 1;
  }
}
