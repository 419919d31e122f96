import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { withCookies } from "../../../functions/_shared/handlers.ts";

describe("withCookies (API Gateway payload 2.0 cookies)", () => {
  it("joins event.cookies into the cookie header and moves set-cookie into result.cookies", async () => {
    let seen: string | undefined;
    const handler = withCookies(async (event) => {
      seen = event.headers.cookie;
      return {
        statusCode: 303,
        headers: { location: "/x", "set-cookie": "pcl_session=v; Path=/; HttpOnly" },
      };
    });
    const event = {
      headers: { host: "h" },
      cookies: ["a=1", "pcl_tx=t"],
    } as unknown as APIGatewayProxyEventV2;
    const result = await handler(event, {} as Context);
    expect(seen).toBe("a=1; pcl_tx=t");
    expect(result.cookies).toEqual(["pcl_session=v; Path=/; HttpOnly"]);
    expect(result.headers).toEqual({ location: "/x" });
  });

  it("leaves events without cookies and results without set-cookie alone", async () => {
    const handler = withCookies(async (event) => ({
      statusCode: 200,
      headers: { "x-cookie": String(event.headers.cookie) },
    }));
    const result = await handler({ headers: {} } as unknown as APIGatewayProxyEventV2, {} as Context);
    expect(result).toEqual({ statusCode: 200, headers: { "x-cookie": "undefined" } });
  });
});
