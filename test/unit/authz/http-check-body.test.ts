/**
 * The check body's fast path gives exactly what the schema gives: the same result for the usual
 * bodies, and for anything else the schema's own result or error.
 */
import { describe, expect, it } from "vitest";
import { checkBody, parseCheckBody, parseWire } from "../../../src/authz/http/wire.ts";

const tk = { user: "user:anne", relation: "reader", object: "repo:r1" };
const MODEL = "01HVMMBCMGZNT3SED4Z17ECXCA";

type Outcome = { ok?: object; err?: string };
const viaSchema = (v: unknown): Outcome => {
  try {
    return { ok: parseWire(checkBody, v, "CheckRequest") };
  } catch (e) {
    return { err: (e as Error).message };
  }
};
const viaFastPath = (v: unknown): Outcome => {
  try {
    return { ok: parseCheckBody(v) };
  } catch (e) {
    return { err: (e as Error).message };
  }
};

describe("check body parsing", () => {
  const bodies: unknown[] = [
    { tuple_key: tk },
    { tuple_key: { object: tk.object, user: tk.user, relation: tk.relation } },
    { tuple_key: tk, authorization_model_id: MODEL },
    { tuple_key: tk, authorization_model_id: "" },
    { tuple_key: tk, authorization_model_id: "not-a-ulid" },
    { tuple_key: tk, authorization_model_id: null },
    { tuple_key: tk, consistency: "HIGHER_CONSISTENCY" },
    { tuple_key: tk, context: { x: 1 } },
    { tuple_key: tk, trace: null, extra: 1 },
    { tupleKey: tk },
    { tuple_key: { ...tk, condition: { name: "c" } } },
    { tuple_key: { ...tk, user: "u" } },
    { tuple_key: { ...tk, user: "user: anne" } },
    { tuple_key: { ...tk, user: `user:${"é".repeat(300)}` } },
    { tuple_key: { ...tk, relation: "a#b" } },
    { tuple_key: { ...tk, relation: "" } },
    { tuple_key: { ...tk, object: `repo:${"x".repeat(260)}` } },
    { tuple_key: { ...tk, object: 7 } },
    { tuple_key: { user: tk.user, relation: tk.relation } },
    { tuple_key: { ...tk, user: null } },
    { tuple_key: null },
    { tuple_key: [tk] },
    JSON.parse(`{"tuple_key":${JSON.stringify(tk)},"__proto__":{"x":1}}`),
    {},
    [],
    "x",
    null,
  ];

  it.each(bodies.map((b) => [JSON.stringify(b), b] as const))("%s: the same as the schema", (_, body) => {
    const fast = viaFastPath(body);
    const slow = viaSchema(body);
    expect(fast).toEqual(slow);
    if (fast.ok && slow.ok) expect(Object.keys(fast.ok)).toEqual(Object.keys(slow.ok));
  });
});
