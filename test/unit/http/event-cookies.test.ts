import { describe, expect, it } from "vitest";
import { requestFromEvent, resultFromResponse } from "../../../src/http/event.ts";
import { apiEvent } from "../../support/events.ts";

describe("API Gateway payload 2.0 cookies", () => {
  it("joins event.cookies into the request's cookie header", () => {
    const event = { ...apiEvent({ method: "GET", path: "/oauth/authorize" }), cookies: ["a=1", "pcl_tx=t"] };
    expect(requestFromEvent(event).headers.cookie).toBe("a=1; pcl_tx=t");
    expect(requestFromEvent(apiEvent({ method: "GET", path: "/" })).headers.cookie).toBeUndefined();
  });

  it("moves a set-cookie header into result.cookies and leaves other headers alone", () => {
    const result = resultFromResponse(
      { statusCode: 303, headers: { location: "/x", "set-cookie": "pcl_session=v; Path=/; HttpOnly" } },
      "req-1",
    );
    expect(result.cookies).toEqual(["pcl_session=v; Path=/; HttpOnly"]);
    expect(result.headers).toEqual({ location: "/x", "x-request-id": "req-1" });
    expect(resultFromResponse({ statusCode: 204 }, "req-2").cookies).toBeUndefined();
  });
});
