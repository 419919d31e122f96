/**
 * The UserStore contract: every adapter runs this suite, and any difference between them is a bug.
 */
import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/shared/errors.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";
import { emailKeyOf, type User } from "../../src/users/model.ts";
import type { UserStore } from "../../src/users/ports.ts";

/** Makes an EMPTY store (or one shared store; tests use fresh tenant ids). */
export type MakeUserStore = () => UserStore | Promise<UserStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);

function user(tenantId: string, email: string, extra: Partial<User> = {}): User {
  return {
    id: ulidGenerator.ulid(),
    tenantId,
    email,
    emailKey: emailKeyOf(email),
    emailVerified: false,
    name: "Ada",
    passwordHash: "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
    disabled: false,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  return (e as DomainError).code;
}

export function describeUserStore(name: string, make: MakeUserStore): void {
  describe(`UserStore contract: ${name}`, () => {
    it("creates, gets and finds by email case-insensitively; tenants are separate", async () => {
      const s = await make();
      const t1 = ulidGenerator.ulid();
      const t2 = ulidGenerator.ulid();
      const u = user(t1, "Ada@Example.com");
      await s.createUser(u);
      expect(await s.getUser(t1, u.id)).toEqual(u);
      expect(await s.findUserByEmail(t1, "ada@example.com")).toEqual(u);
      expect(await s.findUserByEmail(t2, "ada@example.com")).toBeUndefined();
      expect(await s.getUser(t2, u.id)).toBeUndefined();
      // Same email in another tenant is fine; in the same tenant it is a conflict.
      await s.createUser(user(t2, "ada@example.com"));
      expect(await codeOf(s.createUser(user(t1, "ADA@example.com")))).toBe("conflict");
    });

    it("lists oldest first with pagination and filters", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      const created: User[] = [];
      for (let i = 0; i < 5; i++) {
        const u = user(t, `u${i}@example.com`, { disabled: i % 2 === 1 });
        created.push(u);
        await s.createUser(u);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.listUsers(t, { limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((u) => u.id));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual(created.map((u) => u.id));
      const disabled = await s.listUsers(t, { limit: 10, filter: { disabled: true } });
      expect(disabled.items.map((u) => u.id)).toEqual([created[1]!.id, created[3]!.id]);
      const byEmail = await s.listUsers(t, { limit: 10, filter: { email: "U2@EXAMPLE.COM" } });
      expect(byEmail.items.map((u) => u.id)).toEqual([created[2]!.id]);
      expect((await s.listUsers(ulidGenerator.ulid(), { limit: 10 })).items).toEqual([]);
    });

    it("updates with optimistic concurrency and moves the email link", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      const a = user(t, "a@example.com");
      const b = user(t, "b@example.com");
      await s.createUser(a);
      await s.createUser(b);
      const a2: User = { ...a, email: "a2@example.com", emailKey: "a2@example.com", version: 2, name: "A" };
      await s.updateUser(a2);
      expect(await s.getUser(t, a.id)).toEqual(a2);
      expect(await s.findUserByEmail(t, "a@example.com")).toBeUndefined();
      expect((await s.findUserByEmail(t, "a2@example.com"))?.id).toBe(a.id);
      // The old address is free again.
      await s.createUser(user(t, "a@example.com"));
      // Stale version.
      expect(await codeOf(s.updateUser({ ...a2, name: "stale" }))).toBe("conflict");
      // Taken email.
      expect(
        await codeOf(s.updateUser({ ...a2, emailKey: "b@example.com", email: "b@example.com", version: 3 })),
      ).toBe("conflict");
      expect((await s.getUser(t, a.id))?.name).toBe("A");
      expect(await codeOf(s.updateUser(user(t, "x@example.com", { version: 2 })))).toBe("not_found");
    });

    it("deletes the user and frees its email", async () => {
      const s = await make();
      const t = ulidGenerator.ulid();
      const u = user(t, "gone@example.com");
      await s.createUser(u);
      await s.deleteUser(t, u.id);
      expect(await s.getUser(t, u.id)).toBeUndefined();
      expect(await s.findUserByEmail(t, "gone@example.com")).toBeUndefined();
      expect(await codeOf(s.deleteUser(t, u.id))).toBe("not_found");
      await s.createUser(user(t, "gone@example.com"));
    });
  });
}
