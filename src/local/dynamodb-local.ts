/**
 * DynamoDB Local for tests, `npm run dynamodb-local` and the CLI. AWS's DynamoDB Local jar ships in the
 * npm package `amplify-dynamodb-simulator` (`package/emulator/`); we fetch only that tarball with
 * `npm pack` (not the package's dependencies), check it against a pinned integrity, unpack the
 * emulator into the git-ignored `.cache/dynamodb-local/` and run it with the machine's Java 17.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createDynamoDbClient, listTableNames } from "../shared/dynamodb.ts";

const run = promisify(execFile);

/** The npm package that carries the DynamoDB Local jar (DynamoDB Local 1.25.1). */
export const SIMULATOR_PACKAGE = "amplify-dynamodb-simulator";
export const SIMULATOR_VERSION = "2.9.30";
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity`, pinned. */
export const SIMULATOR_INTEGRITY =
  "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";

/** Default cache root: `<repo>/.cache/dynamodb-local` (git-ignored). */
export const DEFAULT_CACHE_DIR = fileURLToPath(new URL("../../.cache/dynamodb-local", import.meta.url));

const JAVA_HINT =
  "DynamoDB Local needs a Java 17 runtime on PATH: install one, e.g. `apt-get install openjdk-17-jre-headless`.";

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function sha512Integrity(file: string): Promise<string> {
  const hash = createHash("sha512");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest("base64")}`;
}

/**
 * Makes sure the DynamoDB Local emulator is unpacked in the cache and returns its directory (the one
 * holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`). Idempotent; concurrent callers are safe: each
 * unpacks into its own temporary directory and publishes it with one atomic rename, the first wins.
 */
export async function ensureDynamoDbLocalJar(cacheDir: string = DEFAULT_CACHE_DIR): Promise<string> {
  const target = join(cacheDir, `${SIMULATOR_VERSION}-emulator`);
  const marker = join(target, ".verified");
  if (await exists(marker)) return target;
  await mkdir(cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, ".tmp-"));
  try {
    await run(
      "npm",
      ["pack", `${SIMULATOR_PACKAGE}@${SIMULATOR_VERSION}`, "--pack-destination", tmp, "--silent"],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const tarball = (await readdir(tmp)).find((f) => f.endsWith(".tgz"));
    if (!tarball)
      throw new Error(`npm pack produced no tarball for ${SIMULATOR_PACKAGE}@${SIMULATOR_VERSION}`);
    const integrity = await sha512Integrity(join(tmp, tarball));
    if (integrity !== SIMULATOR_INTEGRITY) {
      throw new Error(`Integrity mismatch for ${SIMULATOR_PACKAGE}@${SIMULATOR_VERSION}: refusing to use it`);
    }
    await run("tar", ["-xzf", join(tmp, tarball), "-C", tmp, "package/emulator"]);
    const unpacked = join(tmp, "package", "emulator");
    if (!(await exists(join(unpacked, "DynamoDBLocal.jar"))))
      throw new Error("DynamoDBLocal.jar missing in tarball");
    await writeFile(join(unpacked, ".verified"), `${SIMULATOR_INTEGRITY}\n`);
    try {
      await rename(unpacked, target);
    } catch (e) {
      // Another process published first (ENOTEMPTY/EEXIST): use theirs if it is complete.
      if (!(await exists(marker))) throw e;
    }
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Options of {@link startDynamoDbLocal}. */
export interface DynamoDbLocalOptions {
  /** Keep data in memory only. @default true unless `dataDir` is given */
  readonly inMemory?: boolean;
  /** Directory for the database file (created if missing); ignored when `inMemory` is true. */
  readonly dataDir?: string;
  /** Loopback port. @default a free one */
  readonly port?: number;
  /** Where the emulator is cached. @default DEFAULT_CACHE_DIR */
  readonly cacheDir?: string;
}

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  /** e.g. `http://127.0.0.1:54321` */
  readonly endpoint: string;
  /** Kills the process and waits for it to exit. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

async function assertJava(): Promise<void> {
  try {
    await run("java", ["-version"]);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new Error(code === "ENOENT" ? `java not found. ${JAVA_HINT}` : `java failed to run. ${JAVA_HINT}`, {
      cause: e,
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      ok();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Starts DynamoDB Local (`-sharedDb`, so every credential and region sees the same tables) on a
 * loopback port and resolves once it answers `ListTables`. Throws with install advice when `java`
 * is missing.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await assertJava();
  const emulator = await ensureDynamoDbLocalJar(options.cacheDir);
  const inMemory = options.inMemory ?? options.dataDir === undefined;
  const storage: string[] = ["-inMemory"];
  if (!inMemory) {
    const dir = resolve(options.dataDir ?? ".dynamodb-local");
    await mkdir(dir, { recursive: true });
    storage.splice(0, 1, "-dbPath", dir);
  }
  const port = options.port ?? (await freePort());
  const args = [
    `-Djava.library.path=${join(emulator, "DynamoDBLocal_lib")}`,
    "-jar",
    join(emulator, "DynamoDBLocal.jar"),
    ...storage,
    "-sharedDb",
    "-disableTelemetry",
    "-port",
    String(port),
  ];
  const child = spawn("java", args, { cwd: emulator, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (b: Buffer) => {
    output = (output + b.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let failed: Error | undefined;
  child.once("error", (e) => {
    failed = e;
  });
  const onParentExit = () => child.kill("SIGKILL");
  process.once("exit", onParentExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener("exit", onParentExit);
    await stopProcess(child);
  };
  const probe = createDynamoDbClient({ endpoint });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (failed) throw failed;
      if (child.exitCode !== null)
        throw new Error(`DynamoDB Local exited (${child.exitCode}): ${output.trim()}`);
      try {
        await listTableNames(probe);
        break;
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer on ${endpoint}`, { cause: e });
        await sleep(150);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    probe.destroy();
  }
  child.stdout?.removeListener("data", collect);
  child.stderr?.removeListener("data", collect);
  child.stdout?.resume();
  child.stderr?.resume();
  return { endpoint, stop };
}
