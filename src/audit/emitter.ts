/**
 * The audit emitter: what decision paths call. `emit` fills in the envelope (ULID id, time,
 * region), runs the redaction guard, counts decisions and enqueues on the bus: O(1), synchronous,
 * never throws. Nothing here awaits; delivery happens in `flush` (end of invocation).
 */
import type { HttpRequest, Principal } from "../http/types.ts";
import type { Clock } from "../shared/clock.ts";
import type { IdGenerator } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type AuditEventInput } from "./events.ts";
import type { AuditMetrics } from "./metrics.ts";
import type { EventBus } from "./ports.ts";
import { redactInPlace } from "./redact.ts";

export interface AuditEmitterDeps {
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly region: string;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  /** Emission switched off (bench baseline, `PORTCULLIS_AUDIT=off`). @default true */
  readonly enabled?: boolean;
}

export class AuditEmitter {
  readonly #d: AuditEmitterDeps;
  readonly enabled: boolean;

  constructor(deps: AuditEmitterDeps) {
    this.#d = deps;
    this.enabled = deps.enabled ?? true;
  }

  get metrics(): AuditMetrics {
    return this.#d.metrics;
  }

  get bus(): EventBus {
    return this.#d.bus;
  }

  /**
   * Enqueues one event; never throws and never blocks the caller. The input object becomes the
   * event (the envelope fields are set on it, its `request` and `detail` are redacted in place):
   * pass a fresh one. Nothing is copied on the hot path; readers get the schema's key order from
   * `inSchemaOrder` (events.ts).
   */
  emit(input: AuditEventInput): void {
    if (!this.enabled) return;
    try {
      const d = this.#d;
      const at = input.at;
      // The input becomes the event, unless it cannot: it has a time of its own, was emitted
      // before (it has an id: emitting it again must not rewrite the event already queued), or
      // is frozen or sealed.
      const event = (
        at === undefined && !(input as { id?: string }).id && Object.isExtensible(input)
          ? input
          : copyOf(input)
      ) as AuditEvent;
      event.v = AUDIT_SCHEMA_VERSION;
      event.id = d.ids.ulid();
      event.time = this.#iso(at ?? d.clock.now());
      event.region = d.region;
      redactInPlace(event);
      const m = d.metrics;
      if (event.decision === "allow") m.add("DecisionsAllowed");
      else if (event.decision === "deny") m.add("DecisionsDenied");
      m.add("AuditEventsEmitted");
      d.bus.publish(event);
    } catch (err) {
      this.#d.metrics.add("AuditEmitErrors");
      this.#d.log.error("audit emit failed", { err, type: input.type });
    }
  }

  #isoMs = Number.NaN;
  #isoText = "";
  /** RFC 3339 time of `ms`, formatted once per millisecond. */
  #iso(ms: number): string {
    if (ms !== this.#isoMs) {
      this.#isoText = new Date(ms).toISOString();
      this.#isoMs = ms;
    }
    return this.#isoText;
  }

  /** Delivers what is queued; never rejects. */
  flush(options?: { readonly deadline?: number }): Promise<void> {
    return this.#d.bus.flush(options);
  }
}

/** The request part of the envelope: request id, source ip, user agent. */
export const requestInfo = (req: HttpRequest): NonNullable<AuditEvent["request"]> => {
  const ua = req.headers["user-agent"];
  return ua
    ? { id: req.requestId, ip: req.sourceIp, user_agent: ua }
    : { id: req.requestId, ip: req.sourceIp };
};

/**
 * A fresh copy of an input the emitter must not take over (the rare path), without `at`; `request`
 * and `detail` are copied too, as redaction writes into them.
 */
const copyOf = (input: AuditEventInput): Omit<AuditEventInput, "at"> => {
  const { at: _, ...rest } = input;
  if (rest.request) rest.request = { ...rest.request };
  if (rest.detail) rest.detail = { ...rest.detail };
  return rest;
};

/**
 * The actor of a principal: `platform:<credential>` for the platform admin; a tenant credential's
 * id as is when typed (`client:<id>`), else `apikey:<id>`; `anonymous` without one.
 */
export const actorOf = (p: Principal | undefined): string => {
  if (p === undefined) return "anonymous";
  // Principals come from the credential caches, one object per credential: the text is kept.
  let a = actors.get(p);
  if (a === undefined) {
    a =
      p.kind === "platform"
        ? `platform:${p.credentialId}`
        : p.credentialId.includes(":")
          ? p.credentialId
          : `apikey:${p.credentialId}`;
    actors.set(p, a);
  }
  return a;
};
const actors = new WeakMap<Principal, string>();

/** An emitter that drops everything (tests and code paths built without audit). */
export const noAudit: Pick<AuditEmitter, "emit"> = { emit: () => {} };

/** What decision paths depend on: just `emit`. */
export type AuditSink = Pick<AuditEmitter, "emit">;
