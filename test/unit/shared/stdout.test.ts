/**
 * InvocationOutput (src/shared/stdout.ts): an invocation's routine lines held and written with its
 * end in one write; urgent lines at once, after what is held; a failed release throws to its caller.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  InvocationOutput,
  MAX_HELD_CHARS,
  MAX_WAIT_MS,
  stdoutFd,
  writeStdout,
} from "../../../src/shared/stdout.ts";

const recorder = () => {
  const writes: string[] = [];
  let fail: Error | undefined;
  const out = new InvocationOutput((chunk) => {
    if (fail) throw fail;
    writes.push(chunk);
  });
  return { out, writes, failWith: (e: Error | undefined) => (fail = e) };
};

describe("InvocationOutput", () => {
  it("outside an invocation, writes each line as it comes", () => {
    const { out, writes } = recorder();
    out.line("a\n");
    out.line("b\n");
    expect(writes).toEqual(["a\n", "b\n"]);
  });

  it("holds an invocation's routine lines and writes them with what its end adds, in one write", () => {
    const { out, writes } = recorder();
    out.hold();
    out.line("access\n");
    out.line("debug\n");
    expect(writes).toEqual([]);
    out.release("audit\n", true);
    expect(writes).toEqual(["access\ndebug\naudit\n"]);
    out.line("emf\n"); // still holding (keepHolding)
    out.release();
    expect(writes).toEqual(["access\ndebug\naudit\n", "emf\n"]);
    out.line("after\n"); // the invocation is over
    expect(writes.at(-1)).toBe("after\n");
    out.release(); // nothing held: no empty write
    expect(writes).toHaveLength(3);
  });

  it("an urgent line goes out at once, after what is held, and holding goes on", () => {
    const { out, writes } = recorder();
    out.hold();
    out.line("info\n");
    out.urgent("error\n");
    expect(writes).toEqual(["info\nerror\n"]);
    out.line("later\n");
    expect(writes).toHaveLength(1);
    out.release();
    expect(writes).toEqual(["info\nerror\n", "later\n"]);
  });

  it("holds at most MAX_HELD_CHARS: past it, what is held goes out with the line", () => {
    const { out, writes } = recorder();
    out.hold();
    const big = `${"x".repeat(MAX_HELD_CHARS - 10)}\n`;
    out.line(big);
    out.line("0123456789abc\n");
    expect(writes).toEqual([`${big}0123456789abc\n`]);
  });

  it("an invocation that never reaches its end: what it held goes out at the next one's start, or just before its deadline", async () => {
    const { out, writes } = recorder();
    out.hold();
    out.line("lost?\n");
    out.hold(); // the next invocation, the previous one having been cut short
    expect(writes).toEqual(["lost?\n"]);
    out.line("slow\n");
    out.hold(Date.now() + 250); // 200 ms are kept back from the deadline
    out.line("held\n");
    expect(writes).toEqual(["lost?\n", "slow\n"]);
    await new Promise((r) => setTimeout(r, 120));
    expect(writes).toEqual(["lost?\n", "slow\n", "held\n"]);
    out.line("more\n"); // still the same invocation: held again
    expect(writes).toHaveLength(3);
    out.release();
    expect(writes.at(-1)).toBe("more\n");
  });

  it("a release that fails throws to its caller (who must not lose what it wrote); routine and urgent lines never throw", () => {
    const { out, writes, failWith } = recorder();
    out.hold();
    out.line("access\n");
    failWith(Object.assign(new Error("EPIPE"), { code: "EPIPE" }));
    expect(() => out.release("audit\n")).toThrow("EPIPE");
    expect(() => out.urgent("error\n")).not.toThrow();
    expect(() => out.line("info\n")).not.toThrow();
    failWith(undefined);
    out.line("next\n");
    expect(writes).toEqual(["next\n"]);
  });
});

describe("writeStdout", () => {
  /** `fs.writeSync` on standard output answered by `answers` in turn (bytes taken, or an error code). */
  function withWrites(answers: (number | string)[], f: () => void) {
    const taken: Buffer[] = [];
    const fd = stdoutFd();
    const spy = vi.spyOn(fs, "writeSync").mockImplementation(((
      to: number,
      data: string | Buffer,
      off?: number,
    ) => {
      expect(to).toBe(fd);
      const answer = answers.length > 0 ? answers.shift() : undefined;
      if (typeof answer === "string") {
        if (answer === "EAGAIN*") answers.unshift(answer); // for ever
        throw Object.assign(new Error(answer), { code: answer.replace("*", "") });
      }
      const buf = typeof data === "string" ? Buffer.from(data) : data.subarray(off ?? 0);
      const n = Math.min(answer ?? buf.length, buf.length);
      taken.push(buf.subarray(0, n));
      return n;
    }) as typeof fs.writeSync);
    try {
      f();
    } finally {
      spy.mockRestore();
    }
    return Buffer.concat(taken).toString("utf8");
  }

  it("writes everything: after a short write (multi-byte text included) and EAGAIN, on the first call too", () => {
    const chunk = `${"é".repeat(3000)}€\n`;
    expect(withWrites([1001, "EAGAIN", 2000], () => writeStdout(chunk))).toBe(chunk);
    expect(withWrites(["EAGAIN", "EAGAIN", 3], () => writeStdout("line\n"))).toBe("line\n");
  });

  it("throws what write(2) throws (EPIPE), and EAGAIN once it has waited MAX_WAIT_MS; the next write starts on a new line", () => {
    expect(() => withWrites(["EPIPE"], () => writeStdout("line\n"))).toThrow("EPIPE");
    // Nothing went out: the next write is as it is.
    expect(withWrites([], () => writeStdout("a\n"))).toBe("a\n");
    const t0 = performance.now();
    expect(() => withWrites([3, "EAGAIN*"], () => writeStdout("cut short\n"))).toThrow("EAGAIN");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(MAX_WAIT_MS * 0.9);
    // "cut" went out: the next write ends that line first, so its own first line is whole.
    expect(withWrites([], () => writeStdout("next\n"))).toBe("\nnext\n");
    expect(withWrites([], () => writeStdout("after\n"))).toBe("after\n");
  });

  /**
   * Runs a child that touches process.stdout (which makes standard output non-blocking), then
   * writes 1 MiB in one writeStdout, with standard output `stdout`; reads it, pausing for
   * `pauseMs` once the child has started writing. Resolves to what was read, and the exit code.
   */
  async function childWriting(stdout: "pipe" | number, pauseMs: number, readable?: NodeJS.ReadableStream) {
    const script = [
      `import { writeStdout } from ${JSON.stringify(new URL("../../../src/shared/stdout.ts", import.meta.url).href)};`,
      `process.stdout.write("start\\n");`,
      `writeStdout("x".repeat(1024 * 1024) + "\\n");`,
      `process.stdout.write("end\\n");`,
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", stdout, "inherit"],
    });
    const from = readable ?? child.stdout!;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      from.on("data", (c: Buffer) => {
        chunks.push(c);
        if (chunks.length === 1) {
          from.pause();
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, pauseMs)); // the pipe fills up meanwhile
    from.resume();
    const [code] = (await once(child, "exit")) as [number];
    await new Promise((r) => setTimeout(r, 50)); // the last chunks
    return { code, text: Buffer.concat(chunks).toString("utf8") };
  }
  const expected = `start\n${"x".repeat(1024 * 1024)}\nend\n`;

  it("on a socket pair that Node made non-blocking (a child's piped stdout), a write larger than the buffer waits for the reader", async () => {
    const { code, text } = await childWriting("pipe", MAX_WAIT_MS / 2);
    expect(code).toBe(0);
    expect(text).toBe(expected);
  }, 30_000);

  it("on a FIFO, standard output is opened again, blocking: the write waits for the reader as long as it takes", async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), "portcullis-fifo-"));
    const fifo = join(dir, "out");
    execFileSync("mkfifo", [fifo]);
    try {
      // Read-write, so that opening it waits for no reader (then the reader's open waits for no writer).
      const fd = fs.openSync(fifo, "r+");
      const reader = fs.createReadStream(fifo);
      try {
        // Longer than writeStdout would wait on a non-blocking descriptor.
        const { code, text } = await childWriting(fd, MAX_WAIT_MS * 1.5, reader);
        expect(code).toBe(0);
        expect(text).toBe(expected);
      } finally {
        fs.closeSync(fd);
        reader.destroy();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
