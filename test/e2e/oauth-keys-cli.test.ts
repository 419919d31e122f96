/**
 * `npm run keys`: the ops command, on DynamoDB (Local) and KMS (the stand-in) through the AWS SDK,
 * and through a running platform's admin API (`--url`).
 */
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { createKmsClient } from "../../src/keys/adapters/kms.ts";
import { runKeysCli } from "../../src/keys/cli.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint, useDynamoDbTables } from "../support/dynamodb.ts";
import { type KmsStandin, startKmsStandin } from "../support/kms-standin.ts";

const ddb = useDynamoDbTables();
let kms: KmsStandin;

beforeAll(async () => {
  kms = await startKmsStandin();
});
afterAll(async () => {
  await kms?.close();
});

async function run(argv: string[], env: NodeJS.ProcessEnv) {
  let out = "";
  let err = "";
  const code = await runKeysCli(argv, { env, out: (s) => (out += s), err: (s) => (err += s) });
  return {
    code,
    out,
    err,
    json: () => JSON.parse(out) as { keys: { kid: string; state: string }[]; action?: string },
  };
}

describe("keys CLI on DynamoDB + KMS", () => {
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const names = await ddb.fresh();
    const c = createKmsClient({ endpoint: kms.url });
    const key = await c.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", MultiRegion: true }),
    );
    c.destroy();
    env = {
      PORTCULLIS_STORE: "dynamodb",
      PORTCULLIS_DYNAMODB_ENDPOINT: dynamoDbEndpoint(),
      PORTCULLIS_TABLE_PREFIX: names.platform.replace(/-platform$/, ""),
      PORTCULLIS_SIGNER: "kms",
      PORTCULLIS_KMS_ENDPOINT: kms.url,
      PORTCULLIS_KMS_KEY_ID: key.KeyMetadata!.Arn!,
      PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
    };
  });

  it("initialises, rotates in two steps, lists, and retires only with --force before the retention passed", async () => {
    const init = await run(["init", "--json"], env);
    expect(init.code, init.err).toBe(0);
    expect(init.json().keys.map((k) => k.state)).toEqual(["current"]);
    const first = init.json().keys[0]!.kid;

    const published = await run(["rotate", "--json"], env);
    expect(published.code, published.err).toBe(0);
    expect(published.json().action).toBe("published");
    const promoted = await run(["rotate"], env);
    expect(promoted.code, promoted.err).toBe(0);
    expect(promoted.out).toMatch(/^rotate: promoted\n/);
    expect(promoted.out).toMatch(/kid\s+alg\s+state\s+source/);

    const list = (await run(["list", "--json"], env)).json().keys;
    expect(list.map((k) => k.state).sort()).toEqual(["current", "next", "previous"]);
    expect(list.find((k) => k.kid === first)?.state).toBe("previous");

    const none = await run(["retire"], env);
    expect(none.code, none.err).toBe(0);
    expect(none.out).toContain("retired: none");
    const refused = await run(["retire", "--kid", first], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/may be retired from/);
    const forced = await run(["retire", "--kid", first, "--force", "--json"], env);
    expect(forced.code, forced.err).toBe(0);
    expect((await run(["list", "--json"], env)).json().keys.find((k) => k.kid === first)?.state).toBe(
      "retired",
    );
  });

  it("takes a kid that starts with a dash (one thumbprint in 64 does) as the value of --kid", async () => {
    const r = await run(["retire", "--kid", "-8Rzq0hZ2tYxkYx1oE5m2HnSx3m8vQy0bQyVtq3lXwE"], env);
    expect(r.err).not.toMatch(/ambiguous|usage/i);
    expect(r.code).toBe(1);
    // A missing value is still a usage error.
    expect((await run(["retire", "--kid", "--force"], env)).code).toBe(2);
  });

  it("adopts an existing KMS key as the next key", async () => {
    const c = createKmsClient({ endpoint: kms.url });
    const key = await c.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", MultiRegion: true }),
    );
    c.destroy();
    const r = await run(["rotate", "--kms-key-id", key.KeyMetadata!.KeyId!, "--json"], env);
    expect(r.code, r.err).toBe(0);
    expect(
      (r.json() as unknown as { changed: { kms_key_id?: string; state: string }[] }).changed.find(
        (k) => k.state === "next",
      )?.kms_key_id,
    ).toBe(key.KeyMetadata!.KeyId);
  });

  it("explains usage errors (2) and refuses the memory store (1)", async () => {
    expect((await run([], env)).code).toBe(2);
    expect((await run(["explode"], env)).code).toBe(2);
    expect((await run(["list", "--bogus"], env)).code).toBe(2);
    const mem = await run(["list"], { PORTCULLIS_STORE: "memory" });
    expect(mem.code).toBe(1);
    expect(mem.err).toMatch(/PORTCULLIS_STORE=dynamodb/);
  });
});

describe("keys CLI through the admin API (--url)", () => {
  let p: LocalPlatform;
  beforeAll(async () => {
    p = await startLocalPlatform({
      env: {
        PORTCULLIS_ADMIN_KEY: "cli-admin",
        PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
        PORTCULLIS_LOG_LEVEL: "silent",
      },
      port: 0,
      seed: false,
      log: createLogger({ level: "silent" }),
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  it("lists and rotates the local platform's keys", async () => {
    const env = { PORTCULLIS_ADMIN_KEY: "cli-admin" };
    expect((await run(["rotate", "--url", p.url, "--json"], env)).json().action).toBe("bootstrapped");
    expect((await run(["rotate", "--url", p.url, "--json"], env)).json().action).toBe("promoted");
    const list = await run(["list", "--url", p.url, "--json"], env);
    expect(
      list
        .json()
        .keys.map((k) => k.state)
        .sort(),
    ).toEqual(["current", "next", "previous"]);
    expect((await run(["list", "--url", p.url], {})).code).toBe(1);
    expect((await run(["list", "--url", p.url], { PORTCULLIS_ADMIN_KEY: "wrong" })).code).toBe(1);
  });
});
