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
 * The file descriptor audit lines and held log lines are written to. Standard output's file
 * description is shared with `process.stdout`, which Node switches to non-blocking the first time
 * anything touches it (pipes and sockets alike); then a `write(2)` may take part of a chunk or fail
 * with `EAGAIN` whenever the reader is behind. When standard output is a FIFO, it is opened again
 * (`/proc/self/fd/1`): a description of our own on the same pipe stays blocking, each write goes
 * out whole, in order with every other writer's. Otherwise (a socket, which cannot be reopened; a
 * file; a terminal; no `/proc`) fd 1 is used as it is, and {@link writeStdout} waits out `EAGAIN`.
 */
let target: number | undefined;
export function stdoutFd(): number {
  if (target === undefined) {
    target = 1;
    try {
      if (fs.fstatSync(1).isFIFO()) target = fs.openSync("/proc/self/fd/1", "w");
    } catch {
      // no /proc, or not reopenable: fd 1 itself
    }
  }
  return target;
}

/**
 * How long a write waits in all for a full non-blocking pipe before it gives up (and the audit
 * lines are spilled): a reader that takes a whole pipe's worth no faster is not reading.
 */
export const MAX_WAIT_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** A write that failed after part of a line went out: the next one starts on a new line. */
let torn = false;

/**
 * Writes `chunk` whole to standard output with `write(2)`: synchronous, so a failure throws here
 * (a stream's `write` reports it later, as an `error` event). A short write goes on with the rest;
 * `EAGAIN` (a non-blocking pipe that is full) is waited out, 1 ms at a time, up to
 * {@link MAX_WAIT_MS} in all; then, or on any other error (`EPIPE`), it throws, and the caller
 * spills what it wrote. If part of the chunk went out before the failure, the next write starts
 * with a newline, so the line cut short stays alone (the forwarder rejects it, counted) and the
 * next line is whole.
 */
export function writeStdout(chunk: string): void {
  const fd = stdoutFd();
  const text = torn ? `\n${chunk}` : chunk;
  torn = false;
  let buf: Buffer | undefined;
  let off = 0;
  let waited = 0;
  for (;;) {
    try {
      if (buf === undefined) {
        off = fs.writeSync(fd, text);
        const bytes = Buffer.byteLength(text);
        if (off === bytes) return;
        buf = Buffer.from(text);
      } else {
        off += fs.writeSync(fd, buf, off);
        if (off === buf.length) return;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || waited >= MAX_WAIT_MS) {
        torn = off > 0;
        throw err;
      }
      buf ??= Buffer.from(text);
      Atomics.wait(pause, 0, 0, 1);
      waited++;
    }
  }
}

/** Most text held before it is written anyway (a handler that logs a lot at info level). */
export const MAX_HELD_CHARS = 64 * 1024;

/** Time before an invocation's deadline at which what it holds is written anyway. */
const DEADLINE_RESERVE_MS = 200;

export class InvocationOutput {
  #held = "";
  #holding = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #write: (chunk: string) => void;

  /** @param write a synchronous write that throws when it fails. @default {@link writeStdout} */
  constructor(write: (chunk: string) => void = writeStdout) {
    this.#write = write;
  }

  /**
   * The start of an invocation: routine lines are held until {@link release}. What an earlier
   * invocation still held (it never reached its end) is written first. With the invocation's
   * `deadline` (epoch ms), what is held is written shortly before it, should the invocation run
   * into its timeout.
   */
  hold(deadline?: number): void {
    if (this.#held !== "") this.#tryRelease("");
    this.#holding = true;
    clearTimeout(this.#timer);
    this.#timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => this.#tryRelease(""), Math.max(0, deadline - Date.now() - DEADLINE_RESERVE_MS));
    this.#timer?.unref();
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
    if (!this.#holding && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
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
