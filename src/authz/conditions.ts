/**
 * OpenFGA relationship conditions: CEL expressions over typed parameters, compiled once per model
 * and evaluated against the merged request and tuple context on the Check/List hot path.
 *
 * Built on `@marcbachmann/cel-js`. Each condition gets its own clone of a shared environment with
 * its parameters declared as typed variables; the expression is parsed and type-checked once (the
 * checked AST is reused by every evaluation, so evaluation does not re-check).
 *
 * Evaluation cost: OpenFGA stops an evaluation after 100 CEL cost units. The library has no cost
 * accounting, so that limit is approximated by bounding every input instead:
 * - the expression is at most 512 bytes, and parse limits (`maxAstNodes`, `maxDepth`, literal
 *   sizes) apply;
 * - a context value has at most {@link MAX_COLLECTION_ELEMENTS} elements (nested ones included);
 * - an expression with two or more comprehensions (`all`, `exists`, `map`, …) fails with a cost
 *   error when (input size) ^ (number of comprehensions) exceeds
 *   {@link MAX_COMPREHENSION_ITERATIONS}, the input size being the elements and string lengths of
 *   the context values plus the literal elements of the expression.
 * These bounds are looser than OpenFGA's, so anything OpenFGA evaluates, we evaluate too.
 */
import { EvaluationError, type ParseResult } from "@marcbachmann/cel-js";
import { DomainError } from "../shared/errors.ts";
import { analyse, baseEnvironment, CelFunctionError } from "./conditions/cel-env.ts";
import {
  ConversionError,
  type Converter,
  MAX_COLLECTION_ELEMENTS,
  type Meter,
  resolveParamType,
  UnsupportedTypeError,
} from "./conditions/convert.ts";
import { MalformedCidrError } from "./conditions/ip.ts";
import type { Condition } from "./model.ts";

export { MAX_COLLECTION_ELEMENTS };

/** Longest accepted expression, in UTF-8 bytes (OpenFGA's limit). */
export const MAX_EXPRESSION_BYTES = 512;
/** Most parameters a condition may declare (OpenFGA's limit). */
export const MAX_PARAMETERS = 25;
/** Bound on (input size) ^ (comprehension count); see the module comment. */
export const MAX_COMPREHENSION_ITERATIONS = 1_000_000;

/** A condition in a model is invalid; the model must be rejected (`invalid_authorization_model`). */
export class ConditionCompileError extends DomainError {
  readonly conditionName: string;
  /** The message without the `condition "name": ` prefix. */
  readonly reason: string;
  constructor(conditionName: string, reason: string, options?: { cause?: unknown }) {
    super("validation", `condition "${conditionName}": ${reason}`, options);
    this.name = "ConditionCompileError";
    this.conditionName = conditionName;
    this.reason = reason;
  }
}

/** A condition could not be evaluated for a tuple (`validation_error`, code 2000). */
export class ConditionEvaluationError extends DomainError {
  readonly conditionName: string;
  /** The message without the `failed to evaluate relationship condition 'name': ` prefix. */
  readonly reason: string;
  constructor(conditionName: string, reason: string, options?: { cause?: unknown }) {
    super("validation", `failed to evaluate relationship condition '${conditionName}': ${reason}`, options);
    this.name = "ConditionEvaluationError";
    this.conditionName = conditionName;
    this.reason = reason;
  }
}

type Context = Readonly<Record<string, unknown>>;

export interface CompiledCondition {
  readonly name: string;
  /** Declared parameter names, in declaration order. */
  readonly parameters: readonly string[];
  /** Evaluates against an (already merged) context; throws {@link ConditionEvaluationError}. */
  evaluate(context: Context): boolean;
  /**
   * Same as `evaluate(mergeContext(request, tuple))`, without building the merged object.
   * Throws {@link ConditionEvaluationError}.
   */
  evaluateWith(request: Context | undefined, tuple: Context | undefined): boolean;
}

/**
 * Compile every condition of a model once (at model-write time and when the model is loaded into
 * the cache). Throws {@link ConditionCompileError} on the first bad one.
 */
export function compileConditions(
  conditions: Readonly<Record<string, Condition>> | undefined,
): ReadonlyMap<string, CompiledCondition> {
  const out = new Map<string, CompiledCondition>();
  if (conditions === undefined) return out;
  for (const key of Object.keys(conditions)) out.set(key, compileCondition(key, conditions[key]!));
  return out;
}

/** Merge request context and the tuple's stored context; the tuple's value wins on a key clash. */
export function mergeContext(
  request: Context | undefined,
  tuple: Context | undefined,
): Record<string, unknown> {
  return { ...request, ...tuple };
}

const IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** Compiles one condition stored under `key`; throws {@link ConditionCompileError}. */
export function compileCondition(key: string, condition: Condition): CompiledCondition {
  const fail = (reason: string, cause?: unknown): never => {
    throw new ConditionCompileError(key, reason, cause === undefined ? undefined : { cause });
  };
  if (condition.name !== key) fail(`condition key does not match the condition name "${condition.name}"`);
  const expression: unknown = condition.expression;
  if (typeof expression !== "string" || expression.trim() === "") return fail("expression is empty");
  if (Buffer.byteLength(expression, "utf8") > MAX_EXPRESSION_BYTES) {
    fail(`expression is longer than ${MAX_EXPRESSION_BYTES} bytes`);
  }
  const params = Object.entries(condition.parameters ?? {});
  if (params.length > MAX_PARAMETERS) fail(`more than ${MAX_PARAMETERS} parameters`);

  const env = baseEnvironment().clone();
  const converters: Converter[] = [];
  for (const [name, ref] of params) {
    if (!IDENTIFIER.test(name)) fail(`invalid parameter name "${name.slice(0, 64)}"`);
    try {
      const type = resolveParamType(ref);
      env.registerVariable(name, type.celType);
      converters.push(type.convert);
    } catch (e) {
      if (e instanceof UnsupportedTypeError) fail(`parameter "${name}": ${e.message}`);
      fail(`parameter "${name}" cannot be declared`, e);
    }
  }

  let program: ParseResult;
  try {
    program = env.parse(expression);
  } catch (e) {
    return fail(`invalid expression: ${celSummary(e)}`);
  }
  const checked = program.check();
  if (!checked.valid) return fail(`invalid expression: ${celSummary(checked.error)}`);
  if (checked.type !== "bool")
    fail(`expression must evaluate to bool, but has type ${checked.type ?? "unknown"}`);
  const analysis = analyse(program.ast);
  if (analysis.problem !== undefined) fail(`invalid expression: ${analysis.problem}`);

  return new Compiled(
    key,
    params.map(([name]) => name),
    converters,
    program,
    analysis.comprehensions,
    analysis.literalElements,
  );
}

function celSummary(e: unknown): string {
  if (e instanceof Error) {
    const summary = (e as { summary?: unknown }).summary;
    return typeof summary === "string" ? summary : (e.message.split("\n")[0] ?? "");
  }
  return "unknown error";
}

class Compiled implements CompiledCondition {
  readonly name: string;
  readonly parameters: readonly string[];
  readonly #converters: readonly Converter[];
  readonly #program: ParseResult;
  readonly #comprehensions: number;
  readonly #literalElements: number;
  /** Reused between calls (evaluation is synchronous); cleared after each one. */
  readonly #activation: Record<string, unknown> = Object.create(null);
  readonly #meter: Meter = { elements: 0, weight: 0 };

  constructor(
    name: string,
    parameters: readonly string[],
    converters: readonly Converter[],
    program: ParseResult,
    comprehensions: number,
    literalElements: number,
  ) {
    this.name = name;
    this.parameters = parameters;
    this.#converters = converters;
    this.#program = program;
    this.#comprehensions = comprehensions;
    this.#literalElements = literalElements;
  }

  evaluate(context: Context): boolean {
    return this.evaluateWith(undefined, context);
  }

  evaluateWith(request: Context | undefined, tuple: Context | undefined): boolean {
    try {
      this.#bind(request, tuple);
      let out: unknown;
      try {
        out = this.#program(this.#activation);
      } catch (e) {
        // CEL errors carry the whole AST and registry: keep only their summary.
        throw this.#error(runtimeReason(e), isKnown(e) ? undefined : e);
      }
      if (typeof out !== "boolean") throw this.#error("expression did not evaluate to a bool");
      return out;
    } finally {
      for (const name of this.parameters) this.#activation[name] = undefined;
    }
  }

  /** Converts every declared parameter into the activation; throws on a missing or bad one. */
  #bind(request: Context | undefined, tuple: Context | undefined): void {
    const meter = this.#meter;
    meter.weight = 0;
    let missing: string[] | undefined;
    for (let i = 0; i < this.parameters.length; i++) {
      const name = this.parameters[i]!;
      const value =
        tuple !== undefined && Object.hasOwn(tuple, name)
          ? tuple[name]
          : request !== undefined && Object.hasOwn(request, name)
            ? request[name]
            : undefined;
      if (value === undefined) {
        missing ??= [];
        missing.push(name);
        continue;
      }
      meter.elements = 0;
      try {
        this.#activation[name] = this.#converters[i]!(value, meter);
      } catch (e) {
        const reason = e instanceof ConversionError ? e.message : "unsupported value";
        throw this.#error(
          `failed to convert context parameter '${name}': ${reason}`,
          e instanceof ConversionError ? undefined : e,
        );
      }
    }
    if (missing !== undefined) {
      throw this.#error(`context is missing parameters [${missing.sort().join(" ")}]`);
    }
    if (this.#comprehensions >= 2) {
      const size = 1 + this.#literalElements + meter.weight;
      if (size ** this.#comprehensions > MAX_COMPREHENSION_ITERATIONS) {
        throw this.#error("evaluation cost limit exceeded (context too large for nested comprehensions)");
      }
    }
  }

  #error(reason: string, cause?: unknown): ConditionEvaluationError {
    return new ConditionEvaluationError(this.name, reason, cause === undefined ? undefined : { cause });
  }
}

function isKnown(e: unknown): boolean {
  return e instanceof EvaluationError || e instanceof CelFunctionError || e instanceof MalformedCidrError;
}

function runtimeReason(e: unknown): string {
  if (e instanceof EvaluationError) return e.summary;
  if (e instanceof CelFunctionError || e instanceof MalformedCidrError) return e.message;
  if (e instanceof RangeError) return "evaluation exceeded resource limits";
  return "internal error during evaluation";
}
