/**
 * The wire layer in isolation: protobuf-JSON request parsing, OpenFGA's output conventions, the
 * consistency-token codec, list continuation paging and the OpenFGA error renderer.
 */
import { describe, expect, it } from "vitest";
import { predecessor } from "../../../src/authz/http/consistency.ts";
import {
  decodeConsistencyToken,
  encodeConsistencyToken,
  later,
} from "../../../src/authz/http/consistency-token.ts";
import { OpenFgaHttpError, renderOpenFgaError } from "../../../src/authz/http/errors.ts";
import {
  decodeListContinuation,
  encodeListContinuation,
  fingerprint,
  pageOf,
} from "../../../src/authz/http/list-continuation.ts";
import {
  changeJson,
  modelJson,
  storeJson,
  timestamp,
  treeNodeJson,
  tupleKeyJson,
} from "../../../src/authz/http/render.ts";
import { authzSettingsFromEnv } from "../../../src/authz/http/settings.ts";
import { checkBody, jsonBody, listUsersBody, parseWire, writeBody } from "../../../src/authz/http/wire.ts";
import { AuthzError } from "../../../src/authz/index.ts";
import type { HttpRequest } from "../../../src/http/types.ts";
import { DomainError } from "../../../src/shared/errors.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const STORE = "01HZX8G2V3J6T5KQ8W9YB4C7DE";
const REV = "01HZX8G2V3J6T5KQ8W9YB4C7DF";

describe("request parsing (protobuf JSON rules)", () => {
  it("accepts JSON names and lowerCamelCase names, drops nulls and unknown fields", () => {
    const a = parseWire(
      checkBody,
      { tuple_key: { user: "user:a", relation: "r", object: "d:1" }, trace: null, x: 1 },
      "CheckRequest",
    );
    const b = parseWire(
      checkBody,
      { tupleKey: { user: "user:a", relation: "r", object: "d:1" }, contextualTuples: null },
      "CheckRequest",
    );
    expect(a).toEqual(b);
    expect(a).toEqual({ tuple_key: { user: "user:a", relation: "r", object: "d:1" } });
  });

  it("takes enums by name or number", () => {
    const tk = { user: "user:a", relation: "r", object: "d:1" };
    expect(parseWire(checkBody, { tuple_key: tk, consistency: 200 }, "C").consistency).toBe(
      "HIGHER_CONSISTENCY",
    );
    expect(parseWire(checkBody, { tuple_key: tk, consistency: "MINIMIZE_LATENCY" }, "C").consistency).toBe(
      "MINIMIZE_LATENCY",
    );
    expect(() => parseWire(checkBody, { tuple_key: tk, consistency: "NOW" }, "C")).toThrow(AuthzError);
  });

  it("names the field that failed, never its value", () => {
    const secret = "user:s3cr3t value";
    let err: unknown;
    try {
      parseWire(
        writeBody,
        { writes: { tuple_keys: [{ user: secret, relation: "r", object: "d:1" }] } },
        "WriteRequest",
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuthzError);
    expect((err as AuthzError).openfgaName).toBe("validation_error");
    expect((err as AuthzError).detail).toContain("invalid WriteRequest.writes.tuple_keys[0].user");
    expect((err as AuthzError).detail).not.toContain("s3cr3t");
  });

  it("applies OpenFGA's field rules", () => {
    const tk = { user: "user:a", relation: "r", object: "d:1" };
    const bad = [
      { tuple_key: { ...tk, relation: "a#b" } },
      { tuple_key: { ...tk, user: "u".repeat(513) } },
      { tuple_key: { ...tk, object: "d" } },
      { tuple_key: tk, authorization_model_id: "not-an-id" },
      { tuple_key: tk, context: "x" },
    ];
    for (const body of bad) expect(() => parseWire(checkBody, body, "CheckRequest")).toThrow(AuthzError);
    expect(() =>
      parseWire(
        listUsersBody,
        { object: { type: "d", id: "1" }, relation: "r", user_filters: [] },
        "ListUsersRequest",
      ),
    ).toThrow(/user_filters/);
  });

  it("reads any content type as JSON; malformed JSON is 2000; an empty body is {}", () => {
    expect(jsonBody(undefined)).toEqual({});
    expect(jsonBody(" ")).toEqual({});
    expect(() => jsonBody("{")).toThrow(/not valid JSON/);
  });
});

describe("response JSON (OpenFGA's output conventions)", () => {
  it("timestamps are UTC with Z and fractional seconds only when non-zero", () => {
    expect(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02T03:04:05Z");
    expect(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 120))).toBe("2026-01-02T03:04:05.120Z");
  });

  it("emits defaults: null messages, empty strings, empty maps", () => {
    expect(storeJson({ id: STORE, tenantId: "t", name: "n", createdAt: 0, updatedAt: 0 })).toEqual({
      id: STORE,
      name: "n",
      created_at: "1970-01-01T00:00:00Z",
      updated_at: "1970-01-01T00:00:00Z",
      deleted_at: null,
    });
    expect(tupleKeyJson({ object: "d:1", relation: "r", user: "u:1" }).condition).toBeNull();
    expect(
      tupleKeyJson({ object: "d:1", relation: "r", user: "u:1", condition: { name: "c" } }).condition,
    ).toEqual({
      name: "c",
      context: null,
    });
    expect(
      changeJson({
        key: { object: "d:1", relation: "r", user: "u:1" },
        operation: "delete",
        timestamp: 0,
        revision: REV,
      }),
    ).toEqual({
      tuple_key: { object: "d:1", relation: "r", user: "u:1", condition: null },
      operation: "TUPLE_OPERATION_DELETE",
      timestamp: "1970-01-01T00:00:00Z",
    });
    const m = modelJson({
      id: REV,
      schema_version: "1.1",
      type_definitions: [
        {
          type: "doc",
          relations: {
            parent: { this: {} },
            viewer: {
              union: {
                child: [
                  { computedUserset: { relation: "parent" } },
                  {
                    tupleToUserset: {
                      tupleset: { relation: "parent" },
                      computedUserset: { relation: "viewer" },
                    },
                  },
                ],
              },
            },
          },
          metadata: { relations: { parent: { directly_related_user_types: [{ type: "doc" }] } } },
        },
      ],
    });
    expect(m.conditions).toEqual({});
    const viewer = (m.type_definitions as { relations: Record<string, unknown> }[])[0]!.relations.viewer;
    expect(viewer).toEqual({
      union: {
        child: [
          { computedUserset: { object: "", relation: "parent" } },
          {
            tupleToUserset: {
              tupleset: { object: "", relation: "parent" },
              computedUserset: { object: "", relation: "viewer" },
            },
          },
        ],
      },
    });
  });

  it("expand trees keep only the branch that is set", () => {
    expect(
      treeNodeJson({ name: "d:1#r", union: { nodes: [{ name: "d:1#r", leaf: { users: { users: [] } } }] } }),
    ).toEqual({ name: "d:1#r", union: { nodes: [{ name: "d:1#r", leaf: { users: { users: [] } } }] } });
  });
});

describe("consistency tokens", () => {
  it("round-trip, bound to their store", () => {
    const t = { storeId: STORE, region: "eu-west-1", revision: REV, modelId: "" };
    const s = encodeConsistencyToken(t);
    expect(s).toBe(`pct1.${STORE}.eu-west-1.${REV}.`);
    expect(decodeConsistencyToken(s, STORE)).toEqual(t);
    expect(() => decodeConsistencyToken(s, REV)).toThrow(/another store/);
    expect(() => decodeConsistencyToken(`pct1.${STORE}.EU.${REV}.`, STORE)).toThrow(/malformed/);
  });

  it("order revisions as ULIDs", () => {
    expect(later("", REV)).toBe(REV);
    expect(later(REV, STORE)).toBe(REV);
    expect(predecessor(REV)).toBe("01HZX8G2V3J6T5KQ8W9YB4C7DE");
    expect(predecessor("01HZX8G2V3J6T5KQ8W9YB4C800")).toBe("01HZX8G2V3J6T5KQ8W9YB4C7ZZ");
    expect(predecessor(REV) < REV).toBe(true);
  });
});

describe("list continuation", () => {
  it("pages through a deterministic result set and stops when nothing new comes", () => {
    const all = Array.from({ length: 10 }, (_, i) => `d:${i}`);
    const p1 = pageOf(all.slice(0, 5), "max_results", 0, 4, 100);
    expect(p1).toEqual({ items: all.slice(0, 4), truncatedBy: "max_results", nextOffset: 4 });
    const p3 = pageOf(all, undefined, 8, 4, 100);
    expect(p3).toEqual({ items: ["d:8", "d:9"] });
    // A deadline cut gets no token: the same search would stop at the same place.
    expect(pageOf(all.slice(0, 6), "deadline", 4, 4, 100)).toEqual({
      items: ["d:4", "d:5"],
      truncatedBy: "deadline",
    });
    // The scan limit is the end of the road.
    expect(pageOf(all.slice(0, 8), "max_results", 4, 4, 8)).toEqual({
      items: all.slice(4, 8),
      truncatedBy: "max_results",
    });
  });

  it("tokens are bound to the request's fingerprint", () => {
    const print = fingerprint(["objects", STORE, "doc", "viewer", "user:a"]);
    const token = encodeListContinuation({ modelId: REV, offset: 4 }, print);
    expect(decodeListContinuation(token, print)).toEqual({ modelId: REV, offset: 4 });
    expect(() =>
      decodeListContinuation(token, fingerprint(["objects", STORE, "doc", "viewer", "user:b"])),
    ).toThrow(AuthzError);
  });
});

describe("OpenFGA error renderer", () => {
  const req: HttpRequest = {
    method: "POST",
    path: "/",
    headers: {},
    query: {},
    body: undefined,
    requestId: "rid",
    sourceIp: "",
  };
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const render = (e: unknown, r = req) => {
    const res = renderOpenFgaError(e, r, log);
    return { status: res.statusCode, body: JSON.parse(res.body ?? "{}"), headers: res.headers ?? {} };
  };

  it.each([
    [new AuthzError("store_id_not_found", "store 'x' not found"), 404, "store_id_not_found"],
    [new AuthzError("deadline_exceeded", "too slow"), 500, "deadline_exceeded"],
    [new AuthzError("Aborted", "conflict"), 409, "Aborted"],
    [new DomainError("validation", "bad"), 400, "validation_error"],
    [new DomainError("forbidden", "no scope"), 401, "forbidden"],
    [new DomainError("not_found", "No such endpoint."), 404, "undefined_endpoint"],
    [new DomainError("payload_too_large", "too big"), 413, "exceeded_entity_limit"],
    [new OpenFgaHttpError(503, "unavailable", "later", { "retry-after": "1" }), 503, "unavailable"],
  ])("%s → %i %s", (err, status, code) => {
    const r = render(err);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect(Object.keys(r.body).sort()).toEqual(["code", "message"]);
    expect(r.headers["fga-request-id"]).toBe("rid");
  });

  it("tells a missing credential from a wrong one", () => {
    expect(render(new DomainError("unauthenticated", "x")).body.code).toBe("bearer_token_missing");
    expect(
      render(new DomainError("unauthenticated", "x"), { ...req, headers: { authorization: "Bearer x" } }).body
        .code,
    ).toBe("unauthenticated");
  });

  it("turns anything else into a bare 500 and logs the cause", () => {
    const r = render(new Error("SDK said: table portcullis-authz"));
    expect(r).toMatchObject({
      status: 500,
      body: { code: "internal_error", message: "Internal Server Error" },
    });
    expect(JSON.stringify(r.body)).not.toContain("portcullis-authz");
    expect(lines.some((l) => l.includes("portcullis-authz"))).toBe(true);
  });
});

describe("settings", () => {
  it("defaults to OpenFGA's server defaults and refuses bad values by name", () => {
    const s = authzSettingsFromEnv({});
    expect(s).toMatchObject({
      listMaxResults: 1000,
      listDeadlineMs: 3000,
      maxChecksPerBatch: 50,
      replicaSettleMs: 0,
    });
    expect(
      authzSettingsFromEnv({ PORTCULLIS_AUTHZ_PEER_REGIONS: "eu-west-1,us-east-1" }).peerRegions,
    ).toEqual(["eu-west-1", "us-east-1"]);
    expect(() => authzSettingsFromEnv({ PORTCULLIS_AUTHZ_PEER_REGIONS: "moon" })).toThrow(
      /PORTCULLIS_AUTHZ_PEER_REGIONS/,
    );
    expect(() => authzSettingsFromEnv({ PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT: "10" })).toThrow(/SCAN_LIMIT/);
  });
});
