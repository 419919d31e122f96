/**
 * Flushes the audit bus at the end of every Lambda invocation (middy `after` AND `onError`, like
 * powertools' logger), within the invocation's remaining time: what cannot be delivered before the
 * deadline is spilled, not retried. Then writes the window's audit metrics as one EMF line. Never
 * throws: a response is never changed or failed by audit.
 *
 * With the audit extension active (functions/_shared/audit-extension.ts, `PORTCULLIS_AUDIT_FLUSH=
 * after-response` in Lambda), `after`/`onError` only tell the extension "the handler of this request
 * is done" and return at once: the extension flushes after the response went out, still inside the
 * invocation. Otherwise (not in Lambda, registration failed, extension passive, failed or stopped:
 * `active` is false) it flushes here.
 *
 * `withAuditFlush(handler, ...)` attaches the middleware to a handler made by `lambdaHttpHandler`
 * (a middy instance) without changing functions/_shared/lambda.ts; any other handler is wrapped.
 */
import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import type { AuditEmitter } from "../../src/audit/emitter.ts";
import { EXCEPTION_METRICS } from "../../src/audit/metrics.ts";
import type { Logger } from "../../src/shared/logger.ts";
import type { InvocationOutput } from "../../src/shared/stdout.ts";

export interface AuditFlushOptions {
  readonly emitter: AuditEmitter;
  readonly log: Logger;
  /**
   * Write EMF metric lines: `true` at the end of every invocation that counted something;
   * `"exceptions"` only when an {@link EXCEPTION_METRICS} counter moved (the `log` transport, whose
   * forwarder counts the rest). @default false
   */
  readonly emf?: boolean | "exceptions";
  /** EMF dimensions, e.g. `{ Function: "authz" }`. */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Time kept back from the Lambda deadline for the response. @default 300 */
  readonly reserveMs?: number;
  /** Where EMF lines go. @default `output`'s routine lines, else process.stdout.write */
  readonly write?: (line: string) => void;
  /**
   * The function's standard output, written once per invocation (src/shared/stdout.ts): held from
   * the invocation's start (`before`), released at its end, after the flush.
   */
  readonly output?: InvocationOutput;
  /**
   * The audit extension, when one is registered: if it is active, the middleware signals it
   * instead of flushing (functions/_shared/audit-extension.ts).
   */
  readonly extension?: HandlerDoneSink;
}

/** What the middleware tells the audit extension. */
export interface HandlerDoneSink {
  /** Whether the extension flushes after the response (else the middleware flushes). */
  readonly active: boolean;
  /** The handler of Lambda request `requestId` (`context.awsRequestId`) finished. */
  handlerDone(requestId: string): void;
}

/** Rounds of flushing while events keep arriving during a flush (an `onError` path, late emitters). */
const MAX_FLUSH_ROUNDS = 3;

/**
 * Flushes the emitter until `deadline` (epoch ms; remaining events are spilled rather than retried
 * past it), then writes the EMF line. Resolves in every case.
 */
export async function flushAuditUntil(
  options: AuditFlushOptions,
  deadline: number | undefined,
): Promise<void> {
  try {
    const { emitter } = options;
    // Nothing queued in this invocation (reads, health): nothing to do beyond pending deliveries.
    if (emitter.pending === 0 && !options.emf) return await emitter.flush();
    let round = 0;
    do await emitter.flush(deadline === undefined ? {} : { deadline });
    while (
      emitter.pending > 0 &&
      ++round < MAX_FLUSH_ROUNDS &&
      (deadline === undefined || Date.now() < deadline)
    );
    if (options.emf) writeEmf(options);
  } catch (err) {
    options.log.error("audit flush failed", { err });
  }
}

/** Writes the window's audit metrics as one EMF line, if anything (that is reported) moved. */
function writeEmf(options: AuditFlushOptions): void {
  const m = options.emitter.metrics;
  const exceptionsOnly = options.emf === "exceptions";
  if (exceptionsOnly && !m.hasExceptions()) return;
  const line = m.takeEmf(
    Date.now(),
    options.dimensions ?? {},
    exceptionsOnly ? EXCEPTION_METRICS : undefined,
  );
  if (!line) return;
  if (options.write) options.write(`${line}\n`);
  else if (options.output) options.output.line(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

const DONE: Promise<void> = Promise.resolve();

/** Flushes the emitter within the invocation's remaining time; resolves in every case. */
export function flushAudit(options: AuditFlushOptions, context: Context | undefined): Promise<void> {
  if (options.emitter.byTurn) {
    // Batched by event-loop turn (a long-running server): the emitter delivers at the turn's end;
    // with EMF lines, a flush per request (below), as before.
    if (!options.emf) return DONE;
  } else {
    // The in-process and log-line buses deliver synchronously: no promise per request.
    try {
      if (options.emitter.flushSync()) {
        if (options.emf) writeEmf(options);
        return DONE;
      }
    } catch (err) {
      options.log.error("audit flush failed", { err });
      return DONE;
    }
  }
  const remaining =
    typeof context?.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : undefined;
  const deadline =
    remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - (options.reserveMs ?? 300));
  return flushAuditUntil(options, deadline);
}

/**
 * End of the handler of one invocation: signal the active extension (returns at once, the flush
 * happens after the response), else flush now. Resolves in every case.
 */
export function endOfInvocation(options: AuditFlushOptions, context: Context | undefined): Promise<void> {
  const ext = options.extension;
  const requestId = context?.awsRequestId;
  if (ext?.active && typeof requestId === "string" && requestId !== "") {
    try {
      ext.handlerDone(requestId);
      return Promise.resolve();
    } catch (err) {
      options.log.error("audit extension signal failed", { err });
    }
  }
  return flushAudit(options, context);
}

/** The invocation's deadline (epoch ms), when the context tells it. */
const deadlineOf = (context: Context | undefined): number | undefined =>
  typeof context?.getRemainingTimeInMillis === "function"
    ? Date.now() + context.getRemainingTimeInMillis()
    : undefined;

/** Writes what the invocation's output holds (its end). Never throws. */
function release(output: InvocationOutput): void {
  try {
    output.release();
  } catch {
    // Standard output is gone: there is nowhere left to log that.
  }
}

/** The end of an invocation: flush (or signal the extension), then release the output. */
function endWithOutput(options: AuditFlushOptions, context: Context | undefined): Promise<void> {
  const done = endOfInvocation(options, context);
  const { output } = options;
  if (!output) return done;
  if (done === DONE) {
    release(output);
    return DONE;
  }
  return done.then(() => release(output));
}

/** The middy middleware. */
export function auditFlush(options: AuditFlushOptions): MiddlewareObj {
  const { output } = options;
  return {
    ...(output ? { before: (request) => output.hold(deadlineOf(request.context as Context)) } : {}),
    after: (request) => endWithOutput(options, request.context as Context),
    onError: (request) => endWithOutput(options, request.context as Context),
  };
}

/** Attaches {@link auditFlush} to a handler (middy instance) or wraps a plain handler. */
export function withAuditFlush<H extends (event: never, context: Context) => Promise<unknown>>(
  handler: H,
  options: AuditFlushOptions,
): H {
  const m = handler as unknown as { use?: (mw: MiddlewareObj) => unknown };
  if (typeof m.use === "function") {
    m.use(auditFlush(options));
    return handler;
  }
  const wrapped = async (event: never, context: Context) => {
    options.output?.hold(deadlineOf(context));
    try {
      return await handler(event, context);
    } finally {
      await endWithOutput(options, context);
    }
  };
  return wrapped as unknown as H;
}
