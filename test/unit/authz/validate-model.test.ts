import { describe, expect, it } from "vitest";
import { AuthzError, parseDsl, validateModel } from "../../../src/authz/index.ts";

async function fails(dsl: string, code: number, message: RegExp) {
  const model = await parseDsl(dsl);
  let err: unknown;
  try {
    validateModel(model);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(AuthzError);
  expect((err as AuthzError).openfgaCode).toBe(code);
  expect((err as AuthzError).detail).toMatch(message);
}

const model = (body: string) => `model\n  schema 1.1\ntype user\n${body}`;

describe("validateModel: accepted models", () => {
  it("accepts every rewrite kind, wildcards, usersets and conditions", async () => {
    const m = await parseDsl(
      model(`type group
  relations
    define member: [user, user:*, group#member with in_range]
type folder
  relations
    define viewer: [user]
type doc
  relations
    define parent: [folder with in_range]
    define blocked: [user]
    define editor: [user]
    define viewer: ([user] or editor or viewer from parent) but not blocked
    define audited: viewer and editor
condition in_range(x: int) {
  x < 100
}`),
    );
    const { model: out, conditions } = validateModel(m);
    expect(out.type_definitions.map((t) => t.type)).toEqual(["user", "group", "folder", "doc"]);
    expect([...conditions.keys()]).toEqual(["in_range"]);
  });

  it("accepts a tupleset that allows only a conditioned type (upstream validator crash case)", async () => {
    const m = await parseDsl(
      model(`type folder
  relations
    define viewer: [user]
type document
  relations
    define parent: [folder with x_less_than]
    define viewer: viewer from parent
condition x_less_than(x: int) {
  x < 100
}`),
    );
    expect(() => validateModel(m)).not.toThrow();
  });

  it("accepts snake_case and camelCase rewrites alike and ignores unknown fields", () => {
    const input = {
      schemaVersion: "1.1",
      typeDefinitions: [
        { type: "user", extra: true },
        {
          type: "doc",
          relations: {
            owner: { this: {} },
            viewer: { computed_userset: { relation: "owner" } },
          },
          metadata: { relations: { owner: { directlyRelatedUserTypes: [{ type: "user" }] } } },
        },
      ],
    };
    const { model: out } = validateModel(input);
    expect(out.type_definitions[1]?.relations?.viewer).toEqual({
      computedUserset: { object: "", relation: "owner" },
    });
    expect(out.type_definitions[1]?.metadata?.relations?.owner?.directly_related_user_types).toEqual([
      { type: "user" },
    ]);
  });
});

describe("validateModel: rejected models (one per error class)", () => {
  it("malformed input → 2000", () => {
    for (const bad of [
      null,
      [],
      { schema_version: "1.1" },
      { schema_version: "1.1", type_definitions: [] },
    ]) {
      expect(() => validateModel(bad)).toThrow(expect.objectContaining({ openfgaCode: 2000 }));
    }
    expect(() =>
      validateModel({
        schema_version: "1.1",
        type_definitions: [{ type: "doc", relations: { v: { this: {}, union: { child: [] } } } }],
      }),
    ).toThrow(/exactly one of/);
  });

  it("unsupported schema version → 2057", () => {
    expect(() => validateModel({ schema_version: "1.0", type_definitions: [{ type: "user" }] })).toThrow(
      expect.objectContaining({ openfgaCode: 2057, detail: expect.stringMatching(/schema version '1.0'/) }),
    );
  });

  it("more than 100 types or more than 256 KiB → 2053", () => {
    const many = {
      schema_version: "1.1",
      type_definitions: Array.from({ length: 101 }, (_, i) => ({ type: `t${i}` })),
    };
    expect(() => validateModel(many)).toThrow(
      expect.objectContaining({ openfgaCode: 2053, detail: expect.stringMatching(/limit of 100/) }),
    );
    const big = {
      schema_version: "1.1",
      type_definitions: [{ type: "user" }],
      conditions: {} as Record<string, unknown>,
    };
    const conds: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++)
      conds[`c${i}`] = { name: `c${i}`, expression: "x".repeat(300), parameters: {} };
    big.conditions = conds;
    expect(() => validateModel(big)).toThrow(
      expect.objectContaining({ openfgaCode: 2053, detail: expect.stringMatching(/bytes/) }),
    );
  });

  it("duplicate type → 2056", () => {
    expect(() =>
      validateModel({ schema_version: "1.1", type_definitions: [{ type: "user" }, { type: "user" }] }),
    ).toThrow(
      expect.objectContaining({
        openfgaCode: 2056,
        detail: expect.stringMatching(/type 'user' is defined more than once/),
      }),
    );
  });

  it("undefined relation in a computed userset → 2056", () =>
    fails(
      model(`type doc\n  relations\n    define viewer: editor`),
      2056,
      /relation 'doc#editor' used in 'doc#viewer' is not defined/,
    ));

  it("undefined tupleset → 2056", () =>
    fails(
      model(`type doc\n  relations\n    define viewer: viewer from parent`),
      2056,
      /tupleset relation 'doc#parent'/,
    ));

  it("tupleset that is not a direct relation → 2056", () =>
    fails(
      model(`type folder
  relations
    define viewer: [user]
type doc
  relations
    define owner: [folder]
    define parent: owner
    define viewer: viewer from parent`),
      2056,
      /'doc#parent' is referenced in at least one tupleset and thus must be a direct relation/,
    ));

  it("computed relation of a tuple-to-userset missing on every tupleset type → 2056", () =>
    fails(
      model(`type folder
  relations
    define owner: [user]
type doc
  relations
    define parent: [folder]
    define viewer: viewer from parent`),
      2056,
      /'viewer' .* is not defined on any of the types of 'doc#parent'/,
    ));

  it("type restriction on an undefined type or relation → 2056", async () => {
    await fails(
      model(`type doc\n  relations\n    define viewer: [group]`),
      2056,
      /type 'group' in the type restrictions of 'doc#viewer'/,
    );
    await fails(
      model(
        `type group\n  relations\n    define member: [user]\ntype doc\n  relations\n    define viewer: [group#owner]`,
      ),
      2056,
      /relation 'group#owner' in the type restrictions of 'doc#viewer' is not defined/,
    );
  });

  it("assignable relation without types, or types on a non-assignable relation → 2056", () => {
    const base = (rel: object, drut: object[]) => ({
      schema_version: "1.1",
      type_definitions: [
        { type: "user" },
        {
          type: "doc",
          relations: { owner: { this: {} }, viewer: rel },
          metadata: {
            relations: {
              owner: { directly_related_user_types: [{ type: "user" }] },
              viewer: { directly_related_user_types: drut },
            },
          },
        },
      ],
    });
    expect(() => validateModel(base({ this: {} }, []))).toThrow(
      expect.objectContaining({
        openfgaCode: 2056,
        detail: expect.stringMatching(/assignable relation 'doc#viewer' must have at least one type/),
      }),
    );
    expect(() => validateModel(base({ computedUserset: { relation: "owner" } }, [{ type: "user" }]))).toThrow(
      expect.objectContaining({
        openfgaCode: 2056,
        detail: expect.stringMatching(/not directly assignable/),
      }),
    );
  });

  it("wildcard or userset on a tupleset relation → 2056", async () => {
    const ttu = (types: string) => `type folder
  relations
    define viewer: [user]
    define member: [user]
type doc
  relations
    define parent: [${types}]
    define viewer: viewer from parent`;
    await fails(model(ttu("folder, folder:*")), 2056, /used as a tupleset.*'folder:\*'/);
    await fails(model(ttu("folder, folder#member")), 2056, /used as a tupleset.*'folder#member'/);
  });

  it("undefined condition on a type restriction → 2056", () =>
    fails(
      model(`type doc\n  relations\n    define viewer: [user with nope]`),
      2056,
      /condition 'nope' used on 'doc#viewer' is not defined/,
    ));

  it("condition that does not compile or is not boolean → 2056", async () => {
    await fails(
      model(`type doc\n  relations\n    define viewer: [user with c]\ncondition c(x: int) {\n  x + 1\n}`),
      2056,
      /condition 'c' is invalid/,
    );
    await fails(
      model(`type doc\n  relations\n    define viewer: [user with c]\ncondition c(x: int) {\n  x == "a"\n}`),
      2056,
      /condition 'c' is invalid/,
    );
  });

  it("condition key different from its name → 2056", () => {
    const m = {
      schema_version: "1.1",
      type_definitions: [{ type: "user" }],
      conditions: { a: { name: "b", expression: "true", parameters: {} } },
    };
    expect(() => validateModel(m)).toThrow(
      expect.objectContaining({ openfgaCode: 2056, detail: expect.stringMatching(/key 'a' does not match/) }),
    );
  });

  it("cycle without an entrypoint → 2056", async () => {
    await fails(
      model(`type doc\n  relations\n    define a: b\n    define b: a`),
      2056,
      /part of a cycle that has no entrypoint/,
    );
    await fails(
      model(`type group\n  relations\n    define member: [group#member]`),
      2056,
      /'group#member' has no entrypoint/,
    );
  });

  it("intersection with a branch that has no entrypoint → 2056", () =>
    fails(
      model(
        `type group\n  relations\n    define member: [group#member]\ntype doc\n  relations\n    define viewer: [user] and member_of\n    define member_of: [group#member]`,
      ),
      2056,
      /no entrypoint/,
    ));

  it("nested rewrites stay cheap to validate: accepted when sound, refused as too complex otherwise", async () => {
    // a_i: a_{i-1} and b_{i-1} (valid): the entrypoint search used to double at every level.
    const levels = (op: string, base: string) => {
      let body = `type doc\n  relations\n    define a0: ${base}\n    define b0: ${base}\n`;
      for (let i = 1; i <= 24; i++)
        body += `    define a${i}: a${i - 1} ${op} b${i - 1}\n    define b${i}: a${i - 1} ${op} b${i - 1}\n`;
      return model(body);
    };
    const ok = validateModel(await parseDsl(levels("and", "[user]")));
    expect(ok.model.type_definitions[1]?.type).toBe("doc");
    // The same with unions over relations that have no entrypoint: refused, within a step budget.
    await fails(levels("or", "[doc#a0]"), 2056, /too complex to validate|no entrypoint/);
  });

  it("DSL syntax errors → 2000", async () => {
    await expect(
      parseDsl("model\n  schema 1.1\ntype user\n  relations\n    define x: [user] orr y"),
    ).rejects.toMatchObject({
      openfgaCode: 2000,
      detail: expect.stringMatching(/invalid model DSL/),
    });
  });
});
