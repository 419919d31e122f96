/**
 * Captures what a piece of code writes to standard output, in order, through `process.stdout.write`
 * (the logger, EMF lines) and through `fs.writeSync` on standard output (audit lines and held log
 * lines, src/shared/stdout.ts `writeStdout`); nothing reaches the real standard output.
 * `failWrite` makes the matching `fs.writeSync` calls fail as `write(2)` does (e.g. `EPIPE`).
 */
import fs from "node:fs";
import { vi } from "vitest";
import { stdoutFd } from "../../src/shared/stdout.ts";

export interface CaptureOptions {
  readonly failWrite?: (chunk: string) => NodeJS.ErrnoException | undefined;
}

/** What `f` writes to standard output, line by line. */
export async function captureStdout(
  f: () => Promise<unknown>,
  options: CaptureOptions = {},
): Promise<string[]> {
  return (await captureWrites(f, options)).join("").split("\n").filter(Boolean);
}

/** What `f` writes to standard output, write by write. */
export async function captureWrites(
  f: () => Promise<unknown>,
  options: CaptureOptions = {},
): Promise<string[]> {
  const writes: string[] = [];
  const stream = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    writes.push(String(chunk));
    return true;
  });
  const real = fs.writeSync;
  const out = stdoutFd();
  const sync = vi.spyOn(fs, "writeSync").mockImplementation(((
    fd: number,
    data: unknown,
    offset?: unknown,
    ...rest: unknown[]
  ) => {
    if (fd !== 1 && fd !== out) return (real as (...a: unknown[]) => number)(fd, data, offset, ...rest);
    const chunk =
      typeof data === "string"
        ? data
        : Buffer.from(data as Uint8Array)
            .subarray(typeof offset === "number" ? offset : 0)
            .toString("utf8");
    const err = options.failWrite?.(chunk);
    if (err) throw err;
    writes.push(chunk);
    return Buffer.byteLength(chunk);
  }) as typeof fs.writeSync);
  try {
    await f();
  } finally {
    stream.mockRestore();
    sync.mockRestore();
  }
  return writes;
}
