import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { requestFromEvent, resultFromResponse } from "../../src/http/event.ts";
import type { ErrorRenderer } from "../../src/http/problem.ts";
import type { Dispatch } from "../../src/http/router.ts";
import type { HttpRequest } from "../../src/http/types.ts";
import type { Logger } from "../../src/shared/logger.ts";

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LambdaHandlerOptions {
  readonly dispatch: Dispatch;
  readonly renderError: ErrorRenderer;
  readonly log: Logger;
  readonly bodyLimit: number;
}

/** A request stand-in for rendering errors raised before the request could be parsed. */
function bareRequest(event: APIGatewayProxyEventV2, requestId: string): HttpRequest {
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers: {},
    query: {},
    body: undefined,
    requestId,
    sourceIp: event.requestContext.http.sourceIp,
  };
}

/**
 * `log.child({ request_id })`, made on first use: most requests log nothing but their access line,
 * and a child logger per request is a measurable share of a cached check.
 */
class RequestLogger implements Logger {
  readonly #log: Logger;
  readonly #requestId: string;
  #child: Logger | undefined;

  constructor(log: Logger, requestId: string) {
    this.#log = log;
    this.#requestId = requestId;
  }

  #get(): Logger {
    this.#child ??= this.#log.child({ request_id: this.#requestId });
    return this.#child;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#get().debug(msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#get().info(msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#get().warn(msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#get().error(msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return this.#get().child(fields);
  }
}

/**
 * The Lambda handler of one API group: middy, API Gateway HTTP API payload 2.0 in and out.
 * Parses the event (body limit → 413), dispatches, and writes one access-log line per request.
 * `onError` is the last safety net: a generic 500 with nothing internal in it.
 */
export function lambdaHttpHandler(options: LambdaHandlerOptions): LambdaHttpHandler {
  const { dispatch, renderError, log, bodyLimit } = options;
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use({
      onError: async (request) => {
        const requestId = request.event.requestContext?.requestId ?? "unknown";
        log.error("handler failed", { request_id: requestId, err: request.error });
        request.response = resultFromResponse(
          renderError(new Error("unhandled"), bareRequest(request.event, requestId), log),
          requestId,
        );
      },
    })
    .handler(async (event) => {
      const started = performance.now();
      const requestId = event.requestContext.requestId;
      const rlog = new RequestLogger(log, requestId);
      let res: Awaited<ReturnType<Dispatch>>;
      let req: HttpRequest | undefined;
      try {
        req = requestFromEvent(event, { bodyLimit });
      } catch (err) {
        res = renderError(err, bareRequest(event, requestId), rlog);
      }
      if (req) res = await dispatch(req, rlog);
      const result = resultFromResponse(res!, requestId);
      // The access line: the same line `rlog.info` writes (a child's fields come first), without
      // making the child logger for it.
      log.info("request", {
        request_id: requestId,
        method: event.requestContext.http.method,
        path: event.rawPath,
        status: result.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
      });
      return result;
    }) as unknown as LambdaHttpHandler;
}
