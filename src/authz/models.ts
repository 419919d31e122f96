/**
 * Authorization models of a store: write (validate, ULID, immutable), read, list, and resolution of
 * the model a query runs against, through a per-container cache of compiled typesystems keyed by store
 * and model id (models are immutable, so entries never go stale). "Latest model" lookups are cached
 * for `latestModelTtlMs` and refreshed at once when this container writes a model.
 */

import type { Clock } from "../shared/clock.ts";
import { type IdGenerator, ULID_RE } from "../shared/ids.ts";
import { parseDsl } from "./dsl.ts";
import { AuthzError, validationError } from "./errors.ts";
import type { AuthorizationModel } from "./model.ts";
import type { AuthzStore } from "./ports.ts";
import { TypeSystem } from "./typesystem.ts";
import { type ModelLimits, validateModel } from "./validate-model.ts";

export interface ModelRegistryOptions extends ModelLimits {
  /** Compiled models kept per container. @default 500 */
  readonly cacheSize?: number;
  /** How long a store's "latest model id" is trusted without asking the store again. @default 1000 */
  readonly latestModelTtlMs?: number;
}

const ID_RE = /^[ABCDEFGHJKMNPQRSTVWXYZ0-9]{26}$/;

export class ModelRegistry {
  readonly #store: AuthzStore;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  readonly #options: ModelRegistryOptions;
  /** storeId → modelId → typesystem (insertion order = age, for eviction). */
  readonly #compiled = new Map<string, Map<string, TypeSystem>>();
  #size = 0;
  readonly #latest = new Map<string, { id: string; at: number }>();

  constructor(store: AuthzStore, clock: Clock, ids: IdGenerator, options: ModelRegistryOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#ids = ids;
    this.#options = options;
  }

  /** Validates and stores a model (JSON, wire shape) and returns its id. */
  async write(storeId: string, input: unknown): Promise<{ authorizationModelId: string }> {
    const { model, conditions } = validateModel(input, this.#options);
    const id = this.#ids.ulid();
    const stored: AuthorizationModel = { id, ...model };
    await this.#store.writeModel(storeId, stored, this.#clock.now());
    this.#remember(storeId, new TypeSystem(stored, conditions));
    this.#latest.set(storeId, { id, at: this.#clock.now() });
    return { authorizationModelId: id };
  }

  /** Parses DSL, then `write`. */
  async writeDsl(storeId: string, dsl: string): Promise<{ authorizationModelId: string }> {
    return this.write(storeId, await parseDsl(dsl));
  }

  async read(storeId: string, modelId: string): Promise<AuthorizationModel> {
    return (await this.resolve(storeId, modelId)).model;
  }

  /** The typesystem when it is cached (no I/O, no promise): the hot path of every query. */
  cached(storeId: string, modelId?: string): TypeSystem | undefined {
    let id = modelId;
    if (id === undefined || id === "") {
      const latest = this.#latest.get(storeId);
      if (!latest || this.#clock.now() - latest.at >= (this.#options.latestModelTtlMs ?? 1000))
        return undefined;
      id = latest.id;
    }
    return this.#compiled.get(storeId)?.get(id);
  }

  /**
   * The typesystem for a query: the given model, or the store's latest one.
   * Unknown id → 2001; no model at all → 2020; malformed id → 2000.
   */
  async resolve(storeId: string, modelId?: string): Promise<TypeSystem> {
    let id = modelId;
    if (id === undefined || id === "") {
      const now = this.#clock.now();
      const cached = this.#latest.get(storeId);
      const ttl = this.#options.latestModelTtlMs ?? 1000;
      if (cached && now - cached.at < ttl) id = cached.id;
      else {
        const page = await this.#store.listModels(storeId, { limit: 1 });
        const latest = page.items[0];
        if (!latest) {
          throw new AuthzError(
            "latest_authorization_model_not_found",
            `No authorization models found for store '${storeId}'`,
          );
        }
        this.#latest.set(storeId, { id: latest.id, at: now });
        const hit = this.#compiled.get(storeId)?.get(latest.id);
        if (hit) return hit;
        return this.#remember(storeId, new TypeSystem(latest));
      }
    } else {
      const hit = this.#compiled.get(storeId)?.get(id);
      if (hit) return hit;
      if (!ID_RE.test(id)) throw validationError(`invalid 'authorization_model_id' '${id}'`);
    }
    const hit = this.#compiled.get(storeId)?.get(id);
    if (hit) return hit;
    const model = await this.#store.getModel(storeId, id);
    if (!model)
      throw new AuthzError("authorization_model_not_found", `Authorization Model '${id}' not found`);
    return this.#remember(storeId, new TypeSystem(model));
  }

  #remember(storeId: string, ts: TypeSystem): TypeSystem {
    const max = this.#options.cacheSize ?? 500;
    if (this.#size >= max) {
      // Evict the oldest model of the store cached first.
      for (const [sid, models] of this.#compiled) {
        const oldest = models.keys().next();
        if (!oldest.done) {
          models.delete(oldest.value);
          this.#size--;
        }
        if (models.size === 0) this.#compiled.delete(sid);
        break;
      }
    }
    let models = this.#compiled.get(storeId);
    if (!models) {
      models = new Map();
      this.#compiled.set(storeId, models);
    }
    if (!models.has(ts.id)) this.#size++;
    models.set(ts.id, ts);
    return ts;
  }
}

export { ULID_RE };
