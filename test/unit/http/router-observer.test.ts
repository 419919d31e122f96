/**
 * Route observers (`Route.observer`): the router tells them each outcome, waits for them, and never
 * lets one change the response.
 */
import { describe, expect, it } from "vitest";
import { json } from "../../../src/http/router.ts";
import type { HttpRequest, Route, RouteObserver } from "../../../src/http/types.ts";
import { notFound } from "../../../src/shared/errors.ts";
import { createLogger } from "../../../src/shared/logger.ts";
import { routerOf } from "../../support/router.ts";

const req: HttpRequest = {
  method: "POST",
  path: "/x",
  headers: {},
  query: {},
  body: "",
  requestId: "r1",
  sourceIp: "10.0.0.1",
};

function setup(observer: RouteObserver, fail = false) {
  const lines: string[] = [];
  const log = createLogger({ level: "error", write: (l: string) => lines.push(l) });
  const err = notFound("no such x");
  const route: Route = {
    method: "POST",
    path: "/x",
    access: { kind: "public" },
    handler: async () => {
      if (fail) throw err;
      return json(200, { ok: true });
    },
    observer,
  };
  const { dispatch, rendered } = routerOf(route);
  return { call: () => dispatch(req, log), rendered, err, lines };
}

describe("route observers", () => {
  it("sees start, then the outcome with what start returned", async () => {
    const seen: unknown[] = [];
    const ok = setup({
      start: async () => "s1",
      ok: (_r, _c, res, started) => {
        seen.push(["ok", res.statusCode, started]);
      },
      failed: () => {},
    });
    expect((await ok.call()).statusCode).toBe(200);
    const failing = setup(
      {
        start: () => "s2",
        ok: () => {},
        failed: (_r, _c, e, started) => {
          seen.push(["failed", e, started]);
        },
      },
      true,
    );
    expect((await failing.call()).statusCode).toBe(500);
    expect(seen).toEqual([
      ["ok", 200, "s1"],
      ["failed", failing.err, "s2"],
    ]);
  });

  it("an observer that throws or rejects changes nothing: the response stands, the failure is logged", async () => {
    const boom = () => {
      throw new Error("observer bug");
    };
    const a = setup({ start: boom, ok: boom, failed: boom });
    expect((await a.call()).statusCode).toBe(200);
    expect(a.lines.filter((l) => l.includes("route observer failed"))).toHaveLength(2);
    const b = setup({ start: () => 0, ok: async () => Promise.reject(new Error("late bug")), failed: boom });
    expect((await b.call()).statusCode).toBe(200);
    const c = setup(
      { start: () => 0, ok: () => {}, failed: async () => Promise.reject(new Error("x")) },
      true,
    );
    expect((await c.call()).statusCode).toBe(500);
    expect(c.rendered).toEqual([c.err]);
    expect(c.lines.some((l) => l.includes("route observer failed"))).toBe(true);
  });
});
