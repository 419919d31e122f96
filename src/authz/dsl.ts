/**
 * OpenFGA DSL → model JSON, through `@openfga/syntax-transformer` (loaded lazily: it pulls in an
 * ANTLR parser that the query path never needs). Syntax errors become 2000 `validation_error`;
 * semantic validation is `validateModel`'s job (the transformer's own validator is not used as a gate).
 */
import { validationError } from "./errors.ts";
import type { AuthorizationModelInput } from "./model.ts";

interface Transformer {
  transformDSLToJSONObject(dsl: string): unknown;
  transformModuleFilesToModel(files: { name: string; contents: string }[], schemaVersion: string): unknown;
  transformModFileToJSON(mod: string): {
    schema: { value: string };
    contents: { value: { value: string }[] };
  };
}

let transformer: Promise<Transformer> | undefined;

async function load(): Promise<Transformer> {
  transformer ??= import("@openfga/syntax-transformer").then(
    (m) => (m as unknown as { transformer: Transformer }).transformer,
  );
  return transformer;
}

function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, " ").trim().slice(0, 2000);
}

/** Parses a DSL model (`model\n  schema 1.1\ntype user ...`) into the JSON shape. */
export async function parseDsl(dsl: string): Promise<AuthorizationModelInput> {
  if (typeof dsl !== "string" || dsl.trim() === "") throw validationError("the model DSL is empty");
  const t = await load();
  try {
    return t.transformDSLToJSONObject(dsl) as AuthorizationModelInput;
  } catch (e) {
    throw validationError(`invalid model DSL: ${errorMessage(e)}`);
  }
}

/**
 * Parses a modular model (schema 1.2): the `fga.mod` manifest plus the module files it lists, given
 * as `{name, contents}` where `name` matches the manifest's paths.
 */
export async function parseModularDsl(
  fgaMod: string,
  files: readonly { name: string; contents: string }[],
): Promise<AuthorizationModelInput> {
  const t = await load();
  try {
    const mod = t.transformModFileToJSON(fgaMod);
    const wanted = mod.contents.value.map((c) => c.value);
    const byName = new Map(files.map((f) => [f.name, f]));
    const selected = wanted.map((name) => {
      const f = byName.get(name);
      if (!f) throw new Error(`module file '${name}' listed in fga.mod was not provided`);
      return { name: f.name, contents: f.contents };
    });
    return t.transformModuleFilesToModel(selected, mod.schema.value) as AuthorizationModelInput;
  } catch (e) {
    throw validationError(`invalid modular model: ${errorMessage(e)}`);
  }
}
