/**
 * The CEL environment shared by all conditions (OpenFGA's `ipaddress` extension on top of the
 * standard library), and the static checks that `@marcbachmann/cel-js` does not do itself.
 */
import { setFlagsFromString } from "node:v8";
import { type ASTNode, Environment } from "@marcbachmann/cel-js";
import { IPADDRESS_CEL_TYPE } from "./convert.ts";
import { IPAddress, parseIPAddress } from "./ip.ts";

/** Thrown by our CEL functions; the message is safe to show to the caller. */
export class CelFunctionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CelFunctionError";
  }
}

/**
 * Parse limits. An expression is at most 512 bytes, so these only reject pathological nesting;
 * `maxDepth` is cel-go's default parser recursion limit.
 */
const LIMITS = {
  maxAstNodes: 1024,
  maxDepth: 250,
  maxListElements: 256,
  maxMapEntries: 256,
  maxCallArguments: 32,
} as const;

let base: Environment | undefined;

/**
 * The parent environment that every condition clones and adds its parameters to. Built once;
 * building an `Environment` is the expensive part of the library.
 */
export function baseEnvironment(): Environment {
  if (base !== undefined) return base;
  hardenRegExpEngine();
  base = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: true,
    enableOptionalTypes: false,
    limits: LIMITS,
  })
    .registerType(IPADDRESS_CEL_TYPE, IPAddress)
    .registerFunction(`ipaddress(string): ${IPADDRESS_CEL_TYPE}`, (text: string) => {
      const ip = parseIPAddress(text);
      if (ip === undefined) throw new CelFunctionError(`'${text.slice(0, 64)}' is not a valid IP address`);
      return ip;
    })
    .registerFunction(`${IPADDRESS_CEL_TYPE}.in_cidr(string): bool`, (ip: IPAddress, cidr: string) =>
      ip.inCidr(cidr),
    )
    .registerOperator(`${IPADDRESS_CEL_TYPE} == ${IPADDRESS_CEL_TYPE}`, (a: IPAddress, b: IPAddress) =>
      a.equals(b),
    );
  return base;
}

/**
 * `string.matches()` runs on JS `RegExp` (a backtracking engine; cel-go uses RE2), and its pattern
 * may come from the request context. This V8 flag makes a regex that backtracks excessively fall
 * back to V8's linear-time engine (same results), which defuses patterns like `^(a+)+$`. It is
 * process-wide, and is set once, before the first condition is compiled. Patterns with
 * backreferences or lookaround cannot fall back; literal ones are rejected by {@link analyse}
 * (RE2 does not support them either).
 */
function hardenRegExpEngine(): void {
  setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
}

/** What {@link analyse} learns from a type-checked AST. */
export interface Analysis {
  /** A reason to reject the expression, or undefined. */
  readonly problem: string | undefined;
  /** Number of comprehension macros (`all`, `exists`, `exists_one`, `map`, `filter`). */
  readonly comprehensions: number;
  /** Elements of list and map literals in the expression. */
  readonly literalElements: number;
}

const ORDERING = new Set(["<", "<=", ">", ">="]);
const NUMERIC = new Set(["int", "uint", "double"]);
const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

/**
 * Walks a type-checked AST:
 * - rejects ordering between different numeric types (`x < 1.0` with `x: int`), which cel-go
 *   (without cross-type numeric comparisons, as in OpenFGA) does not compile but this library does;
 * - rejects literal `matches()` patterns that use backreferences or lookaround (not RE2);
 * - counts comprehensions and literal elements for the evaluation-cost bound.
 */
export function analyse(root: ASTNode): Analysis {
  let problem: string | undefined;
  let comprehensions = 0;
  let literalElements = 0;
  const visit = (node: ASTNode): void => {
    switch (node.op) {
      case "value":
      case "id":
        return;
      case "list":
        literalElements += node.args.length;
        break;
      case "map":
        literalElements += node.args.length;
        break;
      case "rcall": {
        const [name, , args] = node.args;
        if (COMPREHENSIONS.has(name)) comprehensions++;
        const pattern = args[0];
        if (name === "matches" && pattern?.op === "value" && typeof pattern.args === "string") {
          if (usesNonRe2Syntax(pattern.args)) {
            problem ??= "matches() pattern uses backreferences or lookaround, which RE2 does not support";
          }
        }
        break;
      }
      default:
        if (ORDERING.has(node.op)) {
          const [left, right] = node.args as [ASTNode, ASTNode];
          const l = checkedTypeName(left);
          const r = checkedTypeName(right);
          if (l !== r && NUMERIC.has(l) && NUMERIC.has(r)) {
            problem ??= `found no matching overload for '${node.op}' applied to '(${l}, ${r})'`;
          }
        }
    }
    forEachChild(node.args, visit);
  };
  visit(root);
  return { problem, comprehensions, literalElements };
}

function checkedTypeName(node: ASTNode): string {
  return (node as { checkedType?: { name?: string } }).checkedType?.name ?? "";
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === "object" && value !== null && typeof (value as { op?: unknown }).op === "string";
}

function forEachChild(args: unknown, visit: (node: ASTNode) => void): void {
  if (isNode(args)) visit(args);
  else if (Array.isArray(args)) for (const a of args) forEachChild(a, visit);
}

/** Backreferences (`\1`, `\k<n>`) and lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) outside escapes. */
function usesNonRe2Syntax(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if ((next >= "1" && next <= "9") || next === "k") return true;
      i++;
    } else if (c === "(" && pattern[i + 1] === "?") {
      const a = pattern[i + 2];
      const b = pattern[i + 3];
      if (a === "=" || a === "!" || (a === "<" && (b === "=" || b === "!"))) return true;
    }
  }
  return false;
}
