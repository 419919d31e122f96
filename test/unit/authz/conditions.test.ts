import { readFileSync } from "node:fs";
import { transformer } from "@openfga/syntax-transformer";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseCidr, parseIPAddress } from "../../../src/authz/conditions/ip.ts";
import {
  type CompiledCondition,
  ConditionCompileError,
  ConditionEvaluationError,
  compileConditions,
  MAX_COLLECTION_ELEMENTS,
  mergeContext,
} from "../../../src/authz/conditions.ts";
import type { Condition, ConditionParamTypeRef, ConditionTypeName } from "../../../src/authz/model.ts";
import { DomainError } from "../../../src/shared/errors.ts";

type Short = "any" | "bool" | "string" | "int" | "uint" | "double" | "duration" | "timestamp" | "ipaddress";

function t(name: Short | "map" | "list", ...generics: ConditionParamTypeRef[]): ConditionParamTypeRef {
  const type_name = `TYPE_NAME_${name.toUpperCase()}` as ConditionTypeName;
  return generics.length === 0 ? { type_name } : { type_name, generic_types: generics };
}

function compile(
  expression: string,
  parameters: Record<string, ConditionParamTypeRef>,
  name = "cond",
): CompiledCondition {
  const compiled = compileConditions({ [name]: { name, expression, parameters } }).get(name);
  if (compiled === undefined) throw new Error("not compiled");
  return compiled;
}

function compileError(
  expression: string,
  parameters: Record<string, ConditionParamTypeRef>,
): ConditionCompileError {
  try {
    compile(expression, parameters);
  } catch (e) {
    if (e instanceof ConditionCompileError) return e;
    throw e;
  }
  throw new Error(`expected "${expression}" not to compile`);
}

function evalError(c: CompiledCondition, context: Record<string, unknown>): ConditionEvaluationError {
  try {
    c.evaluate(context);
  } catch (e) {
    if (e instanceof ConditionEvaluationError) return e;
    throw e;
  }
  throw new Error("expected an evaluation error");
}

describe("parameter conversion", () => {
  const eq = (type: Short, literal: string) => compile(`x == ${literal}`, { x: t(type) });

  it.each([
    ["int", "5", 5, true],
    ["int", "5", 6, false],
    ["int", "5", "5", true],
    ["int", "500", "5e2", true],
    ["int", "5", "5.0", true],
    ["int", "-9223372036854775808", "-9223372036854775808", true],
    ["int", "9223372036854775807", "9223372036854775807", true],
    ["uint", "uint(3)", 3, true],
    ["uint", "uint(3)", "3", true],
    ["uint", "uint(18446744073709551615)", "18446744073709551615", true],
    ["double", "1.5", 1.5, true],
    ["double", "1.5", "1.5", true],
    ["double", "1000.0", "1e3", true],
    ["double", "2.0", 2, true],
    ["string", '"hello"', "hello", true],
    ["string", '"hello"', "Hello", false],
    ["bool", "true", true, true],
    ["bool", "true", false, false],
    ["ipaddress", 'ipaddress("10.0.0.1")', "10.0.0.1", true],
    ["ipaddress", 'ipaddress("2001:db8::1")', "2001:0db8:0:0::1", true],
    ["timestamp", 'timestamp("2023-10-11T10:00:00Z")', "2023-10-11T12:00:00+02:00", true],
    ["timestamp", 'timestamp("2023-10-11T10:00:00.123Z")', "2023-10-11T10:00:00.123456789Z", true],
    ["duration", 'duration("5400s")', "1h30m", true],
    ["duration", 'duration("5400s")', "1.5h", true],
    ["duration", 'duration("0.3s")', "300ms", true],
    ["duration", 'duration("-120s")', "-2m", true],
    ["duration", 'duration("1000ns")', "1us", true],
    ["duration", 'duration("1000ns")', "1µs", true],
    ["duration", 'duration("1000ns")', "1μs", true],
    ["duration", 'duration("10ns")', "10ns", true],
    ["duration", 'duration("10ns")', "11ns", false],
  ] as const)("%s: x == %s with %j is %s", (type, literal, value, expected) => {
    expect(eq(type, literal).evaluate({ x: value })).toBe(expected);
  });

  it.each([
    ["int", 5.5, "non-integral"],
    ["int", "5.5", "non-integral"],
    ["int", "abc", "expected an int value"],
    ["int", "", "expected an int value"],
    ["int", " 5", "expected an int value"],
    ["int", "0x10", "expected an int value"],
    ["int", true, "found boolean"],
    ["int", null, "found null"],
    ["int", [5], "found array"],
    ["int", "9223372036854775808", "out of range"],
    ["int", 1e19, "out of range"],
    ["int", "1e400", "out of range"],
    ["uint", -1, "out of range"],
    ["uint", "-1", "out of range"],
    ["uint", "18446744073709551616", "out of range"],
    ["uint", 1.5, "non-integral"],
    ["double", null, "found null"],
    ["double", Number.POSITIVE_INFINITY, "out of range"],
    ["double", Number.NaN, "out of range"],
    ["double", "1.79769313486231570814527423731704356798070e+309", "out of range"],
    ["double", "abc", "expected a double value"],
    ["double", "", "expected a double value"],
    ["double", "e5", "expected a double value"],
    ["double", "Infinity", "expected a double value"],
    ["double", true, "found boolean"],
    ["string", 5, "expected a string value, but found number"],
    ["string", null, "found null"],
    ["bool", "true", "expected a bool value, but found string"],
    ["bool", 1, "found number"],
    ["timestamp", "2023-10-11T11:00.000Z", "RFC 3339"],
    ["timestamp", "2023-02-30T00:00:00Z", "RFC 3339"],
    ["timestamp", "2023-10-11 10:00:00Z", "RFC 3339"],
    ["timestamp", "2023-10-11t10:00:00z", "RFC 3339"],
    ["timestamp", "2023-10-11T24:00:00Z", "RFC 3339"],
    ["timestamp", "2023-10-11T10:00:00", "RFC 3339"],
    ["timestamp", 1697018400, "found number"],
    ["duration", "5", "duration string"],
    ["duration", "1d", "duration string"],
    ["duration", "", "duration string"],
    ["duration", ".s", "duration string"],
    ["duration", "1h 30m", "duration string"],
    ["duration", "2562048h", "duration string"],
    ["duration", 60, "found number"],
    ["ipaddress", "not-an-ip", "IPv4 or IPv6"],
    ["ipaddress", "192.168.01.1", "IPv4 or IPv6"],
    ["ipaddress", "1.2.3.256", "IPv4 or IPv6"],
    ["ipaddress", "1.2.3", "IPv4 or IPv6"],
    ["ipaddress", "1::2::3", "IPv4 or IPv6"],
    ["ipaddress", "10.0.0.0/8", "IPv4 or IPv6"],
    ["ipaddress", 167772161, "found number"],
  ] as const)("%s rejects %j", (type, value, message) => {
    const literal =
      { int: "1", uint: "uint(1)", double: "1.0", string: '""', bool: "true" }[type as string] ?? "x";
    const err = evalError(eq(type, literal), { x: value });
    expect(err.message).toContain("failed to convert context parameter 'x'");
    expect(err.message).toContain(message);
    expect(err.conditionName).toBe("cond");
  });

  it("keeps int and uint as CEL int and uint", () => {
    expect(
      compile("type(x) == int && type(u) == uint", { x: t("int"), u: t("uint") }).evaluate({ x: 1, u: 1 }),
    ).toBe(true);
  });

  it("converts map<T> values and list<T> elements", () => {
    const c = compile('m["a"] + m["b"] == 3 && size(m) == 2 && "y" in l && l[0] == "x"', {
      m: t("map", t("int")),
      l: t("list", t("string")),
    });
    expect(c.evaluate({ m: { a: 1, b: "2" }, l: ["x", "y"] })).toBe(true);
    expect(c.evaluate({ m: { a: 1, b: 3 }, l: ["x", "y"] })).toBe(false);
    expect(evalError(c, { m: { a: 1, b: "two" }, l: [] }).message).toContain("parameter 'm'");
    expect(evalError(c, { m: [1, 2], l: [] }).message).toContain("expected an object");
    expect(evalError(c, { m: { a: 1 }, l: "x" }).message).toContain("expected an array, but found string");
    expect(evalError(c, { m: { a: 1 }, l: ["x", 2] }).message).toContain("expected a string value");
  });

  it("converts nested generics and typed collections of timestamps and IPs", () => {
    const c = compile(
      'ips.exists(ip, ip.in_cidr("10.0.0.0/8")) && ts.all(k, ts[k] > timestamp("2020-01-01T00:00:00Z"))',
      {
        ips: t("list", t("ipaddress")),
        ts: t("map", t("timestamp")),
      },
    );
    expect(c.evaluate({ ips: ["192.168.0.1", "10.1.1.1"], ts: { a: "2021-01-01T00:00:00Z" } })).toBe(true);
    expect(c.evaluate({ ips: ["192.168.0.1"], ts: { a: "2021-01-01T00:00:00Z" } })).toBe(false);
    expect(compile("m.b[1] == 2", { m: t("map", t("list", t("int"))) }).evaluate({ m: { b: [1, 2] } })).toBe(
      true,
    );
  });

  it("caps collection sizes", () => {
    const c = compile("size(l) > 0", { l: t("list", t("int")) });
    const max = Array.from({ length: MAX_COLLECTION_ELEMENTS }, (_, i) => i);
    expect(c.evaluate({ l: max })).toBe(true);
    expect(evalError(c, { l: [...max, 1] }).message).toContain(
      `more than ${MAX_COLLECTION_ELEMENTS} elements`,
    );
    const m = compile("size(m) > 0", { m: t("map", t("int")) });
    const big = Object.fromEntries(
      Array.from({ length: MAX_COLLECTION_ELEMENTS + 1 }, (_, i) => [`k${i}`, i]),
    );
    expect(evalError(m, { m: big }).message).toContain("elements");
    const a = compile("size(a) > 0", { a: t("any") });
    expect(evalError(a, { a: [max, [1]] }).message).toContain("elements");
  });

  it("passes any through, with JSON numbers as double and objects as maps", () => {
    const c = compile(
      'type(a.n) == double && a.n == 1.0 && a.s == "x" && a.l[1] == true && a.constructor == 2.0',
      {
        a: t("any"),
      },
    );
    expect(c.evaluate({ a: { n: 1, s: "x", l: [null, true], constructor: 2 } })).toBe(true);
    expect(c.evaluate({ a: { n: 1, s: "y", l: [null, true], constructor: 2 } })).toBe(false);
    expect(compile("a == 3.0", { a: t("any") }).evaluate({ a: 3 })).toBe(true);
  });

  it("only reads declared parameters, and only own properties", () => {
    const c = compile("x == 1", { x: t("int") });
    expect(c.evaluate({ x: 1, unrelated: "ignored" })).toBe(true);
    const inherited = Object.create({ x: 1 }) as Record<string, unknown>;
    expect(evalError(c, inherited).message).toContain("missing parameters [x]");
  });
});

describe("missing parameters", () => {
  const condxy = compile("x < 100 || y < 50", { x: t("int"), y: t("int") }, "condxy");

  it("is an error even when the expression could be decided without the parameter", () => {
    const err = evalError(condxy, { x: 5 });
    expect(err.message).toBe(
      "failed to evaluate relationship condition 'condxy': context is missing parameters [y]",
    );
    expect(err.conditionName).toBe("condxy");
    expect(err.reason).toBe("context is missing parameters [y]");
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe("validation");
  });

  it("lists every missing parameter", () => {
    expect(evalError(condxy, {}).message).toContain("context is missing parameters [x y]");
  });

  it("evaluates once all are present", () => {
    expect(condxy.evaluate({ x: 500, y: 1 })).toBe(true);
    expect(condxy.evaluate({ x: 500, y: 100 })).toBe(false);
  });
});

describe("mergeContext", () => {
  it("lets the tuple's value win on a clash and keeps the rest", () => {
    expect(mergeContext({ a: 1, b: 2 }, { b: 3, c: 4 })).toEqual({ a: 1, b: 3, c: 4 });
    expect(mergeContext(undefined, { c: 4 })).toEqual({ c: 4 });
    expect(mergeContext({ a: 1 }, undefined)).toEqual({ a: 1 });
  });

  it("does not let a __proto__ key change the prototype", () => {
    const merged = mergeContext(JSON.parse('{"__proto__": {"x": 1}}'), undefined);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, "__proto__")).toBe(true);
  });

  it("gives the same result as evaluateWith(request, tuple)", () => {
    const c = compile("x == 10 && y == 1", { x: t("int"), y: t("int") });
    const request = { x: 1, y: 1 };
    const tuple = { x: 10 };
    expect(c.evaluate(mergeContext(request, tuple))).toBe(true);
    expect(c.evaluateWith(request, tuple)).toBe(true);
    expect(c.evaluateWith(tuple, request)).toBe(false);
    expect(c.evaluate(mergeContext(tuple, request))).toBe(false);
  });
});

describe("ipaddress and in_cidr", () => {
  const c = compile(
    "user_ip.in_cidr(cidr)",
    { user_ip: t("ipaddress"), cidr: t("string") },
    "ipaddr_in_range",
  );
  const inCidr = (ip: string, cidr: string) => c.evaluate({ user_ip: ip, cidr });

  it.each([
    ["192.168.0.1", "192.168.0.0/24", true],
    ["192.168.1.1", "192.168.0.0/24", false],
    ["10.255.255.255", "10.0.0.0/8", true],
    ["11.0.0.0", "10.0.0.0/8", false],
    ["192.168.0.129", "192.168.0.128/25", true],
    ["192.168.0.127", "192.168.0.128/25", false],
    ["1.2.3.4", "0.0.0.0/0", true],
    ["1.2.3.4", "1.2.3.4/32", true],
    ["1.2.3.5", "1.2.3.4/32", false],
    ["2001:db8::1", "2001:db8::/32", true],
    ["2001:db9::1", "2001:db8::/32", false],
    ["2001:db8:0:0:0:0:0:ff", "2001:db8::/120", true],
    ["::1", "::1/128", true],
    ["fe80::1", "fe80::/10", true],
    ["fec0::1", "fe80::/10", false],
    ["::ffff:192.168.0.1", "192.168.0.0/16", true],
    ["::ffff:c0a8:0001", "192.168.0.0/16", true],
    ["::ffff:10.0.0.1", "192.168.0.0/16", false],
    ["192.168.0.1", "::ffff:192.168.0.0/112", true],
    ["10.0.0.1", "::ffff:192.168.0.0/112", false],
    ["192.168.0.1", "::/0", false],
    ["2001:db8::1", "0.0.0.0/0", false],
    ["fe80::1%eth0", "fe80::/10", false],
  ])("%s in %s is %s", (ip, cidr, expected) => {
    expect(inCidr(ip, cidr)).toBe(expected);
  });

  it.each([
    "192.168.0.0",
    "192.168.0.0/33",
    "192.168.0.0/08",
    "192.168.0.0/-1",
    "2001:db8::/129",
    "fe80::%eth0/64",
    "x/8",
    "",
  ])("malformed CIDR %j is an evaluation error", (cidr) => {
    const err = evalError(c, { user_ip: "192.168.0.1", cidr });
    expect(err.message).toBe(
      `failed to evaluate relationship condition 'ipaddr_in_range': '${cidr}' is a malformed CIDR string`,
    );
  });

  it("provides ipaddress(string) and equality", () => {
    const eq = compile('ipaddress("::ffff:1.2.3.4") == ip && ipaddress("1.2.3.4").in_cidr("1.2.0.0/16")', {
      ip: t("ipaddress"),
    });
    expect(eq.evaluate({ ip: "1.2.3.4" })).toBe(true);
    expect(eq.evaluate({ ip: "1.2.3.5" })).toBe(false);
    const bad = compile('ipaddress(s).in_cidr("1.2.0.0/16")', { s: t("string") });
    expect(evalError(bad, { s: "nope" }).message).toContain("'nope' is not a valid IP address");
  });

  it("parses IPv6 text forms like Go's net/netip", () => {
    const hex = (s: string) => Buffer.from(parseIPAddress(s)?.bytes ?? []).toString("hex");
    expect(hex("1:2:3:4:5:6:7:8")).toBe("00010002000300040005000600070008");
    expect(hex("::")).toBe("0".repeat(32));
    expect(hex("1::")).toBe(`0001${"0".repeat(28)}`);
    expect(hex("1:2:3:4:5:6:7::")).toBe("00010002000300040005000600070000");
    expect(hex("::1.2.3.4")).toBe(`${"0".repeat(24)}01020304`);
    expect(hex("::ffff:1.2.3.4")).toBe("01020304");
    for (const bad of [
      "1:2:3:4:5:6:7:8::",
      "1:2:3:4:5:6:7",
      "12345::",
      "1.2.3.4::",
      "fe80::1%",
      ":1::",
      "g::",
    ]) {
      expect(parseIPAddress(bad), bad).toBeUndefined();
    }
    expect(parseCidr("::ffff:10.0.0.0/104")).toEqual({ bytes: new Uint8Array([10, 0, 0, 0]), bits: 8 });
    expect(parseCidr("2001:db8::/0")?.bits).toBe(0);
  });
});

describe("timestamps and durations", () => {
  it("compares a timestamp parameter with a timestamp literal (ts_less_than)", () => {
    const c = compile('ts < timestamp("2023-10-11T10:00:00.000Z")', { ts: t("timestamp") }, "ts_less_than");
    expect(c.evaluate({ ts: "2023-10-11T09:59:59.999Z" })).toBe(true);
    expect(c.evaluate({ ts: "2023-10-11T10:00:00Z" })).toBe(false);
    expect(c.evaluate({ ts: "2023-10-11T11:00:00+02:00" })).toBe(true);
    expect(c.evaluate({ ts: "2023-10-11T09:00:00-02:00" })).toBe(false);
    expect(evalError(c, { ts: "2023-10-11T11:00.000Z" }).message).toContain(
      "failed to convert context parameter 'ts'",
    );
  });

  it("supports timestamp arithmetic with durations", () => {
    const c = compile("current_time < grant_time + grant_duration", {
      current_time: t("timestamp"),
      grant_time: t("timestamp"),
      grant_duration: t("duration"),
    });
    const ctx = { grant_time: "2023-01-01T00:00:00Z", grant_duration: "1h" };
    expect(c.evaluate({ ...ctx, current_time: "2023-01-01T00:59:59Z" })).toBe(true);
    expect(c.evaluate({ ...ctx, current_time: "2023-01-01T01:00:00Z" })).toBe(false);
  });

  it("orders durations, negative ones included", () => {
    const c = compile('d < duration("0s") && d > duration("-3m")', { d: t("duration") });
    expect(c.evaluate({ d: "-2m" })).toBe(true);
    expect(c.evaluate({ d: "-4m" })).toBe(false);
    expect(c.evaluate({ d: "2m" })).toBe(false);
  });
});

describe("compile errors", () => {
  it.each([
    ["x + 1", { x: t("int") }, "expression must evaluate to bool, but has type int"],
    ["a", { a: t("any") }, "expression must evaluate to bool, but has type dyn"],
    ["x < 100 || y < 50", { x: t("int") }, "Unknown variable: y"],
    ["x == 1.0", { x: t("int") }, "no such overload: int == double"],
    ["x < 1.0", { x: t("int") }, "found no matching overload for '<' applied to '(int, double)'"],
    ["x > 0", { x: t("double") }, "'(double, int)'"],
    ["u >= 1", { u: t("uint") }, "'(uint, int)'"],
    ["l.exists(e, e <= 1.0)", { l: t("list", t("int")) }, "'(int, double)'"],
    ['x == "1"', { x: t("int") }, "no such overload"],
    ['ip == "1.2.3.4"', { ip: t("ipaddress") }, "no such overload"],
    ["x <", { x: t("int") }, "invalid expression"],
    ["", {}, "expression is empty"],
    ['s.matches("(a)\\\\1")', { s: t("string") }, "backreferences or lookaround"],
    ['s.matches("a(?=b)")', { s: t("string") }, "backreferences or lookaround"],
  ] as const)("%j is rejected", (expression, parameters, message) => {
    const err = compileError(expression, parameters);
    expect(err.message).toContain('condition "cond": ');
    expect(err.message).toContain(message);
    expect(err.conditionName).toBe("cond");
    expect(err.reason).toBe(err.message.slice('condition "cond": '.length));
    expect(err).toBeInstanceOf(DomainError);
  });

  it("accepts same-type numeric comparisons and literal regexes without backreferences", () => {
    expect(compile("x > 0.0", { x: t("double") }).evaluate({ x: 0.5 })).toBe(true);
    expect(compile('s.matches("^a\\\\d+$")', { s: t("string") }).evaluate({ s: "a12" })).toBe(true);
  });

  it("rejects expressions over 512 bytes (counted in UTF-8)", () => {
    const fits = `s == "${"a".repeat(512 - 7)}"`;
    expect(Buffer.byteLength(fits)).toBe(512);
    expect(compile(fits, { s: t("string") }).evaluate({ s: "a".repeat(505) })).toBe(true);
    const ascii = `s == "${"a".repeat(513 - 7)}"`;
    expect(compileError(ascii, { s: t("string") }).message).toContain("longer than 512 bytes");
    const multibyte = `s == "${"é".repeat(253)}"`;
    expect(multibyte.length).toBeLessThan(512);
    expect(compileError(multibyte, { s: t("string") }).message).toContain("longer than 512 bytes");
  });

  it("rejects more than 25 parameters", () => {
    const params = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, t("int")]));
    expect(compile("p0 == 1", params(25)).parameters).toHaveLength(25);
    expect(compileError("p0 == 1", params(26)).message).toContain("more than 25 parameters");
  });

  it("rejects unsupported parameter types and generic arity", () => {
    const unspecified = { type_name: "TYPE_NAME_UNSPECIFIED" } as unknown as ConditionParamTypeRef;
    expect(compileError("true", { x: unspecified }).message).toContain("unsupported parameter type");
    expect(compileError("true", { x: t("map") }).message).toContain("map requires exactly one generic type");
    expect(compileError("true", { x: t("list", t("int"), t("int")) }).message).toContain("exactly one");
    expect(compileError("true", { x: t("int", t("int")) }).message).toContain("int takes no generic types");
    expect(compileError("true", { "a-b": t("int") }).message).toContain('invalid parameter name "a-b"');
  });

  it("rejects a condition stored under a key other than its name, and stops at the first bad one", () => {
    const good: Condition = { name: "good", expression: "true" };
    expect(() => compileConditions({ good, other: { name: "bad", expression: "true" } })).toThrow(
      /condition "other": condition key does not match/,
    );
    expect(compileConditions({ good }).size).toBe(1);
    expect(compileConditions(undefined).size).toBe(0);
  });
});

describe("runtime errors", () => {
  it.each([
    ["x / y == 1", { x: 1, y: 0 }, "division by zero"],
    ["x % y == 1", { x: 1, y: 0 }, "modulo by zero"],
    ["x * 9223372036854775807 > 0", { x: 2, y: 0 }, "overflow"],
    ['m["missing"] == 1', { m: {} }, "No such key: missing"],
    ["l[3] == 1", { l: [1] }, "index out of bounds"],
  ])("%s fails to evaluate", (expression, context, message) => {
    const c = compile(expression, {
      x: t("int"),
      y: t("int"),
      m: t("map", t("int")),
      l: t("list", t("int")),
    });
    const all = { x: 0, y: 0, m: {}, l: [], ...context };
    const err = evalError(c, all);
    expect(err.message).toMatch(/^failed to evaluate relationship condition 'cond': /);
    expect(err.message.toLowerCase()).toContain(message.toLowerCase());
  });

  it("bounds nested comprehensions over large inputs", () => {
    const c = compile("l.all(a, l.all(b, a + b >= 0))", { l: t("list", t("int")) });
    expect(c.evaluate({ l: Array.from({ length: 100 }, (_, i) => i) })).toBe(true);
    const err = evalError(c, { l: Array.from({ length: MAX_COLLECTION_ELEMENTS }, (_, i) => i) });
    expect(err.message).toContain("evaluation cost limit exceeded");
    const single = compile("l.all(a, a >= 0)", { l: t("list", t("int")) });
    expect(single.evaluate({ l: Array.from({ length: MAX_COLLECTION_ELEMENTS }, (_, i) => i) })).toBe(true);
  });

  it("does not backtrack catastrophically on a pattern from the context", () => {
    const c = compile("s.matches(p)", { s: t("string"), p: t("string") });
    const started = performance.now();
    expect(c.evaluate({ s: `${"a".repeat(40)}b`, p: "^(a+)+$" })).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(c.evaluate({ s: "aaa", p: "^(a+)+$" })).toBe(true);
  });

  it("is reusable after an error (no stale parameter values)", () => {
    const c = compile("x / y == 2", { x: t("int"), y: t("int") });
    expect(() => c.evaluate({ x: 1, y: 0 })).toThrow(ConditionEvaluationError);
    expect(c.evaluate({ x: 4, y: 2 })).toBe(true);
    expect(evalError(c, { x: 4 }).message).toContain("missing parameters [y]");
  });
});

describe("shared conformance data", () => {
  it("compiles every condition in abac_tests.yaml", () => {
    const file = new URL("../../../../shared/conformance/openfga/abac_tests.yaml", import.meta.url);
    const data = parseYaml(readFileSync(file, "utf8")) as { tests: { stages: { model: string }[] }[] };
    const compiled = new Set<string>();
    for (const test of data.tests) {
      for (const stage of test.stages) {
        const model = transformer.transformDSLToJSONObject(stage.model) as {
          conditions?: Record<string, Condition>;
        };
        for (const name of compileConditions(model.conditions).keys()) compiled.add(name);
      }
    }
    expect([...compiled].sort()).toEqual(
      expect.arrayContaining([
        "condfloat",
        "condxy",
        "ipaddr_in_range",
        "ts_less_than",
        "x_less_than",
        "xcond",
      ]),
    );
  });
});
