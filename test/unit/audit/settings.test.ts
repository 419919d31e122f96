import { describe, expect, it } from "vitest";
import { auditSettingsFromEnv } from "../../../src/audit/settings.ts";

describe("audit settings", () => {
  it("defaults: in-process locally, EventBridge with DynamoDB in AWS", () => {
    expect(auditSettingsFromEnv({}, { store: "memory" })).toEqual({
      bus: "in-process",
      eventBusName: "default",
      retentionDays: 365,
      emf: false,
      flush: "in-invocation",
      localStore: "in-thread",
    });
    expect(
      auditSettingsFromEnv({}, { store: "dynamodb", dynamodbEndpoint: "http://127.0.0.1:8000" }).bus,
    ).toBe("in-process");
    const aws = auditSettingsFromEnv(
      {
        PORTCULLIS_AUDIT_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/1/dlq",
        PORTCULLIS_AUDIT_RETENTION_DAYS: "90",
      },
      { store: "dynamodb" },
    );
    expect(aws).toMatchObject({ bus: "eventbridge", emf: true, retentionDays: 90, flush: "after-response" });
    // The CDK app's variable names the bus.
    expect(
      auditSettingsFromEnv({ PORTCULLIS_EVENT_BUS: "portcullis-prod-audit" }, { store: "dynamodb" })
        .eventBusName,
    ).toBe("portcullis-prod-audit");
  });

  it("flush: after the response with EventBridge unless told otherwise", () => {
    const flush = (env: NodeJS.ProcessEnv) => auditSettingsFromEnv(env, { store: "memory" }).flush;
    expect(flush({ PORTCULLIS_AUDIT_BUS: "eventbridge" })).toBe("after-response");
    expect(flush({ PORTCULLIS_AUDIT_BUS: "eventbridge", PORTCULLIS_AUDIT_FLUSH: "in-invocation" })).toBe(
      "in-invocation",
    );
    expect(flush({ PORTCULLIS_AUDIT_BUS: "in-process" })).toBe("in-invocation");
    // Batched by event-loop turn: a long-running server's mode; never in Lambda, whose frozen
    // environment runs nothing between invocations.
    expect(flush({ PORTCULLIS_AUDIT_FLUSH: "end-of-turn" })).toBe("end-of-turn");
    expect(flush({ PORTCULLIS_AUDIT_FLUSH: "end-of-turn", AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001" })).toBe(
      "in-invocation",
    );
    expect(() => flush({ PORTCULLIS_AUDIT_FLUSH: "later" })).toThrow(/PORTCULLIS_AUDIT_FLUSH/);
  });

  it("log: audit lines written in the invocation, with EMF metrics", () => {
    expect(auditSettingsFromEnv({ PORTCULLIS_AUDIT_BUS: "log" }, { store: "dynamodb" })).toMatchObject({
      bus: "log",
      emf: true,
      flush: "in-invocation",
    });
    expect(
      auditSettingsFromEnv(
        { PORTCULLIS_AUDIT_BUS: "log", PORTCULLIS_AUDIT_EMF: "false" },
        { store: "memory" },
      ).emf,
    ).toBe(false);
    expect(() => auditSettingsFromEnv({ PORTCULLIS_AUDIT_BUS: "stdout" }, { store: "memory" })).toThrow(
      /PORTCULLIS_AUDIT_BUS/,
    );
  });

  it("local store: in the request thread unless a worker is asked for", () => {
    const local = (env: NodeJS.ProcessEnv) => auditSettingsFromEnv(env, { store: "memory" }).localStore;
    expect(local({})).toBe("in-thread");
    expect(local({ PORTCULLIS_AUDIT_LOCAL_STORE: "worker" })).toBe("worker");
    expect(() => local({ PORTCULLIS_AUDIT_LOCAL_STORE: "elsewhere" })).toThrow(
      /PORTCULLIS_AUDIT_LOCAL_STORE/,
    );
  });

  it("names the offending variable, never its value", () => {
    expect(() => auditSettingsFromEnv({ PORTCULLIS_AUDIT_BUS: "kafka-secret" }, { store: "memory" })).toThrow(
      /PORTCULLIS_AUDIT_BUS/,
    );
    expect(() =>
      auditSettingsFromEnv({ PORTCULLIS_AUDIT_BUS: "kafka-secret" }, { store: "memory" }),
    ).not.toThrow(/kafka-secret/);
    expect(() =>
      auditSettingsFromEnv({ PORTCULLIS_AUDIT_RETENTION_DAYS: "0" }, { store: "memory" }),
    ).toThrow();
  });
});
