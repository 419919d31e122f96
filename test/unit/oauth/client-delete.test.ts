import { describe, expect, it } from "vitest";
import { MemoryOAuthStore } from "../../../src/oauth/adapters/memory.ts";
import { ClientService } from "../../../src/oauth/clients.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";

/** A client service whose `beforeDelete` hook (consent clean-up) fails while `failing` is set. */
function setup() {
  const store = new MemoryOAuthStore();
  const calls: string[] = [];
  const state = { failing: true };
  const clients = new ClientService({
    store,
    tenants: { isActive: async () => true },
    clock: new ManualClock(Date.UTC(2026, 5, 1)),
    ids: ulidGenerator,
    apiAudience: "https://api",
    beforeDelete: async (id) => {
      calls.push(id);
      if (state.failing) throw new Error("store unavailable");
    },
  });
  return { store, clients, calls, state };
}

describe("client deletion and its clean-up hook", () => {
  it("a failing clean-up leaves the client in place; the retry deletes both", async () => {
    const { store, clients, calls, state } = setup();
    const { client } = await clients.register("T1", { client_name: "c" });
    await expect(clients.delete("T1", client.clientId)).rejects.toThrow("store unavailable");
    expect(await store.getClient(client.clientId)).toBeDefined();
    state.failing = false;
    await clients.delete("T1", client.clientId);
    expect(await store.getClient(client.clientId)).toBeUndefined();
    expect(calls).toEqual([client.clientId, client.clientId]);
  });

  it("another tenant's client (or none) is not_found, and the hook does not run", async () => {
    const { clients, calls, state } = setup();
    state.failing = false;
    const { client } = await clients.register("T1", { client_name: "c" });
    await expect(clients.delete("T2", client.clientId)).rejects.toMatchObject({ code: "not_found" });
    await expect(
      clients.delete("T1", "pcc_01ARZ3NDEKTSV4RRFFQ69G5FAV", { platform: true }),
    ).rejects.toMatchObject({ code: "not_found" });
    expect(calls).toEqual([]);
  });
});
