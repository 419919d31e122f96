/**
 * Test helper: a memory store that offers the engine's synchronous read path (`SyncTupleReader`)
 * whatever the shipped memory adapter does, so the engine's sync and batched paths are both covered.
 * It wraps `MemoryAuthzStore` (every port call is delegated) and mirrors applied writes into its own
 * per-object index.
 */
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import type { Tuple } from "../../../src/authz/model.ts";
import type { AuthzStore, ObjectTuples, SyncTupleReader, WriteRequest } from "../../../src/authz/ports.ts";

const EMPTY: readonly Tuple[] = [];
const k = (relation: string, user: string) => `${relation}\u0000${user}`;

class ObjectIndex implements ObjectTuples {
  readonly byKey = new Map<string, Tuple>();
  get(relation: string, user: string): Tuple | undefined {
    return this.byKey.get(k(relation, user));
  }
  usersets(relation: string): readonly Tuple[] {
    return [...this.byKey.values()].filter((t) => t.key.relation === relation && t.key.user.includes("#"));
  }
  tuples(relation: string): Iterable<Tuple> {
    return [...this.byKey.values()].filter((t) => t.key.relation === relation);
  }
}

type SyncStore = AuthzStore & SyncTupleReader;

export function createSyncMemoryStore(): SyncStore {
  const inner = new MemoryAuthzStore();
  const objects = new Map<string, Map<string, ObjectIndex>>();
  const head = new Map<string, string>();
  const idx = (storeId: string, object: string, create: boolean) => {
    let s = objects.get(storeId);
    if (!s && create) {
      s = new Map();
      objects.set(storeId, s);
    }
    let o = s?.get(object);
    if (!o && create && s) {
      o = new ObjectIndex();
      s.set(object, o);
    }
    return o;
  };
  const sync: SyncTupleReader = {
    readObjectSync: (storeId, object) => idx(storeId, object, false),
    headRevisionSync: (storeId) => head.get(storeId),
    readByUsersSync: (storeId, objectType, relation, users) => {
      const out: Tuple[] = [];
      for (const o of objects.get(storeId)?.values() ?? []) {
        for (const t of o.byKey.values()) {
          if (
            t.key.relation === relation &&
            t.key.object.startsWith(`${objectType}:`) &&
            users.includes(t.key.user)
          ) {
            out.push(t);
          }
        }
      }
      return out;
    },
  };
  return new Proxy(inner as unknown as SyncStore, {
    get(target, prop) {
      if (prop in sync) return sync[prop as keyof SyncTupleReader];
      if (prop === "write") {
        return async (storeId: string, request: WriteRequest, at: number, revisions: () => string) => {
          const res = await inner.write(storeId, request, at, revisions);
          for (const d of request.deletes) idx(storeId, d.object, false)?.byKey.delete(k(d.relation, d.user));
          const [stored] = await Promise.all([inner.getTuples(storeId, request.writes)]);
          for (const t of stored)
            if (t) idx(storeId, t.key.object, true)!.byKey.set(k(t.key.relation, t.key.user), t);
          head.set(storeId, res.revision);
          return res;
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

export { EMPTY };
