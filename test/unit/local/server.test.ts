/**
 * The local server's request → event mapping and answer framing: paths as the WHATWG URL parser
 * gives them (dot segments, escapes, queries), bodies limited, answers framed by Content-Length
 * (none on 204 and HEAD).
 */
import { request } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../../../src/local/server.ts";
import type { ApiGroup } from "../../../src/shared/api-groups.ts";

let server: LocalServer;
const group = { id: "echo", entry: "x.ts", routes: ["ANY /{proxy+}"], tables: {} } as unknown as ApiGroup;

beforeAll(async () => {
  server = await startLocalServer({
    groups: [group],
    port: 0,
    bodyLimit: 64,
    handlers: {
      echo: async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
        if (event.rawPath === "/empty") return { statusCode: 204, headers: {} };
        return {
          statusCode: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            rawPath: event.rawPath,
            rawQueryString: event.rawQueryString,
            query: event.queryStringParameters ?? null,
            body: event.body ?? null,
          }),
        };
      },
    },
  });
});
afterAll(() => server.close());

const send = (method: string, path: string, body?: string) =>
  new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const url = new URL(server.url);
    const req = request({ host: url.hostname, port: url.port, method, path, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });

describe("local server", () => {
  it.each([
    "/stores/01HZX8G2V3J6T5KQ8W9YB4C7DE/check",
    "/a-b_c~d/e.f",
    "/.well-known/openid-configuration",
    "/a/./b",
    "/a/../b",
    "/a/%2e%2e/b",
    "/a//b",
    "/a/b%20c",
    "/a/%7Bx%7D",
    "/a/b?x=1&y=2&x=3",
    "/a/b?",
    "/a/b?q=a+b%20c",
  ])("maps %s as the URL parser does", async (path) => {
    const res = await send("GET", path);
    const url = new URL(path, "http://local");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      query: url.search ? query : null,
      body: null,
    });
  });

  it("frames answers by their length; none on 204 or HEAD", async () => {
    const ok = await send("POST", "/x", "héllo");
    expect(ok.headers["content-length"]).toBe(String(Buffer.byteLength(ok.text)));
    expect(ok.headers["transfer-encoding"]).toBeUndefined();
    expect(JSON.parse(ok.text).body).toBe("héllo");
    const empty = await send("GET", "/empty");
    expect(empty.status).toBe(204);
    expect(empty.headers["content-length"]).toBeUndefined();
    const head = await send("HEAD", "/x");
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
  });

  it("refuses a body over the limit with 413, declared or streamed", async () => {
    expect((await send("POST", "/x", "x".repeat(65))).status).toBe(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const url = new URL(server.url);
      const req = request(
        { host: url.hostname, port: url.port, method: "POST", path: "/x", agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.write("x".repeat(40));
      req.end("y".repeat(40));
    });
    expect(streamed).toBe(413);
  });
});
