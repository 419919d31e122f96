import { describe, expect, it } from "vitest";
import type { HttpRequest } from "../../../src/http/types.ts";
import { OAuthError, renderOAuthError } from "../../../src/oauth/errors.ts";
import { formParam, parseForm } from "../../../src/oauth/form.ts";
import {
  grantAudiences,
  grantScopes,
  isResourceIndicator,
  parseScope,
  permissionsOf,
} from "../../../src/oauth/scopes.ts";
import { DomainError } from "../../../src/shared/errors.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const req = (body: string, contentType = "application/x-www-form-urlencoded"): HttpRequest => ({
  method: "POST",
  path: "/oauth/token",
  headers: { "content-type": contentType },
  query: {},
  body,
  requestId: "r1",
  sourceIp: "127.0.0.1",
});
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof OAuthError ? e.code : "other";
  }
  return "none";
};

describe("form parsing (RFC 6749 §3.1, §3.2)", () => {
  it("treats empty values as omitted and allows repeated resource/audience only", () => {
    const f = parseForm(
      req("grant_type=client_credentials&scope=&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb"),
    );
    expect(f.get("grant_type")).toBe("client_credentials");
    expect(f.get("scope")).toBeUndefined();
    expect(f.has("scope")).toBe(false);
    expect(f.all("resource")).toEqual(["https://a", "https://b"]);
    expect(code(() => parseForm(req("scope=a&scope=b")).get("scope"))).toBe("invalid_request");
  });

  it("accepts a charset parameter and refuses other media types, too many or too long values", () => {
    expect(parseForm(req("a=1", "application/x-www-form-urlencoded; charset=UTF-8")).get("a")).toBe("1");
    expect(code(() => parseForm(req("a=1", "application/json")))).toBe("invalid_request");
    expect(code(() => parseForm(req("a=1", "application/x-www-form-urlencodedX")))).toBe("invalid_request");
    expect(code(() => parseForm(req(Array.from({ length: 65 }, (_, i) => `p${i}=1`).join("&"))))).toBe(
      "invalid_request",
    );
    expect(code(() => parseForm(req(`a=${"x".repeat(16 * 1024 + 1)}`)))).toBe("invalid_request");
  });
});

describe("form pairs agree with URLSearchParams", () => {
  const pairsOf = (body: string) => {
    const f = parseForm(req(body));
    const keys = [...new Set([...new URLSearchParams(body).keys()])];
    return keys.map((k) => [k, f.all(k)]);
  };
  const expected = (body: string) => {
    const u = new URLSearchParams(body);
    return [...new Set(u.keys())].map((k) => [k, u.getAll(k).filter((v) => v !== "")]);
  };

  it("on a leading '?', '+', escapes, malformed escapes, surrogates and empty keys", () => {
    for (const body of [
      "?client_id=a&token=b",
      "??client_id=a",
      "?a=%ZZ&b=1",
      "a=x+y&b=%2B&c=%C3%A9&=v&d",
      "a=%E0%A4%A&b=\uD800",
      "__proto__=1&constructor=2",
      "a=1;b=2",
    ])
      expect(pairsOf(body), body).toEqual(expected(body));
  });

  it("refuses a parameter repeated behind a leading '?' like any other (RFC 6749 §3.1)", () => {
    expect(
      code(() => parseForm(req("?grant_type=refresh_token&grant_type=client_credentials")).get("grant_type")),
    ).toBe("invalid_request");
    // What the audit rules read: the same value the endpoint reads, nothing when repeated.
    expect(formParam("?client_id=victim&token=x", "client_id")).toBe("victim");
    expect(formParam("client_id=a&client_id=b", "client_id")).toBeUndefined();
    expect(formParam(undefined, "client_id")).toBeUndefined();
  });
});

describe("scopes (RFC 6749 §3.3)", () => {
  it("parses scope tokens, deduplicates, and refuses malformed ones", () => {
    expect(parseScope("authz:read authz:read audit:read")).toEqual(["authz:read", "audit:read"]);
    expect(parseScope(undefined)).toEqual([]);
    for (const bad of ["a  b", " a", 'a"b', "a\\b", "a\tb", "é"])
      expect(code(() => parseScope(bad))).toBe("invalid_scope");
  });

  it("grants a requested subset or all allowed scopes; refuses anything beyond", () => {
    expect(grantScopes([], ["a", "b"])).toEqual(["a", "b"]);
    expect(grantScopes(["b"], ["a", "b"])).toEqual(["b"]);
    expect(code(() => grantScopes(["c"], ["a", "b"]))).toBe("invalid_scope");
  });

  it("maps scopes to platform permissions, ignoring other services' scopes", () => {
    expect(permissionsOf("authz:read ingest:write tenant:admin")).toEqual(["authz:read", "tenant:admin"]);
    expect(permissionsOf(undefined)).toEqual([]);
  });
});

describe("audiences (RFC 8707, RFC 8693)", () => {
  const allowed = ["https://api.example.com", "https://b.example.com/x", "pcc_01J0000000000000000000000A"];
  it("defaults to the first registered audience and accepts registered ones", () => {
    expect(grantAudiences([], [], allowed)).toEqual(["https://api.example.com"]);
    expect(grantAudiences(["https://b.example.com/x"], ["pcc_01J0000000000000000000000A"], allowed)).toEqual([
      "https://b.example.com/x",
      "pcc_01J0000000000000000000000A",
    ]);
  });
  it("refuses unregistered, relative, fragment and too many audiences with invalid_target", () => {
    for (const r of [
      ["https://evil.example"],
      ["/relative"],
      ["https://api.example.com#f"],
      ["urn:x", "urn:y", "urn:z", "urn:w", "urn:v"],
    ])
      expect(code(() => grantAudiences(r, [], allowed))).toBe("invalid_target");
    expect(code(() => grantAudiences([], [], []))).toBe("invalid_target");
    expect(isResourceIndicator("urn:example:api")).toBe(true);
  });
});

describe("OAuth error rendering", () => {
  const log = createLogger({ level: "silent" });
  const r = req("");
  it("renders OAuth errors as {error, error_description}, no-store, with their headers", () => {
    const res = renderOAuthError(
      new OAuthError("invalid_client", 'bad "client" \\ x', 401, { "www-authenticate": "Basic" }),
      r,
      log,
    );
    expect(res.statusCode).toBe(401);
    expect(res.headers).toMatchObject({
      "cache-control": "no-store",
      pragma: "no-cache",
      "www-authenticate": "Basic",
    });
    // RFC 6749 §5.2: no quote or backslash in error_description.
    expect(JSON.parse(res.body!)).toEqual({ error: "invalid_client", error_description: "bad  client    x" });
  });
  it("maps domain errors and hides unknown ones behind server_error", () => {
    const unavailable = renderOAuthError(new DomainError("unavailable", "Signing is unavailable."), r, log);
    expect(unavailable.statusCode).toBe(503);
    expect(JSON.parse(unavailable.body!).error).toBe("temporarily_unavailable");
    expect(renderOAuthError(new DomainError("payload_too_large", "Too big."), r, log).statusCode).toBe(413);
    const boom = renderOAuthError(new Error("ECONNREFUSED dynamodb.internal:8000 table platform"), r, log);
    expect(boom.statusCode).toBe(500);
    expect(JSON.parse(boom.body!)).toEqual({
      error: "server_error",
      error_description: "The server could not complete the request.",
    });
  });
});
