/**
 * InvocationOutput (src/shared/stdout.ts): an invocation's routine lines held and written with its
 * end in one write; urgent lines at once, after what is held; a failed release throws to its caller.
 */
import { describe, expect, it } from "vitest";
import { InvocationOutput, MAX_HELD_CHARS } from "../../../src/shared/stdout.ts";

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
