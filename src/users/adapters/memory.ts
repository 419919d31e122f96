import { conflict, notFound } from "../../shared/errors.ts";
import type { Page } from "../../tenants/model.ts";
import { emailKeyOf, type User } from "../model.ts";
import type { UserFilter, UserStore } from "../ports.ts";

/** In-memory UserStore: the embedded default and the reference for the contract. */
export class MemoryUserStore implements UserStore {
  readonly #users = new Map<string, User>(); // `${tenantId}/${id}`
  readonly #emails = new Map<string, string>(); // `${tenantId}/${emailKey}` → id

  async createUser(user: User): Promise<void> {
    const k = `${user.tenantId}/${user.id}`;
    const e = `${user.tenantId}/${user.emailKey}`;
    if (this.#users.has(k) || this.#emails.has(e)) throw conflict("A user with this email already exists.");
    this.#users.set(k, { ...user });
    this.#emails.set(e, user.id);
  }

  async getUser(tenantId: string, userId: string): Promise<User | undefined> {
    const u = this.#users.get(`${tenantId}/${userId}`);
    return u && { ...u };
  }

  async findUserByEmail(tenantId: string, emailKey: string): Promise<User | undefined> {
    const id = this.#emails.get(`${tenantId}/${emailKey}`);
    return id === undefined ? undefined : this.getUser(tenantId, id);
  }

  async listUsers(
    tenantId: string,
    options: { limit: number; cursor?: string; filter?: UserFilter },
  ): Promise<Page<User>> {
    const f = options.filter ?? {};
    const all = [...this.#users.values()]
      .filter(
        (u) =>
          u.tenantId === tenantId &&
          (options.cursor === undefined || u.id > options.cursor) &&
          (f.email === undefined || u.emailKey === emailKeyOf(f.email)) &&
          (f.disabled === undefined || u.disabled === f.disabled),
      )
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const items = all.slice(0, options.limit).map((u) => ({ ...u }));
    const last = items.at(-1);
    return all.length > options.limit && last ? { items, cursor: last.id } : { items };
  }

  async updateUser(user: User): Promise<void> {
    const k = `${user.tenantId}/${user.id}`;
    const cur = this.#users.get(k);
    if (!cur) throw notFound("User not found.");
    if (cur.version !== user.version - 1) throw conflict("The user was changed concurrently.");
    if (cur.emailKey !== user.emailKey) {
      const e = `${user.tenantId}/${user.emailKey}`;
      if (this.#emails.has(e)) throw conflict("A user with this email already exists.");
      this.#emails.delete(`${user.tenantId}/${cur.emailKey}`);
      this.#emails.set(e, user.id);
    }
    this.#users.set(k, { ...user });
  }

  async deleteUser(tenantId: string, userId: string): Promise<void> {
    const k = `${tenantId}/${userId}`;
    const cur = this.#users.get(k);
    if (!cur) throw notFound("User not found.");
    this.#users.delete(k);
    this.#emails.delete(`${tenantId}/${cur.emailKey}`);
  }
}
