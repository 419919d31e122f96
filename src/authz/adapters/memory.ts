import { isDeepStrictEqual } from "node:util";
import { conflict } from "../../shared/errors.ts";
import type { Assertion, AuthorizationModel, StoreRecord, Tuple, TupleChange, TupleKey } from "../model.ts";
import {
  type AuthzStore,
  type ObjectRelationQuery,
  type ObjectTuples,
  type Page,
  type ReverseQuery,
  type SyncTupleReader,
  type TupleFilter,
  type TupleLookup,
  TupleWriteConflict,
  type WriteRequest,
} from "../ports.ts";
import { ObjectIndex } from "./memory-index.ts";

const SEP = "\u0000";
const revKey = (objectType: string, relation: string, user: string) =>
  `${objectType}${SEP}${relation}${SEP}${user}`;
const typeOf = (object: string) => object.slice(0, object.indexOf(":"));

function sameCondition(a: TupleKey, b: TupleKey): boolean {
  if ((a.condition?.name ?? "") !== (b.condition?.name ?? "")) return false;
  // Contexts are maps (protobuf Struct): key order does not make them different.
  return isDeepStrictEqual(a.condition?.context ?? {}, b.condition?.context ?? {});
}

const EMPTY: readonly Tuple[] = Object.freeze([]);

/** Per-store state. Forward: object → its index. Reverse: type#relation#user → objects. */
interface StoreData {
  readonly forward: Map<string, ObjectIndex>;
  /** Object ids for edges (`IndexedObjectTuples`): one small integer per object string ever indexed. */
  readonly ids: Map<string, number>;
  readonly idOf: (object: string) => number;
  readonly reverse: Map<string, Map<string, Tuple>>;
  readonly changes: TupleChange[];
  readonly models: AuthorizationModel[];
  readonly assertions: Map<string, Assertion[]>;
}

function paginate<T>(items: readonly T[], keyOf: (t: T) => string, limit: number, cursor?: string): Page<T> {
  const start = cursor === undefined ? 0 : items.findIndex((t) => keyOf(t) > cursor);
  if (start < 0) return { items: [] };
  const slice = items.slice(start, start + limit);
  const last = slice.at(-1);
  return start + limit < items.length && last ? { items: slice, cursor: keyOf(last) } : { items: slice };
}

/**
 * In-memory AuthzStore: the embedded default and the reference behaviour of the contract suite.
 * Reads answer from Maps with no I/O; the batch methods still return promises, per the port.
 */
export class MemoryAuthzStore implements AuthzStore, SyncTupleReader {
  readonly #stores = new Map<string, StoreRecord>();
  readonly #data = new Map<string, StoreData>();

  #d(storeId: string): StoreData {
    let d = this.#data.get(storeId);
    if (!d) {
      const ids = new Map<string, number>();
      const idOf = (object: string) => {
        let id = ids.get(object);
        if (id === undefined) {
          id = ids.size;
          ids.set(object, id);
        }
        return id;
      };
      d = {
        forward: new Map(),
        ids,
        idOf,
        reverse: new Map(),
        changes: [],
        models: [],
        assertions: new Map(),
      };
      this.#data.set(storeId, d);
    }
    return d;
  }

  async createStore(store: StoreRecord): Promise<void> {
    if (this.#stores.has(store.id)) throw conflict("Store already exists.");
    this.#stores.set(store.id, { ...store });
  }

  async getStore(id: string): Promise<StoreRecord | undefined> {
    const s = this.#stores.get(id);
    return s && { ...s };
  }

  async listStores(
    tenantId: string,
    options: { limit: number; cursor?: string; name?: string },
  ): Promise<Page<StoreRecord>> {
    const all = [...this.#stores.values()]
      .filter((s) => s.tenantId === tenantId && s.deletedAt === undefined)
      .filter((s) => options.name === undefined || s.name === options.name)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({ ...s }));
    return paginate(all, (s) => s.id, options.limit, options.cursor);
  }

  async deleteStore(id: string, at: number): Promise<void> {
    const s = this.#stores.get(id);
    if (s && s.deletedAt === undefined) this.#stores.set(id, { ...s, deletedAt: at, updatedAt: at });
  }

  async writeModel(storeId: string, model: AuthorizationModel): Promise<void> {
    const d = this.#d(storeId);
    if (d.models.some((m) => m.id === model.id)) throw conflict("Model already exists.");
    d.models.push(structuredClone(model));
    d.models.sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  async getModel(storeId: string, modelId: string): Promise<AuthorizationModel | undefined> {
    const m = this.#data.get(storeId)?.models.find((x) => x.id === modelId);
    return m && structuredClone(m);
  }

  async listModels(
    storeId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<AuthorizationModel>> {
    const models = this.#data.get(storeId)?.models ?? [];
    const start = options.cursor === undefined ? 0 : models.findIndex((m) => m.id < options.cursor!);
    if (start < 0) return { items: [] };
    const slice = models.slice(start, start + options.limit).map((m) => structuredClone(m));
    const last = slice.at(-1);
    return start + options.limit < models.length && last
      ? { items: slice, cursor: last.id }
      : { items: slice };
  }

  async getTuples(storeId: string, lookups: readonly TupleLookup[]): Promise<(Tuple | undefined)[]> {
    const d = this.#data.get(storeId);
    return lookups.map((l) => d?.forward.get(l.object)?.get(l.relation, l.user));
  }

  async readUsersetTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    const d = this.#data.get(storeId);
    return queries.map((q) => [...(d?.forward.get(q.object)?.usersets(q.relation) ?? EMPTY)]);
  }

  async readTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    const d = this.#data.get(storeId);
    return queries.map((q) => [...(d?.forward.get(q.object)?.tuples(q.relation) ?? EMPTY)]);
  }

  // ---- SyncTupleReader: the authz engine's promise-free fast path ----

  readObjectSync(storeId: string, object: string): ObjectTuples | undefined {
    return this.#data.get(storeId)?.forward.get(object);
  }

  headRevisionSync(storeId: string): string | undefined {
    return this.#data.get(storeId)?.changes.at(-1)?.revision;
  }

  readByUsersSync(storeId: string, objectType: string, relation: string, users: readonly string[]): Tuple[] {
    const d = this.#data.get(storeId);
    const out: Tuple[] = [];
    for (const u of users) {
      const m = d?.reverse.get(revKey(objectType, relation, u));
      if (m) for (const t of m.values()) out.push(t);
    }
    return out;
  }

  async readByUsers(storeId: string, queries: readonly ReverseQuery[]): Promise<Tuple[][]> {
    const d = this.#data.get(storeId);
    return queries.map((q) => {
      const out: Tuple[] = [];
      for (const u of q.users) {
        const m = d?.reverse.get(revKey(q.objectType, q.relation, u));
        if (m) for (const t of m.values()) out.push(t);
      }
      return out;
    });
  }

  async write(
    storeId: string,
    request: WriteRequest,
    at: number,
    revisions: () => string,
  ): Promise<{ revision: string }> {
    const d = this.#d(storeId);
    // Validate everything first: all or nothing.
    const toDelete: TupleKey[] = [];
    for (const k of request.deletes) {
      const existing = d.forward.get(k.object)?.get(k.relation, k.user);
      if (existing) toDelete.push(existing.key);
      else if (request.onMissing === "error") throw new TupleWriteConflict("missing", k);
    }
    const toWrite: TupleKey[] = [];
    for (const k of request.writes) {
      const existing = d.forward.get(k.object)?.get(k.relation, k.user);
      if (!existing) toWrite.push(k);
      else if (request.onDuplicate === "error") throw new TupleWriteConflict("duplicate", k);
      else if (!sameCondition(existing.key, k)) throw new TupleWriteConflict("condition_mismatch", k);
    }
    for (const k of toDelete) {
      if (d.forward.get(k.object)?.remove(k.relation, k.user)) d.forward.delete(k.object);
      d.reverse.get(revKey(typeOf(k.object), k.relation, k.user))?.delete(k.object);
      d.changes.push({
        key: { object: k.object, relation: k.relation, user: k.user },
        operation: "delete",
        timestamp: at,
        revision: revisions(),
      });
    }
    for (const k of toWrite) {
      const key = structuredClone(k);
      const tuple: Tuple = { key, timestamp: at };
      let idx = d.forward.get(k.object);
      if (!idx) {
        idx = new ObjectIndex(d.idOf);
        d.forward.set(k.object, idx);
      }
      idx.add(tuple);
      const rk = revKey(typeOf(k.object), k.relation, k.user);
      let rm = d.reverse.get(rk);
      if (!rm) {
        rm = new Map();
        d.reverse.set(rk, rm);
      }
      rm.set(k.object, tuple);
      d.changes.push({ key, operation: "write", timestamp: at, revision: revisions() });
    }
    const head = d.changes.at(-1)?.revision;
    return { revision: head ?? "" };
  }

  async readPage(
    storeId: string,
    filter: TupleFilter,
    options: { limit: number; cursor?: string },
  ): Promise<Page<Tuple>> {
    const d = this.#data.get(storeId);
    if (!d) return { items: [] };
    const objectIsType = filter.object?.endsWith(":") === true;
    const all: Tuple[] = [];
    for (const idx of d.forward.values()) {
      for (const r of idx.all.values())
        for (const t of r.values()) {
          const k = t.key;
          if (filter.object !== undefined) {
            if (objectIsType ? !k.object.startsWith(filter.object) : k.object !== filter.object) continue;
          }
          if (filter.relation !== undefined && k.relation !== filter.relation) continue;
          if (filter.user !== undefined && k.user !== filter.user) continue;
          all.push(t);
        }
    }
    const keyOf = (t: Tuple) => `${t.key.object}${SEP}${t.key.relation}${SEP}${t.key.user}`;
    all.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    return paginate(all, keyOf, options.limit, options.cursor);
  }

  async readChanges(
    storeId: string,
    options: { limit: number; cursor?: string; objectType?: string; startTime?: number },
  ): Promise<Page<TupleChange>> {
    const changes = (this.#data.get(storeId)?.changes ?? []).filter(
      (c) =>
        (options.objectType === undefined || typeOf(c.key.object) === options.objectType) &&
        (options.cursor !== undefined || options.startTime === undefined || c.timestamp >= options.startTime),
    );
    return paginate(changes, (c) => c.revision, options.limit, options.cursor);
  }

  async headRevision(storeId: string): Promise<string | undefined> {
    return this.#data.get(storeId)?.changes.at(-1)?.revision;
  }

  async writeAssertions(storeId: string, modelId: string, assertions: readonly Assertion[]): Promise<void> {
    this.#d(storeId).assertions.set(modelId, structuredClone([...assertions]));
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    return structuredClone(this.#data.get(storeId)?.assertions.get(modelId) ?? []);
  }
}
