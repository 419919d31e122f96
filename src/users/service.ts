/**
 * Users per tenant: the rules on top of the store (email uniqueness, password policy and hashing,
 * disabling) and the password check of the sign-in pages.
 */
import type { Clock } from "../shared/clock.ts";
import { notFound, validationError } from "../shared/errors.ts";
import { type IdGenerator, ULID_RE } from "../shared/ids.ts";
import type { Page } from "../tenants/model.ts";
import { emailKeyOf, type User } from "./model.ts";
import { DEFAULT_SCRYPT, hashPassword, needsRehash, type ScryptParams, verifyPassword } from "./password.ts";
import type { UserFilter, UserStore } from "./ports.ts";

/** Dependencies of {@link UserService}. */
export interface UserServiceDeps {
  readonly store: UserStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** True when the tenant exists and is not deleted. */
  readonly tenantIsActive: (tenantId: string) => Promise<boolean>;
  /** @default DEFAULT_SCRYPT */
  readonly scrypt?: ScryptParams;
  /** Runs after a user becomes disabled, and again when asked to disable a disabled user (the
   * container revokes the user's sessions; a retry finishes a revocation that failed). */
  readonly onDisabled?: (tenantId: string, userId: string) => Promise<void>;
  /** Runs after a user is deleted (the container removes consents and revokes sessions). */
  readonly onDeleted?: (tenantId: string, userId: string) => Promise<void>;
}

/** Fields an admin may set. */
export interface UserInput {
  readonly email?: string;
  readonly name?: string;
  readonly password?: string;
  readonly email_verified?: boolean;
  readonly disabled?: boolean;
}

/** NIST SP 800-63B: at least 8 characters; long passphrases allowed. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** Users and their rules. */
export class UserService {
  readonly #d: UserServiceDeps;
  readonly #params: ScryptParams;
  #dummy: Promise<string> | undefined;

  constructor(deps: UserServiceDeps) {
    this.#d = deps;
    this.#params = deps.scrypt ?? DEFAULT_SCRYPT;
  }

  async #activeTenant(tenantId: string): Promise<void> {
    if (!(await this.#d.tenantIsActive(tenantId))) throw notFound("Tenant not found.");
  }

  #checkPassword(p: string): void {
    if (p.length < PASSWORD_MIN || p.length > PASSWORD_MAX)
      throw validationError("The password is invalid.", [
        { path: "/password", message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` },
      ]);
  }

  async create(tenantId: string, input: UserInput & { email: string; name: string }): Promise<User> {
    await this.#activeTenant(tenantId);
    if (input.password !== undefined) this.#checkPassword(input.password);
    const now = this.#d.clock.now();
    const email = input.email.trim();
    const user: User = {
      id: this.#d.ids.ulid(),
      tenantId,
      email,
      emailKey: emailKeyOf(email),
      emailVerified: input.email_verified ?? false,
      name: input.name,
      ...(input.password !== undefined
        ? { passwordHash: await hashPassword(input.password, this.#params) }
        : {}),
      disabled: input.disabled ?? false,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.#d.store.createUser(user);
    return user;
  }

  async get(tenantId: string, userId: string): Promise<User> {
    // User ids are ULIDs: anything else (e.g. an oversized path parameter, which DynamoDB would
    // refuse as a key) is simply not found.
    if (!ULID_RE.test(userId)) throw notFound("User not found.");
    const u = await this.#d.store.getUser(tenantId, userId);
    if (!u) throw notFound("User not found.");
    return u;
  }

  async list(tenantId: string, limit: number, cursor?: string, filter?: UserFilter): Promise<Page<User>> {
    await this.#activeTenant(tenantId);
    return this.#d.store.listUsers(tenantId, {
      limit,
      ...(cursor === undefined ? {} : { cursor }),
      ...(filter ? { filter } : {}),
    });
  }

  async update(tenantId: string, userId: string, input: UserInput): Promise<User> {
    return (await this.change(tenantId, userId, input)).user;
  }

  /**
   * Like {@link update}, and says whether this call disabled the user (the transition from
   * enabled; the user's sessions were revoked): false when they were disabled already.
   */
  async change(
    tenantId: string,
    userId: string,
    input: UserInput,
  ): Promise<{ user: User; disabledNow: boolean }> {
    const u = await this.get(tenantId, userId);
    if (input.password !== undefined) this.#checkPassword(input.password);
    const email = input.email?.trim();
    const emailChanged = email !== undefined && emailKeyOf(email) !== u.emailKey;
    const next: User = {
      ...u,
      ...(email !== undefined ? { email, emailKey: emailKeyOf(email) } : {}),
      // A new address is unverified unless the admin says otherwise.
      emailVerified: input.email_verified ?? (emailChanged ? false : u.emailVerified),
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.password !== undefined
        ? { passwordHash: await hashPassword(input.password, this.#params) }
        : {}),
      disabled: input.disabled ?? u.disabled,
      updatedAt: this.#d.clock.now(),
      version: u.version + 1,
    };
    await this.#d.store.updateUser(next);
    const disabledNow = next.disabled && !u.disabled;
    // Asking to disable a disabled user runs the hook again (revoking nothing new when it ran
    // before): a retry after a failed revocation finishes it.
    if (disabledNow || input.disabled === true) await this.#d.onDisabled?.(tenantId, userId);
    return { user: next, disabledNow };
  }

  disable(tenantId: string, userId: string): Promise<User> {
    return this.update(tenantId, userId, { disabled: true });
  }

  async delete(tenantId: string, userId: string): Promise<void> {
    // As `get`: a path parameter that is no user id (DynamoDB would refuse it as a key) is not found.
    if (!ULID_RE.test(userId)) throw notFound("User not found.");
    await this.#d.store.deleteUser(tenantId, userId);
    await this.#d.onDeleted?.(tenantId, userId);
  }

  /** A user who may sign in now (exists, enabled, tenant active); undefined otherwise. */
  async findActive(tenantId: string, userId: string): Promise<User | undefined> {
    const u = await this.#d.store.getUser(tenantId, userId);
    if (!u || u.disabled || !(await this.#d.tenantIsActive(tenantId))) return undefined;
    return u;
  }

  /**
   * The password check of the sign-in page: the user when the email exists in the tenant, the user
   * is enabled and the password matches; undefined otherwise, in about the same time whichever check
   * failed (a dummy hash is verified for unknown emails). Re-hashes weaker stored hashes.
   */
  async authenticate(tenantId: string, email: string, password: string): Promise<User | undefined> {
    if (email.length > 320 || password.length > PASSWORD_MAX) return undefined;
    const u = await this.#d.store.findUserByEmail(tenantId, emailKeyOf(email));
    if (!u?.passwordHash) {
      this.#dummy ??= hashPassword("portcullis-dummy-password", this.#params);
      await verifyPassword(password, await this.#dummy);
      return undefined;
    }
    const ok = await verifyPassword(password, u.passwordHash);
    if (!ok || u.disabled || !(await this.#d.tenantIsActive(tenantId))) return undefined;
    if (needsRehash(u.passwordHash, this.#params)) {
      const next: User = {
        ...u,
        passwordHash: await hashPassword(password, this.#params),
        updatedAt: this.#d.clock.now(),
        version: u.version + 1,
      };
      try {
        await this.#d.store.updateUser(next);
        return next;
      } catch {
        return u;
      }
    }
    return u;
  }
}
