/**
 * The key ring: which key signs, which keys the JWKS publishes, and the rotation state machine
 * `next → current → previous → retired` on top of a KeyStore and a KeyProvider.
 *
 * Timing rules (docs/runbooks/key-rotation.md): a `next` key must be published for at least
 * `publishBeforeUseMs` (JWKS cache lifetime + this ring's cache TTL) before it may sign, so
 * verifiers already have it; a `previous` key stays published until `maxTokenLifetimeMs` plus clock
 * skew after it stopped signing, so every token it signed expires before it disappears.
 */
import type { Clock } from "../shared/clock.ts";
import { conflict, DomainError, notFound } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { KeyRecord, KeyRingSnapshot, NewKey, PublicJwk, SigningAlg } from "./model.ts";
import type { KeyProvider, KeyStore, Signer } from "./ports.ts";

/** Options of {@link KeyRing}. */
export interface KeyRingOptions {
  readonly store: KeyStore;
  readonly provider: KeyProvider;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Algorithm of new keys. @default "ES256" */
  readonly alg?: SigningAlg;
  /** How long a loaded ring is served before it is reloaded. @default 60000 */
  readonly cacheTtlMs?: number;
  /** Minimum time a `next` key is published before a rotation may promote it. @default 420000 */
  readonly publishBeforeUseMs?: number;
  /** Longest lifetime of any token the ring signs. */
  readonly maxTokenLifetimeMs: number;
  /** Clock skew verifiers are allowed. @default 60000 */
  readonly clockSkewMs?: number;
}

/** What a rotation did. */
export interface RotationResult {
  /** `promoted`: next became current (and a new next was published); `published`: only a next was added. */
  readonly action: "promoted" | "published" | "bootstrapped";
  readonly keys: readonly KeyRecord[];
}

interface View {
  readonly loadedAt: number;
  readonly snapshot: KeyRingSnapshot;
  readonly signing: KeyRecord | undefined;
  readonly published: readonly PublicJwk[];
  readonly byKid: ReadonlyMap<string, KeyRecord>;
  /** The signing key's signer, resolved once per view. */
  signer?: Promise<Signer>;
}

const byNewest = (a: KeyRecord, b: KeyRecord) =>
  (b.activatedAt ?? b.createdAt) - (a.activatedAt ?? a.createdAt) || (a.kid < b.kid ? -1 : 1);

/** The key that signs: the newest `current` (several can exist briefly after a cross-region race). */
export const signingKeyOf = (keys: readonly KeyRecord[]): KeyRecord | undefined =>
  keys.filter((k) => k.state === "current").sort(byNewest)[0];

/** Key ring service; one per container. */
export class KeyRing {
  readonly #o: Required<Omit<KeyRingOptions, "log">> & { log: Logger | undefined };
  #view: View | undefined;
  #loading: Promise<View> | undefined;
  #lastMissReload = Number.NEGATIVE_INFINITY;

  constructor(options: KeyRingOptions) {
    this.#o = {
      alg: "ES256",
      cacheTtlMs: 60_000,
      publishBeforeUseMs: 420_000,
      clockSkewMs: 60_000,
      ...options,
      log: options.log,
    };
  }

  /** Algorithm of new keys. */
  get alg(): SigningAlg {
    return this.#o.alg;
  }

  #build(snapshot: KeyRingSnapshot): View {
    const live = snapshot.keys.filter((k) => k.state !== "retired");
    return {
      loadedAt: this.#o.clock.now(),
      snapshot,
      signing: signingKeyOf(live),
      published: [...live].sort(byNewest).map((k) => k.publicJwk),
      byKid: new Map(live.map((k) => [k.kid, k])),
    };
  }

  #reload(): Promise<View> {
    if (!this.#loading) {
      this.#loading = this.#o.store
        .load()
        .then((s) => {
          this.#view = this.#build(s);
          return this.#view;
        })
        .finally(() => {
          this.#loading = undefined;
        });
    }
    return this.#loading;
  }

  /** The cached ring; reloaded in the background when stale, awaited when very stale or absent. */
  async #current(): Promise<View> {
    const v = this.#view;
    if (!v) return this.#reload();
    const age = this.#o.clock.now() - v.loadedAt;
    if (age < this.#o.cacheTtlMs) return v;
    if (age < this.#o.cacheTtlMs * 5) {
      this.#reload().catch((err: unknown) => this.#o.log?.warn("key ring reload failed", { err }));
      return v;
    }
    return this.#reload();
  }

  /** Drops the cache so the next call reads the store (after this container changed the ring). */
  invalidate(): void {
    this.#view = undefined;
  }

  /** The signer of the current key; bootstraps an empty ring. */
  signer(): Promise<Signer> {
    // The hot path (every token): a fresh view whose signer is resolved or resolving.
    const v = this.#view;
    if (v?.signer !== undefined && this.#o.clock.now() - v.loadedAt < this.#o.cacheTtlMs) return v.signer;
    return this.#signer();
  }

  async #signer(): Promise<Signer> {
    let v = await this.#current();
    if (!v.signing) {
      await this.initialize();
      v = await this.#reload();
    }
    if (!v.signing) throw new DomainError("unavailable", "No signing key is available.");
    if (!v.signer) {
      v.signer = this.#o.provider.signer(v.signing);
      v.signer.catch(() => {
        v.signer = undefined;
      });
    }
    return v.signer;
  }

  /** The published keys (next, current, previous), newest first. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    return { keys: [...(await this.#current()).published] };
  }

  /**
   * A published key by `kid` for verification. An unknown `kid` triggers one reload (at most every
   * 5 s), so this container follows rotations made elsewhere.
   */
  async verificationKey(kid: string): Promise<PublicJwk | undefined> {
    const v = await this.#current();
    const hit = v.byKid.get(kid);
    if (hit) return hit.publicJwk;
    const now = this.#o.clock.now();
    if (now - this.#lastMissReload < 5_000) return undefined;
    this.#lastMissReload = now;
    return (await this.#reload()).byKid.get(kid)?.publicJwk;
  }

  /** Every key with its state, read from the store (not the cache), newest first. */
  async list(): Promise<KeyRecord[]> {
    return [...(await this.#o.store.load()).keys].sort((a, b) => b.createdAt - a.createdAt);
  }

  async #commit(version: number, changed: KeyRecord[]): Promise<void> {
    await this.#o.store.commit(version, changed);
    this.invalidate();
  }

  /** Fills an empty ring (current, plus next where the provider can create one). No-op otherwise. */
  async initialize(): Promise<RotationResult> {
    const snap = await this.#o.store.load();
    if (snap.keys.some((k) => k.state === "current")) return { action: "bootstrapped", keys: [] };
    const now = this.#o.clock.now();
    const created: NewKey[] = await this.#o.provider.bootstrap(this.#o.alg);
    const keys: KeyRecord[] = created.map((k, i) => ({
      ...k,
      state: i === 0 ? "current" : "next",
      createdAt: now,
      ...(i === 0 ? { activatedAt: now } : {}),
    }));
    try {
      await this.#commit(snap.version, keys);
    } catch (err) {
      // Another container bootstrapped first: use its keys.
      if (err instanceof DomainError && err.code === "conflict") return { action: "bootstrapped", keys: [] };
      throw err;
    }
    this.#o.log?.info("key ring bootstrapped", { kids: keys.map((k) => k.kid) });
    return { action: "bootstrapped", keys };
  }

  /**
   * One rotation step. With a `next` key published long enough: next → current, current →
   * previous, and a new next is published. Without a next key: a next key is published only.
   * `force` promotes a next key that is younger than the publish-before-use time (emergencies);
   * `adoptKeyId` publishes an existing KMS key as the new next instead of creating one.
   */
  async rotate(options: { force?: boolean; adoptKeyId?: string } = {}): Promise<RotationResult> {
    const snap = await this.#o.store.load();
    const live = snap.keys.filter((k) => k.state !== "retired");
    if (live.length === 0) return this.initialize();
    const now = this.#o.clock.now();
    const next = live.filter((k) => k.state === "next").sort(byNewest)[0];
    const changed: KeyRecord[] = [];
    let action: RotationResult["action"] = "published";
    if (next) {
      const readyAt = next.createdAt + this.#o.publishBeforeUseMs;
      if (now < readyAt && !options.force) {
        throw conflict(
          `Key ${next.kid} has been published for ${Math.floor((now - next.createdAt) / 1000)} s; it may ` +
            `sign from ${new Date(readyAt).toISOString()} (publish before use). Rotate then, or force it.`,
        );
      }
      for (const k of live.filter((k) => k.state === "current"))
        changed.push({ ...k, state: "previous", deactivatedAt: now });
      changed.push({ ...next, state: "current", activatedAt: now });
      action = "promoted";
    }
    const current = next ?? signingKeyOf(live);
    if (options.adoptKeyId && !this.#o.provider.adopt)
      throw new DomainError("validation", "Adopting an existing key needs the kms signer.");
    const fresh = options.adoptKeyId
      ? await this.#o.provider.adopt!(options.adoptKeyId, this.#o.alg)
      : await this.#o.provider.create(this.#o.alg, current ? { current } : {});
    if (snap.keys.some((k) => k.kid === fresh.kid))
      throw conflict(`Key ${fresh.kid} is already in the ring.`);
    changed.push({ ...fresh, state: "next", createdAt: now });
    await this.#commit(snap.version, changed);
    this.#o.log?.info("key ring rotated", { action, kids: changed.map((k) => `${k.kid}:${k.state}`) });
    return { action, keys: changed };
  }

  /** When a previous key may be retired: its last token has expired everywhere. */
  retirableAt(k: KeyRecord): number {
    return (k.deactivatedAt ?? k.createdAt) + this.#o.maxTokenLifetimeMs + this.#o.clockSkewMs;
  }

  /**
   * Retires (unpublishes) keys. Without `kid`: every previous key past its retention. With `kid`: that
   * key, which must be previous (past retention unless `force`) or next. The current key never.
   */
  async retire(options: { kid?: string; force?: boolean } = {}): Promise<KeyRecord[]> {
    const snap = await this.#o.store.load();
    const now = this.#o.clock.now();
    let targets: KeyRecord[];
    if (options.kid !== undefined) {
      const k = snap.keys.find((x) => x.kid === options.kid);
      if (!k) throw notFound("No such key.");
      if (k.state === "retired") return [];
      if (k.state === "current") throw conflict("The current key cannot be retired; rotate first.");
      if (k.state === "previous" && now < this.retirableAt(k) && !options.force)
        throw conflict(
          `Key ${k.kid} may have signed tokens that are still valid; it may be retired from ` +
            `${new Date(this.retirableAt(k)).toISOString()}, or force it.`,
        );
      targets = [k];
    } else {
      targets = snap.keys.filter((k) => k.state === "previous" && now >= this.retirableAt(k));
    }
    if (targets.length === 0) return [];
    const changed = targets.map((k): KeyRecord => ({ ...k, state: "retired", retiredAt: now }));
    await this.#commit(snap.version, changed);
    this.#o.log?.info("keys retired", { kids: changed.map((k) => k.kid) });
    return changed;
  }
}
