import { describe, expect, it } from "vitest";
import { decodeContinuation, encodeContinuation } from "../../../src/http/pagination.ts";
import { renderProblem } from "../../../src/http/problem.ts";
import { bearerToken, createRouter, json } from "../../../src/http/router.ts";
import type { HttpRequest } from "../../../src/http/types.ts";
import { API_GROUPS, routeMatcher } from "../../../src/shared/api-groups.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const req = (authorization?: string): HttpRequest => ({
  method: "GET",
  path: "/",
  headers: authorization === undefined ? {} : { authorization },
  query: {},
  body: undefined,
  requestId: "r",
  sourceIp: "127.0.0.1",
});

describe("route keys (API Gateway semantics)", () => {
  it("matches {proxy+} greedily and plain params by one segment", () => {
    const proxy = routeMatcher("ANY /admin/v1/{proxy+}");
    expect(proxy("POST", "/admin/v1/tenants/abc/api-keys")).toBe(true);
    expect(proxy("GET", "/admin/v1")).toBe(false);
    expect(proxy("GET", "/admin/v2/tenants")).toBe(false);
    const one = routeMatcher("GET /stores/{storeId}");
    expect(one("GET", "/stores/x")).toBe(true);
    expect(one("HEAD", "/stores/x")).toBe(true);
    expect(one("GET", "/stores/x/y")).toBe(false);
    expect(one("POST", "/stores/x")).toBe(false);
  });

  it("routes every path of a group to exactly one group", () => {
    const owners = (method: string, path: string) =>
      API_GROUPS.filter((g) => g.routes.some((r) => routeMatcher(r)(method, path))).map((g) => g.id);
    expect(owners("GET", "/healthz")).toEqual(["health"]);
    expect(owners("DELETE", "/admin/v1/tenants/x")).toEqual(["admin"]);
    expect(owners("GET", "/elsewhere")).toEqual([]);
  });
});

describe("continuation tokens", () => {
  it("round-trip within their scope and are refused in another", () => {
    const token = encodeContinuation("apikeys:t1", "cursor-1");
    expect(token).toEqual(expect.any(String));
    expect(decodeContinuation("apikeys:t1", token!)).toBe("cursor-1");
    expect(() => decodeContinuation("apikeys:t2", token!)).toThrow(/continuation token is invalid/);
    expect(() => decodeContinuation("apikeys:t1", "%%%")).toThrow(/continuation token is invalid/);
    expect(encodeContinuation("x", undefined)).toBeNull();
    expect(decodeContinuation("x", undefined)).toBeUndefined();
  });
});

describe("bearer tokens", () => {
  it("accepts only the Bearer scheme with a token of visible ASCII", () => {
    expect(bearerToken(req("Bearer abc.def"))).toBe("abc.def");
    expect(bearerToken(req("bearer abc"))).toBe("abc");
    expect(bearerToken(req("Basic abc"))).toBeUndefined();
    expect(bearerToken(req("Bearer "))).toBeUndefined();
    expect(bearerToken(req("Bearer a b"))).toBeUndefined();
    expect(bearerToken(req())).toBeUndefined();
  });
});

describe("path parameters", () => {
  it("malformed percent-encoding is a 400 in the error format, before any credential is looked at", async () => {
    let authenticated = 0;
    const dispatch = createRouter({
      routes: [
        {
          method: "GET",
          path: "/things/{id}",
          access: { kind: "platform" },
          handler: async (_r, ctx) => json(200, { id: ctx.params.id }),
        },
      ],
      authenticator: {
        authenticate: async () => {
          authenticated++;
          return { kind: "platform", credentialId: "k" };
        },
      },
      renderError: renderProblem,
    });
    const log = createLogger({ level: "silent" });
    const bad = await dispatch({ ...req(), path: "/things/%ZZ" }, log);
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body!)).toMatchObject({
      type: "urn:portcullis:problem:validation",
      status: 400,
      detail: "Malformed percent-encoding in the path.",
    });
    expect(authenticated).toBe(0);
    const ok = await dispatch({ ...req(), path: "/things/a%20b" }, log);
    expect(JSON.parse(ok.body!)).toEqual({ id: "a b" });
  });
});
