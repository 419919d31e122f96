import { z } from "zod";
import { DomainError, validationError } from "../shared/errors.ts";
import type { HttpRequest } from "./types.ts";

/** Zod issues as safe `{path, message}` pairs (never echoes the input value). */
export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: i.path.length ? `/${i.path.map(String).join("/")}` : "/",
    message: i.message,
  }));
}

/** Parses with a schema, throwing a `validation` DomainError listing every problem. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = "Request body",
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(`${what} is invalid.`, issuesOf(r.error));
  return r.data;
}

/** Parses a JSON request body (must be `application/json`) and validates it. */
export function parseJsonBody<S extends z.ZodType>(req: HttpRequest, schema: S): z.output<S> {
  const ct = req.headers["content-type"];
  if (
    req.body !== undefined &&
    req.body !== "" &&
    ct !== undefined &&
    !/^application\/([\w.+-]+\+)?json\b/i.test(ct)
  ) {
    throw new DomainError("unsupported_media_type", "Send the body as application/json.");
  }
  let value: unknown;
  if (req.body === undefined || req.body === "") value = undefined;
  else {
    try {
      value = JSON.parse(req.body);
    } catch {
      throw validationError("Request body is not valid JSON.");
    }
  }
  if (value === undefined) throw validationError("Request body is required.");
  return parseWith(schema, value);
}

/** Page size query parameter: 1..max, default `dflt`. */
export const pageSizeSchema = (max: number, dflt: number) =>
  z.coerce.number().int().min(1).max(max).default(dflt);
