import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/shared/clock.ts";
import type { DomainError } from "../../../src/shared/errors.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { MemoryUserStore } from "../../../src/users/adapters/memory.ts";
import { hashPassword, needsRehash, paramsOf, verifyPassword } from "../../../src/users/password.ts";
import { UserService } from "../../../src/users/service.ts";

const LOW = { ln: 12, r: 8, p: 1 };

describe("password hashing (scrypt)", () => {
  it("hashes with salt and verifies", async () => {
    const h1 = await hashPassword("correct horse", LOW);
    const h2 = await hashPassword("correct horse", LOW);
    expect(h1).not.toBe(h2);
    expect(h1).toMatch(/^\$scrypt\$ln=12,r=8,p=1\$/);
    expect(paramsOf(h1)).toEqual(LOW);
    expect(await verifyPassword("correct horse", h1)).toBe(true);
    expect(await verifyPassword("correct horsE", h1)).toBe(false);
    expect(await verifyPassword("x", "not-a-hash")).toBe(false);
    expect(needsRehash(h1, { ln: 14, r: 8, p: 1 })).toBe(true);
    expect(needsRehash(h1, LOW)).toBe(false);
  });

  it("the default cost is N=2^17, r=8, p=1", async () => {
    const { DEFAULT_SCRYPT } = await import("../../../src/users/password.ts");
    expect(DEFAULT_SCRYPT).toEqual({ ln: 17, r: 8, p: 1 });
  });
});

describe("UserService", () => {
  const make = () =>
    new UserService({
      store: new MemoryUserStore(),
      clock: new ManualClock(),
      ids: ulidGenerator,
      tenantIsActive: async (t) => t !== "deleted",
      scrypt: LOW,
    });

  it("creates users with unique emails, authenticates, refuses disabled users alike", async () => {
    const users = make();
    const u = await users.create("t1", {
      email: " Ada@Example.com ",
      name: "Ada",
      password: "long enough pw",
    });
    expect(u.email).toBe("Ada@Example.com");
    expect(u.passwordHash).toMatch(/^\$scrypt\$/);
    const e = await users.create("t1", { email: "ada@example.com", name: "x" }).catch((x: unknown) => x);
    expect((e as DomainError).code).toBe("conflict");
    expect((await users.authenticate("t1", "ADA@example.com", "long enough pw"))?.id).toBe(u.id);
    expect(await users.authenticate("t1", "ada@example.com", "wrong password")).toBeUndefined();
    expect(await users.authenticate("t1", "nobody@example.com", "long enough pw")).toBeUndefined();
    expect(await users.authenticate("t2", "ada@example.com", "long enough pw")).toBeUndefined();
    await users.disable("t1", u.id);
    expect(await users.authenticate("t1", "ada@example.com", "long enough pw")).toBeUndefined();
    expect(await users.findActive("t1", u.id)).toBeUndefined();
  });

  it("enforces the password policy and refuses deleted tenants", async () => {
    const users = make();
    const short = await users
      .create("t1", { email: "a@b.co", name: "A", password: "short" })
      .catch((x: unknown) => x);
    expect((short as DomainError).code).toBe("validation");
    const gone = await users.create("deleted", { email: "a@b.co", name: "A" }).catch((x: unknown) => x);
    expect((gone as DomainError).code).toBe("not_found");
  });

  it("an email change clears the verified flag and frees the old address", async () => {
    const users = make();
    const u = await users.create("t1", { email: "a@b.co", name: "A", email_verified: true });
    const u2 = await users.update("t1", u.id, { email: "c@b.co" });
    expect(u2.emailVerified).toBe(false);
    await users.create("t1", { email: "a@b.co", name: "B" });
  });

  it("re-hashes weaker hashes at sign-in", async () => {
    const store = new MemoryUserStore();
    const weak = new UserService({
      store,
      clock: new ManualClock(),
      ids: ulidGenerator,
      tenantIsActive: async () => true,
      scrypt: { ln: 10, r: 8, p: 1 },
    });
    const u = await weak.create("t1", { email: "a@b.co", name: "A", password: "long enough pw" });
    const strong = new UserService({
      store,
      clock: new ManualClock(),
      ids: ulidGenerator,
      tenantIsActive: async () => true,
      scrypt: LOW,
    });
    await strong.authenticate("t1", "a@b.co", "long enough pw");
    expect((await store.getUser("t1", u.id))?.passwordHash).toMatch(/^\$scrypt\$ln=12/);
  });
});
