/**
 * Standard output of a Lambda function: one write per invocation.
 *
 * Each write to standard output is a system call (~20 µs on a busy virtual machine), and an
 * emitting function writes at least two per invocation: its access log line and, with the `log`
 * audit transport, its audit lines. {@link InvocationOutput} holds the routine lines (info, debug)
 * of an invocation and writes them together with the audit lines at its end, in one write; lines
 * at warn and error level go out at once, after what is held (order kept). Used by the Lambda
 * entries only (functions/_shared/from-env.ts); the local server writes as it goes.
 */
import fs from "node:fs";

/**
 * Writes `chunk` whole to standard output (fd 1) with `write(2)`: synchronous, so a failure throws
 * here (a stream's `write` would report it later, as an `error` event). A short write (a pipe whose
 * reader is behind) goes on with the rest; a pipe that stays full (`EAGAIN`) throws after a few
 * tries. Written to fd 1 directly rather than through `process.stdout`: the same file, and no
 * stream machinery per invocation.
 */
export function writeStdout(chunk: string): void {
  const first = fs.writeSync(1, chunk);
  if (first === Buffer.byteLength(chunk)) return;
  const buf = Buffer.from(chunk);
  let off = first;
  for (let again = 0; off < buf.length; ) {
    try {
      off += fs.writeSync(1, buf, off);
      again = 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || ++again > 3) throw err;
    }
  }
}

/** Most text held before it is written anyway (a handler that logs a lot at info level). */
export const MAX_HELD_CHARS = 64 * 1024;

export class InvocationOutput {
  #held = "";
  #holding = false;
  readonly #write: (chunk: string) => void;

  /** @param write a synchronous write that throws when it fails. @default {@link writeStdout} */
  constructor(write: (chunk: string) => void = writeStdout) {
    this.#write = write;
  }

  /** The start of an invocation: routine lines are held until {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  /** A routine line: held during an invocation, else written now (a failure is not the caller's). */
  line(text: string): void {
    if (this.#holding && this.#held.length + text.length <= MAX_HELD_CHARS) this.#held += text;
    else this.#tryRelease(text);
  }

  /** A line that must not wait (warn, error): written now, after what is held. Never throws. */
  urgent(text: string): void {
    this.#tryRelease(text);
  }

  /**
   * Writes what is held, then `text`, in one write, and holds nothing until the next {@link hold}
   * (or, with `keepHolding`, goes on holding). Throws what the write throws: the caller of a write
   * that must not be lost (audit lines) then spills them; what was held is dropped.
   */
  release(text = "", keepHolding = false): void {
    const chunk = this.#held + text;
    this.#held = "";
    this.#holding = keepHolding && this.#holding;
    if (chunk !== "") this.#write(chunk);
  }

  #tryRelease(text: string): void {
    try {
      this.release(text, true);
    } catch {
      // Standard output is gone: there is nowhere left to log that.
    }
  }
}
