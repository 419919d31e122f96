/** A tenant (organization): the unit of isolation for every other resource. */
export interface Tenant {
  readonly id: string;
  readonly name: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; set when soft-deleted. A deleted tenant authenticates nothing. */
  readonly deletedAt?: number;
}

/** A preshared per-tenant API key as stored: only the hash of the key, never the key. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  /** base64url SHA-256 of the key. */
  readonly keyHash: string;
  /** First characters of the key, for recognising it in lists. */
  readonly prefix: string;
  readonly createdAt: number;
  readonly revokedAt?: number;
}

export interface Page<T> {
  readonly items: T[];
  /** Opaque store cursor for the next page; absent on the last page. */
  readonly cursor?: string;
}
