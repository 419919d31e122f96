/**
 * Where and at what freshness a query runs (docs/CONSISTENCY.md):
 *
 * - `MINIMIZE_LATENCY` / unspecified: this region, caches allowed (the store revision and latest
 *   model this container knows, refreshed at most every `revisionTtlMs`).
 * - `HIGHER_CONSISTENCY`: this region, no check cache, latest model read from the store.
 * - a consistency token (header) written in THIS region: this region's strongly consistent reads
 *   see it; caches are used only when what the container knows is at least the token's revision
 *   (otherwise one head read brings it up to date).
 * - a token written in ANOTHER region: this region's replica may lag (DynamoDB global tables
 *   replicate asynchronously, item by item). The query goes to the writing region's replica when
 *   that region is a configured peer. With `replicaSettleMs > 0`, this region's replica is used
 *   instead once the token's change has arrived here and is at least that old. When neither
 *   applies, the request waits up to `replicaWaitMs` and is then refused with 503 `unavailable`
 *   (retryable) rather than answered from older state.
 */
import { decodeTime } from "ulid";
import type { HttpRequest } from "../../http/types.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Watermark } from "../caching/watermark.ts";
import type { AuthzService, AuthzStore, ConsistencyPreference } from "../index.ts";
import {
  CONSISTENCY_TOKEN_HEADER,
  type ConsistencyToken,
  decodeConsistencyToken,
} from "./consistency-token.ts";
import { replicaBehind } from "./errors.ts";

export interface ReadPolicy {
  readonly preference: ConsistencyPreference;
  readonly token?: ConsistencyToken;
}

/** The request's consistency: the body's `consistency` plus the optional token header. */
export function readPolicy(
  req: HttpRequest,
  storeId: string,
  preference: ConsistencyPreference | undefined,
): ReadPolicy {
  const header = req.headers[CONSISTENCY_TOKEN_HEADER];
  const p = preference ?? "UNSPECIFIED";
  return header ? { preference: p, token: decodeConsistencyToken(header, storeId) } : { preference: p };
}

/** Where a query runs. `revision`: the check-cache stamp to use (absent: do not use caches). */
export interface QueryTarget {
  readonly service: AuthzService;
  /** False when the query runs on another region's replica. */
  readonly local: boolean;
  readonly revision?: string;
}

export interface ConsistencyDeps {
  readonly service: AuthzService;
  readonly store: Pick<AuthzStore, "readChanges">;
  readonly region: string;
  /** The service of another region's replica (configured peers only). */
  readonly peer: (region: string) => AuthzService | undefined;
  readonly revisions: Watermark;
  readonly models: Watermark;
  readonly clock: Clock;
  readonly replicaSettleMs: number;
  readonly replicaWaitMs: number;
  readonly count: (metric: string) => void;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

const POLL_MS = 50;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The ULID just before `u` (so "changes after it" starts at `u` itself). */
export function predecessor(u: string): string {
  const chars = u.split("");
  for (let i = chars.length - 1; i >= 0; i--) {
    const v = CROCKFORD.indexOf(chars[i]!);
    if (v > 0) {
      chars[i] = CROCKFORD[v - 1]!;
      return chars.join("");
    }
    chars[i] = "Z";
  }
  return "";
}

export class Consistency {
  readonly #d: ConsistencyDeps;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(deps: ConsistencyDeps) {
    this.#d = deps;
    this.#sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Picks the replica and the cache stamp for a query on `storeId`. */
  async target(storeId: string, policy: ReadPolicy): Promise<QueryTarget> {
    const d = this.#d;
    const t = policy.token;
    if (t !== undefined && t.region !== d.region) {
      if (d.replicaSettleMs > 0 && (await this.#replicaHas(storeId, t))) {
        d.count("replica_local_after_settle");
        return this.#local(storeId, policy);
      }
      const peer = d.peer(t.region);
      if (peer) {
        d.count("replica_fallback_writer_region");
        return { service: peer, local: false };
      }
      if (d.replicaSettleMs > 0) {
        const deadline = d.clock.now() + d.replicaWaitMs;
        while (d.clock.now() < deadline) {
          await this.#sleep(POLL_MS);
          if (await this.#replicaHas(storeId, t)) {
            d.count("replica_local_after_wait");
            return this.#local(storeId, policy);
          }
        }
      }
      d.count("replica_refused");
      throw replicaBehind(
        `this region's replica cannot yet serve a consistency token written in region '${t.region}'`,
      );
    }
    return this.#local(storeId, policy);
  }

  /**
   * The model a query runs with when the request names none: the latest one, as fresh as the policy
   * asks. `undefined` when the store has no model (the engine then reports 2020).
   */
  async latestModel(storeId: string, policy: ReadPolicy, target: QueryTarget): Promise<string | undefined> {
    const d = this.#d;
    const t = policy.token;
    if (!target.local) return t?.modelId || undefined;
    let id: string;
    if (policy.preference === "HIGHER_CONSISTENCY") id = await d.models.fresh(storeId);
    else if (t?.modelId) {
      id = await d.models.atLeast(storeId, t.modelId);
      if (id < t.modelId) id = await d.models.fresh(storeId);
      if (id < t.modelId) {
        d.count("replica_refused");
        throw replicaBehind("the authorization model named by the consistency token is not visible yet");
      }
    } else id = await d.models.current(storeId);
    return id === "" ? undefined : id;
  }

  async #local(storeId: string, policy: ReadPolicy): Promise<QueryTarget> {
    const d = this.#d;
    const t = policy.token;
    if (policy.preference === "HIGHER_CONSISTENCY") {
      // Strongly consistent reads of this region; a token still has to be visible here.
      if (t?.revision) await this.#awaitRevision(storeId, t.revision);
      return { service: d.service, local: true };
    }
    if (t?.revision)
      return { service: d.service, local: true, revision: await this.#awaitRevision(storeId, t.revision) };
    return { service: d.service, local: true, revision: await d.revisions.current(storeId) };
  }

  /** This region's head revision once it is `>= revision`; waits up to `replicaWaitMs`, then 503. */
  async #awaitRevision(storeId: string, revision: string): Promise<string> {
    const d = this.#d;
    let head = await d.revisions.atLeast(storeId, revision);
    if (head >= revision) return head;
    const deadline = d.clock.now() + d.replicaWaitMs;
    for (;;) {
      head = await d.revisions.fresh(storeId);
      if (head >= revision) return head;
      if (d.clock.now() >= deadline) break;
      await this.#sleep(POLL_MS);
    }
    d.count("replica_refused");
    throw replicaBehind("this region has not yet seen the write named by the consistency token");
  }

  /** The token's own change is in this region's changelog, and old enough to trust the replica. */
  async #replicaHas(storeId: string, t: ConsistencyToken): Promise<boolean> {
    if (t.revision === "") return true;
    if (this.#d.clock.now() - decodeTime(t.revision) < this.#d.replicaSettleMs) return false;
    const page = await this.#d.store.readChanges(storeId, { limit: 1, cursor: predecessor(t.revision) });
    return page.items[0]?.revision === t.revision;
  }
}
