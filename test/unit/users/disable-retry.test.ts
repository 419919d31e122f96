import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { MemoryUserStore } from "../../../src/users/adapters/memory.ts";
import { UserService } from "../../../src/users/service.ts";

describe("disabling a user", () => {
  it("a revocation that failed is finished by asking again; enabling runs nothing", async () => {
    const calls: string[] = [];
    let failing = true;
    const users = new UserService({
      store: new MemoryUserStore(),
      clock: new ManualClock(),
      ids: ulidGenerator,
      tenantIsActive: async () => true,
      onDisabled: async (_t, id) => {
        calls.push(id);
        if (failing) throw new Error("sessions store unavailable");
      },
    });
    const u = await users.create("T1", { email: "a@acme.test", name: "A" });
    await expect(users.change("T1", u.id, { disabled: true })).rejects.toThrow("unavailable");
    failing = false;
    // Already disabled (the update was stored): the hook runs again all the same.
    const again = await users.change("T1", u.id, { disabled: true });
    expect(again).toMatchObject({ disabledNow: false, user: { disabled: true } });
    expect(calls).toEqual([u.id, u.id]);
    await users.change("T1", u.id, { disabled: false });
    await users.change("T1", u.id, { name: "B" });
    expect(calls).toHaveLength(2);
  });
});
