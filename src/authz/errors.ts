/**
 * Caller-facing errors of the authorization module. Every refusal is one `AuthzError` carrying
 * OpenFGA's numeric error code and name (so the HTTP layer can render `{code, message}` with the right
 * status without knowing the engine) and a message that is safe to show: it names types, relations and
 * tuples of the caller's own request, never store internals.
 */
import { DomainError, type DomainErrorCode } from "../shared/errors.ts";

/** OpenFGA error names by numeric code (the subset this module produces). */
export const OPENFGA_ERRORS = {
  validation_error: 2000,
  authorization_model_not_found: 2001,
  authorization_model_resolution_too_complex: 2002,
  invalid_write_input: 2003,
  cannot_allow_duplicate_tuples_in_one_request: 2004,
  invalid_continuation_token: 2007,
  write_failed_due_to_invalid_input: 2017,
  latest_authorization_model_not_found: 2020,
  type_not_found: 2021,
  relation_not_found: 2022,
  invalid_tuple: 2027,
  assertions_too_many_items: 2033,
  page_size_invalid: 2039,
  query_string_type_continuation_token_mismatch: 2052,
  exceeded_entity_limit: 2053,
  invalid_authorization_model: 2056,
  unsupported_schema_version: 2057,
  invalid_start_time: 2059,
  store_id_not_found: 5002,
  internal_error: 4000,
  deadline_exceeded: 4004,
  /** gRPC `Aborted` (HTTP 409): transaction conflict, or a condition mismatch under `on_duplicate: ignore`. */
  Aborted: 10,
} as const;

export type OpenFgaErrorName = keyof typeof OPENFGA_ERRORS;

/** HTTP status OpenFGA uses for a code (see the API reference, section 2). */
export function openFgaHttpStatus(name: OpenFgaErrorName): number {
  if (name === "Aborted") return 409;
  const code = OPENFGA_ERRORS[name];
  if (code >= 5000) return 404;
  if (code >= 4000) return 500;
  if (code >= 3500) return 422;
  if (code >= 2000) return 400;
  return 401;
}

function domainCodeOf(name: OpenFgaErrorName): DomainErrorCode {
  if (name === "Aborted") return "conflict";
  if (name === "store_id_not_found") return "not_found";
  if (name === "deadline_exceeded" || name === "internal_error") return "unavailable";
  return "validation";
}

/**
 * The one error class of the module. `openfgaCode`/`openfgaName` are OpenFGA's error enum (e.g. 2000
 * `validation_error`); `detail` (= `message`) is safe to show to the caller.
 */
export class AuthzError extends DomainError {
  readonly openfgaCode: number;
  readonly openfgaName: OpenFgaErrorName;
  readonly httpStatus: number;

  constructor(name: OpenFgaErrorName, message: string, options?: { cause?: unknown }) {
    super(domainCodeOf(name), message, options);
    this.name = "AuthzError";
    this.openfgaName = name;
    this.openfgaCode = OPENFGA_ERRORS[name];
    this.httpStatus = openFgaHttpStatus(name);
  }

  /** OpenFGA's HTTP error body. */
  toJSON(): { code: string; message: string } {
    return { code: this.openfgaName, message: this.detail };
  }
}

export const validationError = (message: string) => new AuthzError("validation_error", message);
export const invalidTuple = (message: string) => new AuthzError("invalid_tuple", message);
export const invalidModel = (message: string) => new AuthzError("invalid_authorization_model", message);
export const resolutionTooComplex = () =>
  new AuthzError(
    "authorization_model_resolution_too_complex",
    "Authorization Model resolution required too many rewrite rules to be resolved. Try simplifying your authorization model.",
  );
export const invalidContinuationToken = () =>
  new AuthzError("invalid_continuation_token", "Invalid continuation token.");

export const isAuthzError = (e: unknown): e is AuthzError => e instanceof AuthzError;
