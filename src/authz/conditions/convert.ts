/**
 * Declared parameter types: their CEL type names, and the conversion of JSON context values into
 * the runtime values that `@marcbachmann/cel-js` expects (`bigint` for int, `UnsignedInt` for
 * uint, `number` for double, `Date`, `Duration`, our `IPAddress`, `Map` for maps and `any` objects).
 */
import { Duration, UnsignedInt } from "@marcbachmann/cel-js/evaluator";
import type { ConditionParamTypeRef, ConditionTypeName } from "../model.ts";
import { parseIPAddress } from "./ip.ts";
import { parseGoDuration, parseRfc3339 } from "./time.ts";

/** CEL name of the registered IP address object type. */
export const IPADDRESS_CEL_TYPE = "IPAddress";

/**
 * Most elements (list items, map entries and nested values together) one context value may have.
 * Part of the evaluation-cost bound: see `conditions.ts`.
 */
export const MAX_COLLECTION_ELEMENTS = 1000;

/** Longest numeric string accepted for int, uint and double. */
const MAX_NUMERIC_STRING = 400;

/** A context value could not be converted; the message is safe to show to the caller. */
export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConversionError";
  }
}

/** Counters filled while converting one evaluation's parameters (reused, not reallocated). */
export interface Meter {
  /** Elements seen in the current parameter; the caller resets it per parameter. */
  elements: number;
  /** Elements plus string lengths over all parameters: the input size for the cost bound. */
  weight: number;
}

export type Converter = (value: unknown, meter: Meter) => unknown;

export interface ParamType {
  /** CEL type for `registerVariable`, e.g. `map<string, int>`. */
  readonly celType: string;
  /** OpenFGA DSL spelling, e.g. `map<int>`, for messages. */
  readonly label: string;
  readonly convert: Converter;
}

/** A parameter type that OpenFGA does not define, or generics of the wrong arity. */
export class UnsupportedTypeError extends Error {}

interface Primitive {
  readonly celType: string;
  readonly label: string;
  readonly convert: Converter;
}

const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_UINT64 = (1n << 64n) - 1n;

const PRIMITIVES: Partial<Record<ConditionTypeName, Primitive>> = {
  TYPE_NAME_ANY: { celType: "dyn", label: "any", convert: convertAny },
  TYPE_NAME_BOOL: { celType: "bool", label: "bool", convert: convertBool },
  TYPE_NAME_STRING: { celType: "string", label: "string", convert: convertString },
  TYPE_NAME_INT: { celType: "int", label: "int", convert: convertInt },
  TYPE_NAME_UINT: { celType: "uint", label: "uint", convert: convertUint },
  TYPE_NAME_DOUBLE: { celType: "double", label: "double", convert: convertDouble },
  TYPE_NAME_DURATION: { celType: "google.protobuf.Duration", label: "duration", convert: convertDuration },
  TYPE_NAME_TIMESTAMP: {
    celType: "google.protobuf.Timestamp",
    label: "timestamp",
    convert: convertTimestamp,
  },
  TYPE_NAME_IPADDRESS: { celType: IPADDRESS_CEL_TYPE, label: "ipaddress", convert: convertIPAddress },
};

/** Resolves a declared parameter type; throws {@link UnsupportedTypeError}. */
export function resolveParamType(ref: ConditionParamTypeRef): ParamType {
  const generics = ref.generic_types ?? [];
  if (ref.type_name === "TYPE_NAME_MAP" || ref.type_name === "TYPE_NAME_LIST") {
    const isMap = ref.type_name === "TYPE_NAME_MAP";
    const name = isMap ? "map" : "list";
    if (generics.length !== 1) {
      throw new UnsupportedTypeError(`${name} requires exactly one generic type, got ${generics.length}`);
    }
    const inner = resolveParamType(generics[0]!);
    return isMap
      ? { celType: `map<string, ${inner.celType}>`, label: `map<${inner.label}>`, convert: mapOf(inner) }
      : { celType: `list<${inner.celType}>`, label: `list<${inner.label}>`, convert: listOf(inner) };
  }
  const primitive = Object.hasOwn(PRIMITIVES, ref.type_name) ? PRIMITIVES[ref.type_name] : undefined;
  if (primitive === undefined) {
    throw new UnsupportedTypeError(`unsupported parameter type '${String(ref.type_name).slice(0, 40)}'`);
  }
  if (generics.length !== 0) throw new UnsupportedTypeError(`${primitive.label} takes no generic types`);
  return primitive;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function quote(text: string): string {
  return `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`;
}

function convertBool(value: unknown): unknown {
  if (typeof value === "boolean") return value;
  throw new ConversionError(`expected a bool value, but found ${describe(value)}`);
}

function convertString(value: unknown, meter: Meter): unknown {
  if (typeof value !== "string")
    throw new ConversionError(`expected a string value, but found ${describe(value)}`);
  meter.weight += value.length;
  return value;
}

function convertInt(value: unknown): unknown {
  const n = toInteger(value, "an int");
  if (n < MIN_INT64 || n > MAX_INT64)
    throw new ConversionError(`int value out of range: ${quote(String(value))}`);
  return n;
}

function convertUint(value: unknown): unknown {
  const n = toInteger(value, "a uint");
  if (n < 0n || n > MAX_UINT64) throw new ConversionError(`uint value out of range: ${quote(String(value))}`);
  return new UnsignedInt(n);
}

/** An integral JSON number or numeric string as a bigint (range is checked by the caller). */
function toInteger(value: unknown, what: string): bigint {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return BigInt(value);
    throw new ConversionError(`expected ${what} value, but found non-integral number ${value}`);
  }
  if (typeof value === "bigint") return value;
  if (typeof value === "string") {
    const n = parseDecimalInteger(value);
    if (n === undefined)
      throw new ConversionError(`expected ${what} value, but found string ${quote(value)}`);
    if (n === null)
      throw new ConversionError(`expected ${what} value, but found non-integral ${quote(value)}`);
    return n;
  }
  throw new ConversionError(`expected ${what} value, but found ${describe(value)}`);
}

const DECIMAL = /^([+-])?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

/** Exact integer value of a decimal string; `null` if numeric but not integral; `undefined` if not numeric. */
function parseDecimalInteger(text: string): bigint | null | undefined {
  const m = text.length > MAX_NUMERIC_STRING ? null : DECIMAL.exec(text);
  if (m === null) return undefined;
  const whole = m[2]!;
  const frac = m[3] ?? "";
  if (whole === "" && frac === "") return undefined;
  const digits = whole + frac;
  let start = 0;
  while (start < digits.length && digits[start] === "0") start++;
  if (start === digits.length) return 0n;
  let end = digits.length;
  while (digits[end - 1] === "0") end--;
  const scale = (m[4] === undefined ? 0 : Number(m[4])) - frac.length + (digits.length - end);
  if (scale < 0) return null;
  // Anything with more than 40 digits is far outside uint64; avoid building a huge bigint.
  const n = end - start + scale > 40 ? 1n << 140n : BigInt(digits.slice(start, end)) * 10n ** BigInt(scale);
  return m[1] === "-" ? -n : n;
}

function convertDouble(value: unknown): unknown {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && value.length <= MAX_NUMERIC_STRING) {
    const m = DECIMAL.exec(value);
    if (m !== null && (m[2] !== "" || (m[3] ?? "") !== "")) n = Number(value);
  }
  if (n === undefined) {
    const found = typeof value === "string" ? `string ${quote(value)}` : describe(value);
    throw new ConversionError(`expected a double value, but found ${found}`);
  }
  if (!Number.isFinite(n)) throw new ConversionError(`double value out of range: ${quote(String(value))}`);
  return n;
}

function convertTimestamp(value: unknown): unknown {
  const d = typeof value === "string" ? parseRfc3339(value) : undefined;
  if (d !== undefined) return d;
  const found = typeof value === "string" ? quote(value) : describe(value);
  throw new ConversionError(`expected an RFC 3339 formatted timestamp string, but found ${found}`);
}

const NANOS_PER_SECOND = 1_000_000_000n;

function convertDuration(value: unknown): unknown {
  const ns = typeof value === "string" ? parseGoDuration(value) : undefined;
  if (ns !== undefined) return new Duration(ns / NANOS_PER_SECOND, Number(ns % NANOS_PER_SECOND));
  const found = typeof value === "string" ? quote(value) : describe(value);
  throw new ConversionError(`expected a duration string (e.g. '1h30m'), but found ${found}`);
}

function convertIPAddress(value: unknown): unknown {
  const ip = typeof value === "string" ? parseIPAddress(value) : undefined;
  if (ip !== undefined) return ip;
  const found = typeof value === "string" ? quote(value) : describe(value);
  throw new ConversionError(`expected an IPv4 or IPv6 address string, but found ${found}`);
}

function count(meter: Meter): void {
  meter.weight++;
  if (++meter.elements > MAX_COLLECTION_ELEMENTS) {
    throw new ConversionError(`collection has more than ${MAX_COLLECTION_ELEMENTS} elements`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function mapOf(inner: ParamType): Converter {
  return (value, meter) => {
    if (!isPlainObject(value)) {
      throw new ConversionError(`expected an object for ${inner.label} values, but found ${describe(value)}`);
    }
    const out = new Map<string, unknown>();
    for (const key of Object.keys(value)) {
      count(meter);
      meter.weight += key.length;
      out.set(key, inner.convert(value[key], meter));
    }
    return out;
  };
}

function listOf(inner: ParamType): Converter {
  return (value, meter) => {
    if (!Array.isArray(value)) throw new ConversionError(`expected an array, but found ${describe(value)}`);
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      count(meter);
      out[i] = inner.convert(value[i], meter);
    }
    return out;
  };
}

/** `any` keeps JSON values as they are (numbers stay doubles); objects become `Map`s. */
function convertAny(value: unknown, meter: Meter): unknown {
  switch (typeof value) {
    case "boolean":
    case "number":
    case "bigint":
      return value;
    case "string":
      meter.weight += value.length;
      return value;
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      count(meter);
      out[i] = convertAny(value[i], meter);
    }
    return out;
  }
  if (isPlainObject(value)) {
    const out = new Map<string, unknown>();
    for (const key of Object.keys(value)) {
      count(meter);
      meter.weight += key.length;
      out.set(key, convertAny(value[key], meter));
    }
    return out;
  }
  throw new ConversionError(`unsupported value of type ${describe(value)}`);
}
