import { conflict } from "../../shared/errors.ts";
import type { KeyRecord, KeyRingSnapshot } from "../model.ts";
import type { KeyStore } from "../ports.ts";

/** In-memory KeyStore: the embedded default and the reference for the contract. */
export class MemoryKeyStore implements KeyStore {
  #version = 0;
  readonly #keys = new Map<string, KeyRecord>();

  async load(): Promise<KeyRingSnapshot> {
    return { version: this.#version, keys: [...this.#keys.values()].map((k) => structuredClone(k)) };
  }

  async commit(expectedVersion: number, changed: readonly KeyRecord[]): Promise<number> {
    if (expectedVersion !== this.#version) throw conflict("The key ring was changed concurrently.");
    for (const k of changed) this.#keys.set(k.kid, structuredClone(k));
    this.#version += 1;
    return this.#version;
  }
}
