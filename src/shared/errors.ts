/**
 * Domain errors. Domain code throws these; each protocol edge (problem+json, OpenFGA, OAuth, SCIM)
 * maps them once. `detail` is safe to show to a caller; `cause` is for logs only.
 */
export type DomainErrorCode =
  | "validation"
  | "not_found"
  | "conflict"
  | "unauthenticated"
  | "forbidden"
  | "payload_too_large"
  | "unsupported_media_type"
  | "method_not_allowed"
  | "rate_limited"
  | "unavailable";

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly detail: string;
  /** Field-level problems, safe to show (e.g. from schema validation). */
  readonly errors: readonly { path: string; message: string }[] | undefined;

  constructor(
    code: DomainErrorCode,
    detail: string,
    options?: { cause?: unknown; errors?: readonly { path: string; message: string }[] },
  ) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.detail = detail;
    this.errors = options?.errors;
  }
}

export const validationError = (detail: string, errors?: { path: string; message: string }[]) =>
  new DomainError("validation", detail, errors ? { errors } : undefined);
export const notFound = (detail: string) => new DomainError("not_found", detail);
export const conflict = (detail: string) => new DomainError("conflict", detail);
export const unauthenticated = (detail = "Missing or invalid credentials.") =>
  new DomainError("unauthenticated", detail);
export const forbidden = (detail = "Not allowed.") => new DomainError("forbidden", detail);
