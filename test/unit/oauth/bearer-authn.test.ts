import { describe, expect, it } from "vitest";
import type { HttpRequest } from "../../../src/http/types.ts";
import { accessTokenAuthenticator } from "../../../src/oauth/authn.ts";
import type { AccessTokenService } from "../../../src/oauth/tokens.ts";

const TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
const req: HttpRequest = {
  method: "GET",
  path: "/admin/v1/tenants/T1",
  headers: { authorization: `Bearer ${TOKEN}` },
  query: {},
  body: undefined,
  requestId: "r",
  sourceIp: "127.0.0.1",
};

/** The authenticator over a token of `tenant` issued by a client of `clientTenant` (undefined: deleted). */
function setup(tenant: string, clientTenant: string | undefined, activeTenants: string[]) {
  const asked: string[] = [];
  const tokens = {
    verify: async () => ({ tenant_id: tenant, client_id: "pcc_c", scope: "tenant:admin" }),
    isRevoked: async () => false,
  } as unknown as AccessTokenService;
  const authn = accessTokenAuthenticator({
    tokens,
    audience: "https://api",
    activeClientTenant: async () => clientTenant,
    tenantIsActive: async (id) => {
      asked.push(id);
      return activeTenants.includes(id);
    },
  });
  return { authenticate: () => authn.authenticate(req), asked };
}

describe("bearer tokens: the issuing client and the token's tenant must be live", () => {
  it("a client's own tenant is not read twice (the client check read it)", async () => {
    const s = setup("T1", "T1", []);
    expect(await s.authenticate()).toMatchObject({ kind: "tenant", tenantId: "T1" });
    expect(s.asked).toEqual([]);
  });

  it("a multi-tenant client's token: the user's tenant is checked too", async () => {
    const live = setup("ORG", "OWNER", ["ORG"]);
    expect(await live.authenticate()).toMatchObject({ tenantId: "ORG" });
    expect(live.asked).toEqual(["ORG"]);
    expect(await setup("ORG", "OWNER", []).authenticate()).toBeUndefined();
  });

  it("a deleted client's token is refused", async () => {
    expect(await setup("T1", undefined, ["T1"]).authenticate()).toBeUndefined();
  });
});
