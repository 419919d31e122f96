import type { Page } from "../tenants/model.ts";
import type { User } from "./model.ts";

/** Listing filters. */
export interface UserFilter {
  /** Exact (case-insensitive) email. */
  readonly email?: string;
  readonly disabled?: boolean;
}

/**
 * Storage for users. Contract: test/contract/user-store.suite.ts; memory and DynamoDB adapters must
 * both pass it.
 */
export interface UserStore {
  /** `conflict` when the id or the tenant's email (`emailKey`) exists. */
  createUser(user: User): Promise<void>;
  getUser(tenantId: string, userId: string): Promise<User | undefined>;
  /** The login lookup: one point read (plus the user). */
  findUserByEmail(tenantId: string, emailKey: string): Promise<User | undefined>;
  /** Oldest first (ULIDs). */
  listUsers(
    tenantId: string,
    options: { limit: number; cursor?: string; filter?: UserFilter },
  ): Promise<Page<User>>;
  /**
   * Replaces the user if its stored version is `user.version - 1`: `conflict` otherwise (or when the
   * new email is taken), `not_found` when it does not exist.
   */
  updateUser(user: User): Promise<void>;
  /** `not_found` when it does not exist. */
  deleteUser(tenantId: string, userId: string): Promise<void>;
}
