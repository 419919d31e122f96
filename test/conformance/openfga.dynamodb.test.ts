/**
 * A representative slice of the shared OpenFGA conformance cases against DynamoDB Local (the full
 * set runs on the memory store; `npm run conformance -- <dir> --store dynamodb` runs all of it here):
 * every rewrite kind, wildcards, usersets, cycles, depth limit, contextual-tuple validation,
 * multi-stage model changes, conditions of every parameter type in the data, and both variants
 * (stored tuples and `_ctxTuples`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbAuthzStore } from "../../src/authz/adapters/dynamodb.ts";
import { loadConformanceTests } from "../../src/authz/conformance/loader.ts";
import { runConformanceTest, variantsOf } from "../../src/authz/conformance/runner.ts";
import { type AuthzService, createAuthzService } from "../../src/authz/index.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { OPENFGA_CONFORMANCE_DIR } from "./openfga-data.ts";

const SLICE = new Set([
  // consolidated_1_1_tests.yaml
  "this",
  "computed_userset",
  "tuple_to_userset",
  "this_and_union",
  "this_and_intersection",
  "this_and_exclusion_base",
  "userset_as_user",
  "wildcard_direct",
  "prior_type_restrictions_ignored",
  "check_with_invalid_tuple_in_store",
  "wildcard_obeys_the_types_in_stages",
  "validation_invalid_wildcard_in_contextual_tuple",
  "resolution_too_complex_throws_error",
  "nested_usersets_are_recursively_expanded",
  "cycle_or_cycle_return_false",
  "ttu_multiple_parents",
  "list_objects_expands_wildcard_tuple",
  "exclusion_under_wildcard_in_intersection",
  // abac_tests.yaml
  "indirect_relation_with_condition",
  "nested_indirect_relation_with_condition",
  "relation_through_ttu_with_condition",
  "ttu_mix_with_userset_member_condition",
  "handles_floats",
  "prior_conditions_ignored",
  "wildcard_with_condition",
]);

const tests = (await loadConformanceTests([OPENFGA_CONFORMANCE_DIR])).filter((t) => SLICE.has(t.name));
const ddb = useDynamoDbTables();
let store: DynamoDbAuthzStore;
let service: AuthzService;

beforeAll(() => {
  store = new DynamoDbAuthzStore(ddb.client, ddb.names.authz);
  service = createAuthzService({ store });
});

describe("OpenFGA conformance slice (DynamoDB Local)", () => {
  it("selects the whole slice", () => {
    expect(new Set(tests.map((t) => t.name))).toEqual(SLICE);
  });

  for (const test of tests) {
    for (const variant of variantsOf(test)) {
      it(`${test.file} ${variant === "ctxTuples" ? `${test.name}_ctxTuples` : test.name}`, async () => {
        const report = await runConformanceTest(test, variant, { store }, service);
        expect(report.failures).toEqual([]);
        expect(report.passed).toBeGreaterThan(0);
      });
    }
  }
});
