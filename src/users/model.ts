/** An end user of a tenant: signs in through the hosted pages. */
export interface User {
  readonly id: string;
  readonly tenantId: string;
  /** As entered (trimmed); shown back. */
  readonly email: string;
  /** Lowercased email: unique per tenant (case-insensitive). */
  readonly emailKey: string;
  readonly emailVerified: boolean;
  readonly name: string;
  /** PHC-style scrypt hash (password.ts); absent for users who cannot sign in with a password. */
  readonly passwordHash?: string;
  readonly disabled: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Optimistic concurrency: bumped by every update. */
  readonly version: number;
}

/** Lowercased, trimmed email: the uniqueness key. */
export const emailKeyOf = (email: string): string => email.trim().toLowerCase();
