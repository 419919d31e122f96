/**
 * Route matching of the router: `{name}` is one non-empty segment (percent-decoded), `{name+}` the
 * rest of the path, literals match exactly; the first route in order wins; a path known under
 * another method is 405, anything else 404.
 */
import { describe, expect, it } from "vitest";
import { renderProblem } from "../../../src/http/problem.ts";
import { createRouter, json } from "../../../src/http/router.ts";
import type { HttpRequest, Route } from "../../../src/http/types.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const log = createLogger({ level: "silent" });
const route = (method: string, path: string): Route => ({
  method,
  path,
  access: { kind: "public" },
  handler: async (_req, ctx) => json(200, { route: `${method} ${path}`, params: ctx.params }),
});
const dispatch = createRouter({
  routes: [
    route("GET", "/stores"),
    route("GET", "/stores/{storeId}"),
    route("POST", "/stores/{storeId}/check"),
    route("GET", "/stores/{storeId}/assertions/{modelId}"),
    route("GET", "/stores/special/check"),
    route("GET", "/files/{path+}"),
    route("GET", "/files/{path+}/meta"),
    route("GET", "/a.b/{x}"),
    route("GET", "/"),
  ],
  authenticator: { authenticate: async () => undefined },
  renderError: renderProblem,
});
const call = async (method: string, path: string) => {
  const req: HttpRequest = {
    method,
    path,
    headers: {},
    query: {},
    body: undefined,
    requestId: "r",
    sourceIp: "127.0.0.1",
  };
  const res = await dispatch(req, log);
  return { status: res.statusCode, body: JSON.parse(res.body ?? "null") as Record<string, unknown> };
};

describe("route matching", () => {
  it.each([
    ["GET", "/stores", 200, "GET /stores", {}],
    ["GET", "/stores/01ABC", 200, "GET /stores/{storeId}", { storeId: "01ABC" }],
    ["HEAD", "/stores/01ABC", 200, "GET /stores/{storeId}", { storeId: "01ABC" }],
    ["POST", "/stores/01ABC/check", 200, "POST /stores/{storeId}/check", { storeId: "01ABC" }],
    ["GET", "/stores/a%20b", 200, "GET /stores/{storeId}", { storeId: "a b" }],
    [
      "GET",
      "/stores/s/assertions/m",
      200,
      "GET /stores/{storeId}/assertions/{modelId}",
      { storeId: "s", modelId: "m" },
    ],
    // The first route in order wins, literal or not.
    ["GET", "/stores/special/check", 200, "GET /stores/special/check", {}],
    ["GET", "/files/a", 200, "GET /files/{path+}", { path: "a" }],
    ["GET", "/files/a/b/meta", 200, "GET /files/{path+}", { path: "a/b/meta" }],
    ["GET", "/a.b/1", 200, "GET /a.b/{x}", { x: "1" }],
    ["GET", "/", 200, "GET /", {}],
  ])("%s %s → %i %s", async (method, path, status, name, params) => {
    const res = await call(method, path);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ route: name, params });
  });

  it.each([
    ["GET", "/stores/", 404],
    ["GET", "/stores//check", 404],
    ["POST", "/stores//check", 404],
    ["GET", "/stores/x/check/", 404],
    ["GET", "/storesx", 404],
    ["GET", "/files", 404],
    ["GET", "/files/", 404],
    ["GET", "/aXb/1", 404],
    ["GET", "//", 404],
    ["GET", "/stores/x/check", 405],
    ["DELETE", "/stores", 405],
  ])("%s %s → %i", async (method, path, status) => {
    expect((await call(method, path)).status).toBe(status);
  });

  it("renders a malformed escape in a parameter as a 400 error response, not a throw", async () => {
    expect((await call("GET", "/stores/%E0%A4%A")).status).toBe(400);
  });
});
