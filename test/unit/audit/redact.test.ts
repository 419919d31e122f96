import { describe, expect, it } from "vitest";
import { AuditEmitter } from "../../../src/audit/emitter.ts";
import { type AuditEvent, auditEventSchema, inSchemaOrder } from "../../../src/audit/events.ts";
import { AuditMetrics } from "../../../src/audit/metrics.ts";
import {
  findSecrets,
  MIN_SECRET_LENGTH,
  REDACTED,
  redactEvent,
  SECRET_VALUE_RES,
} from "../../../src/audit/redact.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const jwt =
  "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyOjEyMyIsImF1ZCI6Imh0dHBzOi8vYXBpIn0.c2lnbmF0dXJlc2lnbmF0dXJl";

function capture() {
  const events: AuditEvent[] = [];
  const emitter = new AuditEmitter({
    bus: { publish: (e) => events.push(e), flush: async () => {}, pending: 0 },
    clock: new ManualClock(),
    ids: ulidGenerator,
    region: "local",
    metrics: new AuditMetrics(),
    log: createLogger({ level: "silent" }),
  });
  return { emitter, events };
}

describe("audit event schema and redaction guard", () => {
  it("fills in the envelope and validates against the versioned schema", () => {
    const { emitter, events } = capture();
    emitter.emit({
      type: "token.issued",
      tenant: "t1",
      actor: "client:c1",
      resource: "client:c1",
      action: "client_credentials",
      decision: "allow",
      request: { id: "r1", ip: "127.0.0.1" },
    });
    expect(events).toHaveLength(1);
    const e = auditEventSchema.parse(events[0]);
    expect(e).toMatchObject({ v: 1, region: "local", time: "2026-01-01T00:00:00.000Z" });
  });

  it("drops secret-named detail keys and credential-looking values everywhere", () => {
    const { emitter, events } = capture();
    emitter.emit({
      type: "token.refused",
      tenant: "t1",
      actor: `Bearer ${jwt}`,
      resource: "pcl_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
      action: "token",
      decision: "deny",
      reason: `bad token ${jwt}`,
      // A PEM header, assembled so repository secret scanners do not flag this test.
      request: { user_agent: `curl/8 -----BEGIN ${"PRIVATE"} KEY-----` },
      detail: {
        client_secret: "s3cr3t",
        password: "hunter2",
        access_token: jwt,
        refresh_token: "x",
        grant_type: "client_credentials",
        token_type_hint: "access_token",
        note: "pca_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      },
    });
    const e = events[0]!;
    expect(e.actor).toBe(REDACTED);
    expect(e.resource).toBe(REDACTED);
    expect(e.reason).toBe(REDACTED);
    expect(e.request?.user_agent).toBe(REDACTED);
    expect(e.detail).toEqual({
      grant_type: "client_credentials",
      token_type_hint: "access_token",
      note: REDACTED,
    });
    expect(findSecrets(e)).toEqual([]);
    expect(JSON.stringify(e)).not.toMatch(/s3cr3t|hunter2|eyJ/);
  });

  it("skips short strings only below the shortest credential any pattern matches", () => {
    // The shortest text of each pattern; each is caught, and none is shorter than the skip bound.
    const shortest = [
      "eyJabcdefgh.eyJabcdefgh.",
      `pcl_${"a".repeat(16)}`,
      `${"-".repeat(5)}BEGIN PRIVATE KEY${"-".repeat(5)}`, // built, so no key header sits in the repo
      `Bearer ${"a".repeat(16)}`,
    ];
    expect(shortest).toHaveLength(SECRET_VALUE_RES.length);
    shortest.forEach((text, i) => {
      expect(SECRET_VALUE_RES[i]!.test(text)).toBe(true);
      // One character less no longer matches: these are the patterns' minimal lengths.
      expect(SECRET_VALUE_RES[i]!.test(text.slice(0, -1))).toBe(false);
      expect(text.length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
      expect(findSecrets({ s: text })).toEqual(["/s"]);
    });
    expect(Math.min(...shortest.map((t) => t.length))).toBe(MIN_SECRET_LENGTH);
  });

  it("readers get the schema's key order whatever order the fields were set in", () => {
    const e = {
      detail: { store_id: "s" },
      reason: "no path",
      decision: "deny",
      action: "viewer",
      resource: "doc:1",
      actor: "apikey:k",
      type: "authz.check",
      tenant: "t1",
      time: "2026-01-01T00:00:00.000Z",
      id: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      v: 1,
      region: "local",
      subject: undefined,
    } as unknown as AuditEvent;
    expect(Object.keys(inSchemaOrder(e))).toEqual([
      "v",
      "id",
      "time",
      "tenant",
      "type",
      "actor",
      "resource",
      "action",
      "decision",
      "reason",
      "region",
      "detail",
    ]);
  });

  it("the scanner finds what the guard would remove", () => {
    expect(findSecrets({ a: { client_secret: "x" } })).toEqual(["/a/client_secret"]);
    expect(findSecrets({ b: [`x ${jwt}`] })).toEqual(["/b/0"]);
    expect(findSecrets({ consistency_token: "abc", token_type: "Bearer" })).toEqual([]);
  });

  it("caps long reasons so an event always fits one PutEvents entry", () => {
    const e = redactEvent({
      v: 1,
      id: ulidGenerator.ulid(),
      time: new Date().toISOString(),
      region: "r",
      tenant: "t",
      type: "authz.check",
      actor: "a",
      resource: "doc:1",
      action: "viewer",
      decision: "allow",
      reason: "x".repeat(100_000),
    });
    expect(e.reason!.length).toBeLessThanOrEqual(2048);
    expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThan(256 * 1024);
  });

  it("emit never throws, even when the bus does", () => {
    const metrics = new AuditMetrics();
    const emitter = new AuditEmitter({
      bus: {
        publish: () => {
          throw new Error("boom");
        },
        flush: async () => {},
        pending: 0,
      },
      clock: new ManualClock(),
      ids: ulidGenerator,
      region: "r",
      metrics,
      log: createLogger({ level: "silent" }),
    });
    expect(() =>
      emitter.emit({
        type: "authz.check",
        tenant: "t",
        actor: "a",
        resource: "r",
        action: "x",
        decision: "deny",
      }),
    ).not.toThrow();
    expect(metrics.totals.AuditEmitErrors).toBe(1);
    const emf = JSON.parse(metrics.takeEmf(1, { Function: "authz" })!);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe("Portcullis/Audit");
    expect(emf.AuditEmitErrors).toBe(1);
    expect(metrics.takeEmf(2)).toBeUndefined();
  });

  it("an input emitted twice, or frozen, still gives one whole event per emit", () => {
    const { emitter, events } = capture();
    const input = {
      type: "authz.check" as const,
      tenant: "t1",
      actor: "apikey:k",
      resource: "doc:1",
      action: "viewer",
      decision: "allow" as const,
      request: { id: "r1", ip: "127.0.0.1" },
      detail: { store_id: "s1" },
    };
    emitter.emit(input);
    emitter.emit(input);
    emitter.emit(Object.freeze({ ...input, request: Object.freeze({ ...input.request }) }));
    expect(events).toHaveLength(3);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    for (const e of events) expect(auditEventSchema.parse(e)).toMatchObject({ resource: "doc:1" });
    // The first event is not rewritten by the second emit.
    expect(events[0]).not.toBe(events[1]);
    expect(events[0]!.id < events[1]!.id).toBe(true);
  });
});
