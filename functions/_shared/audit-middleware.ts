/**
 * Flushes the audit bus at the end of every Lambda invocation (middy `after` AND `onError`, like
 * powertools' logger), within the invocation's remaining time: what cannot be delivered before the
 * deadline is spilled, not retried. Then writes the window's audit metrics as one EMF line. Never
 * throws: a response is never changed or failed by audit.
 *
 * `withAuditFlush(handler, ...)` attaches the middleware to a handler made by `lambdaHttpHandler`
 * (a middy instance) without changing functions/_shared/lambda.ts; any other handler is wrapped.
 */
import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import type { AuditEmitter } from "../../src/audit/emitter.ts";
import type { Logger } from "../../src/shared/logger.ts";

export interface AuditFlushOptions {
  readonly emitter: AuditEmitter;
  readonly log: Logger;
  /** Write EMF metric lines. @default false */
  readonly emf?: boolean;
  /** EMF dimensions, e.g. `{ Function: "authz" }`. */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Time kept back from the Lambda deadline for the response. @default 300 */
  readonly reserveMs?: number;
  /** @default process.stdout.write */
  readonly write?: (line: string) => void;
}

/** Flushes the emitter; resolves in every case. */
export async function flushAudit(options: AuditFlushOptions, context: Context | undefined): Promise<void> {
  try {
    // Nothing queued in this invocation (reads, health): nothing to do beyond pending deliveries.
    if (options.emitter.bus.pending === 0 && !options.emf) return await options.emitter.flush();
    const remaining =
      typeof context?.getRemainingTimeInMillis === "function"
        ? context.getRemainingTimeInMillis()
        : undefined;
    const deadline =
      remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - (options.reserveMs ?? 300));
    await options.emitter.flush(deadline === undefined ? {} : { deadline });
    if (options.emf) {
      const line = options.emitter.metrics.takeEmf(Date.now(), options.dimensions ?? {});
      if (line) (options.write ?? ((l: string) => process.stdout.write(l)))(`${line}\n`);
    }
  } catch (err) {
    options.log.error("audit flush failed", { err });
  }
}

/** The middy middleware. */
export function auditFlush(options: AuditFlushOptions): MiddlewareObj {
  return {
    after: async (request) => flushAudit(options, request.context as Context),
    onError: async (request) => flushAudit(options, request.context as Context),
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
    try {
      return await handler(event, context);
    } finally {
      await flushAudit(options, context);
    }
  };
  return wrapped as unknown as H;
}
