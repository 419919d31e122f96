/** Shared setup for the authz unit tests: a service over a memory store with one model. */
import { expect } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import {
  AuthzError,
  type AuthzOptions,
  type AuthzService,
  createAuthzService,
} from "../../../src/authz/index.ts";
import type { TupleKey } from "../../../src/authz/model.ts";
import type { AuthzStore } from "../../../src/authz/ports.ts";
import { ManualClock } from "../../../src/shared/clock.ts";

export interface Fixture {
  readonly service: AuthzService;
  readonly store: AuthzStore;
  readonly storeId: string;
  readonly modelId: string;
  readonly clock: ManualClock;
}

export async function setup(
  dsl: string,
  tuples: readonly TupleKey[] = [],
  options: AuthzOptions = {},
  store: AuthzStore = new MemoryAuthzStore(),
): Promise<Fixture> {
  const clock = new ManualClock();
  const service = createAuthzService({ store, clock, options });
  const { id: storeId } = await service.createStore({ tenantId: "tenant-1", name: "unit tests" });
  const { authorizationModelId: modelId } = await service.writeAuthorizationModelDsl(storeId, dsl);
  for (let i = 0; i < tuples.length; i += 100) {
    await service.write({ storeId, writes: { tupleKeys: tuples.slice(i, i + 100) } });
  }
  return { service, store, storeId, modelId, clock };
}

/** `"document:1#viewer@user:anne"` → tuple key. */
export function t(s: string, condition?: TupleKey["condition"]): TupleKey {
  const hash = s.indexOf("#");
  const at = s.indexOf("@", hash);
  const key = { object: s.slice(0, hash), relation: s.slice(hash + 1, at), user: s.slice(at + 1) };
  return condition ? { ...key, condition } : key;
}

/** Asserts that `p` rejects with an AuthzError of `code`, and returns it for message checks. */
export async function rejectsWith(p: Promise<unknown>, code: number): Promise<AuthzError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AuthzError);
  const err = e as AuthzError;
  expect({ code: err.openfgaCode, message: err.detail }).toMatchObject({ code });
  return err;
}

export function checker(f: Fixture) {
  return async (
    s: string,
    extra: { context?: Record<string, unknown>; contextualTuples?: TupleKey[] } = {},
  ) => {
    const k = t(s);
    const r = await f.service.check({ storeId: f.storeId, tupleKey: k, ...extra });
    return r.allowed;
  };
}
