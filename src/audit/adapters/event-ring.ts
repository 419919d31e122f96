/**
 * A ring of audit events in shared memory: one writer (the request thread), one reader (the audit
 * store's worker thread, worker-store.ts). What the local platform uses to keep storing events off
 * the request thread, as the audit writer Lambda does in AWS.
 *
 * Why not `postMessage`: the structured clone of an event costs the sender about as much as storing
 * it (~1.3 µs, like `JSON.stringify`), and the point is to spend less than that on the request
 * thread. An event is written as UTF-16 code units, field by field, and a field equal to the same
 * field of the event before it (`===`: the tenant, the caller, the model, the region, the store...)
 * as one unit. No library does this (they serialise whole objects), hence the code here.
 *
 * Layout: `control` holds the write and read positions (in units of `data`); a record never wraps:
 * when it does not fit before the end, a WRAP unit is written and it starts at 0. Empty when
 * write = read; the writer keeps one unit free so that full and empty differ. The writer publishes
 * a record by storing its position (Atomics), the reader frees space the same way.
 */
import type { AuditEvent } from "../events.ts";

const WRITE = 0;
const READ = 1;
/** Record tags. */
const SAME = 0;
const ABSENT = 1;
const TEXT = 2;
const MICROS = 3;
const WRAP = 0xffff;

/** The string fields of an event, in record order (`request.*` after the top-level ones). */
const STRING_FIELDS = 16;
/**
 * Units of a record besides its strings and detail, with room to spare: flags, the MICROS pair,
 * and `v` and a latency written as text (a number's text is at most 24 characters).
 */
const RECORD_OVERHEAD = 80;
export interface EventRing {
  readonly control: Int32Array;
  readonly data: Uint16Array;
  /** Longest string field (and detail JSON) a record holds; longer events go another way. */
  readonly maxString: number;
}

/**
 * A ring of `units` UTF-16 units (2 bytes each) over shared memory; fields up to `maxString`
 * units (redaction caps every field but `detail` at 2,048).
 * @default units 4 Mi (8 MiB); maxString 8,192, or a 64th of a smaller ring
 */
export function createEventRing(
  units = 4 << 20,
  maxString = Math.min(8192, Math.floor(units / 64)),
): EventRing {
  if (maxString > 0xffff || RECORD_OVERHEAD + (STRING_FIELDS + 2) * (maxString + 2) >= units / 2)
    throw new RangeError("event ring: maxString too large for the ring");
  return {
    control: new Int32Array(new SharedArrayBuffer(8)),
    data: new Uint16Array(new SharedArrayBuffer(units * 2)),
    maxString,
  };
}

/** Whether two details have the same keys and values. */
function sameDetail(a: AuditEvent["detail"], b: AuditEvent["detail"]): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** Whether a number is a whole count of microseconds that fits two units (latencies in ms). */
const micros = (n: number): number => {
  const us = Math.round(n * 1000);
  return us / 1000 === n && us >= 0 && us <= 0xffffffff ? us : -1;
};

/** The request thread's end of a ring. */
export class EventRingWriter {
  readonly #control: Int32Array;
  readonly #data: Uint16Array;
  readonly #size: number;
  readonly #maxString: number;
  /** Longest record: every field a string of `maxString`, plus numbers and flags. */
  readonly #maxRecord: number;
  /** The string fields of the last event written (by record position). */
  readonly #prev: (string | undefined)[] = new Array(STRING_FIELDS).fill(undefined);
  #prevV: number | undefined;
  #prevLatency: number | undefined;
  #prevDetail: AuditEvent["detail"];
  /** False until an event was written, and after a record was given up: nothing is SAME then. */
  #hasPrev = false;

  constructor(ring: EventRing) {
    this.#control = ring.control;
    this.#data = ring.data;
    this.#size = ring.data.length;
    this.#maxString = ring.maxString;
    this.#maxRecord = RECORD_OVERHEAD + (STRING_FIELDS + 2) * (ring.maxString + 2);
  }

  /**
   * Writes one event; false when the ring has no room for a record (or a field is longer than
   * `maxString`): the caller sends it another way. Never blocks.
   */
  write(e: AuditEvent): boolean {
    try {
      return this.#write(e);
    } catch {
      // A value no record can hold (a detail that cannot be JSON, a field that is not a string):
      // nothing is published, and the next record repeats every field.
      return this.#giveUp();
    }
  }

  #write(e: AuditEvent): boolean {
    let w = this.#start();
    if (w < 0) return false;
    const r = e.request;
    // A field too long makes every later one -1 too: one test at the end.
    w = this.#string(e.id, 0, w);
    w = this.#string(e.time, 1, w);
    w = this.#string(e.tenant, 2, w);
    w = this.#string(e.type, 3, w);
    w = this.#string(e.actor, 4, w);
    w = this.#string(e.subject, 5, w);
    w = this.#string(e.resource, 6, w);
    w = this.#string(e.action, 7, w);
    w = this.#string(e.decision, 8, w);
    w = this.#string(e.reason, 9, w);
    w = this.#string(e.region, 10, w);
    w = this.#string(e.model_id, 11, w);
    w = this.#string(e.consistency_token, 12, w);
    w = this.#string(r?.id, 13, w);
    w = this.#string(r?.ip, 14, w);
    w = this.#string(r?.user_agent, 15, w);
    if (w < 0) return this.#giveUp();
    const d = this.#data;
    const same = this.#hasPrev;
    // v, latency_ms, request (present or not), detail.
    const v = e.v as number | undefined;
    if (v === undefined) d[w++] = ABSENT;
    else if (same && v === this.#prevV) d[w++] = SAME;
    else w = this.#text(String(v), w);
    const latency = e.latency_ms;
    const us = latency === undefined ? -1 : micros(latency);
    if (latency === undefined) d[w++] = ABSENT;
    else if (same && latency === this.#prevLatency) d[w++] = SAME;
    else if (us >= 0) {
      d[w++] = MICROS;
      d[w++] = us >>> 16;
      d[w++] = us & 0xffff;
    } else w = this.#text(String(latency), w);
    d[w++] = r === undefined ? 0 : 1;
    const detail = e.detail;
    if (same && sameDetail(detail, this.#prevDetail)) d[w++] = SAME;
    else if (detail === undefined) d[w++] = ABSENT;
    else {
      const text = JSON.stringify(detail);
      if (text.length > this.#maxString) return this.#giveUp();
      w = this.#text(text, w);
    }
    this.#prevV = v;
    this.#prevLatency = latency;
    this.#prevDetail = detail;
    this.#hasPrev = true;
    Atomics.store(this.#control, WRITE, w);
    return true;
  }

  /** Whether the reader has taken every event written. */
  empty(): boolean {
    return Atomics.load(this.#control, WRITE) === Atomics.load(this.#control, READ);
  }

  /**
   * One string field at `at` (SAME when it equals the last event's), remembered; -1 if too long
   * (or if `at` is -1: a field before it was).
   * Its previous value is overwritten as it goes: a record given up afterwards resets `#hasPrev`.
   */
  #string(s: string | undefined, k: number, at: number): number {
    if (at < 0) return -1;
    const d = this.#data;
    if (s === this.#prev[k] && this.#hasPrev) {
      d[at] = SAME;
      return at + 1;
    }
    this.#prev[k] = s;
    if (s === undefined) {
      d[at] = ABSENT;
      return at + 1;
    }
    if (typeof s !== "string") throw new TypeError("not a string");
    if (s.length > this.#maxString) return -1;
    return this.#text(s, at);
  }

  #text(s: string, at: number): number {
    const d = this.#data;
    const n = s.length;
    d[at] = TEXT;
    d[at + 1] = n;
    at += 2;
    for (let i = 0; i < n; i++) d[at + i] = s.charCodeAt(i);
    return at + n;
  }

  /** Nothing of the record is published; the next one repeats every field. */
  #giveUp(): false {
    this.#hasPrev = false;
    return false;
  }

  /**
   * Where the next record starts: at the write position if a record of the greatest size fits
   * before the end (so a record never reaches the end, nor the read position), else at 0 after a
   * WRAP unit; -1 without room.
   */
  #start(): number {
    const max = this.#maxRecord;
    const w = Atomics.load(this.#control, WRITE);
    const r = Atomics.load(this.#control, READ);
    if (w < r) return r - w > max ? w : -1;
    if (this.#size - w > max) return w;
    if (r > max) {
      this.#data[w] = WRAP;
      return 0;
    }
    return -1;
  }
}

/** The store thread's end of a ring. */
export class EventRingReader {
  readonly #control: Int32Array;
  readonly #data: Uint16Array;
  readonly #prev: (string | undefined)[] = new Array(STRING_FIELDS).fill(undefined);
  #prevV: number | undefined;
  #prevLatency: number | undefined;
  #prevDetail: AuditEvent["detail"];
  /** Read position while draining. */
  #r = 0;

  constructor(ring: EventRing) {
    this.#control = ring.control;
    this.#data = ring.data;
  }

  /** Every event written since the last call, in order; their space is free again after it. */
  drain(): AuditEvent[] {
    const out: AuditEvent[] = [];
    const end = Atomics.load(this.#control, WRITE);
    const d = this.#data;
    const prev = this.#prev;
    this.#r = Atomics.load(this.#control, READ);
    while (this.#r !== end) {
      if (d[this.#r] === WRAP) {
        this.#r = 0;
        continue;
      }
      for (let k = 0; k < STRING_FIELDS; k++) {
        const tag = d[this.#r++]!;
        if (tag === ABSENT) prev[k] = undefined;
        else if (tag === TEXT) prev[k] = this.#text();
      }
      let tag = d[this.#r++]!;
      if (tag === ABSENT) this.#prevV = undefined;
      else if (tag === TEXT) this.#prevV = Number(this.#text());
      tag = d[this.#r++]!;
      if (tag === ABSENT) this.#prevLatency = undefined;
      else if (tag === MICROS) {
        this.#prevLatency = (d[this.#r]! * 0x10000 + d[this.#r + 1]!) / 1000;
        this.#r += 2;
      } else if (tag === TEXT) this.#prevLatency = Number(this.#text());
      const hasRequest = d[this.#r++] === 1;
      tag = d[this.#r++]!;
      if (tag === ABSENT) this.#prevDetail = undefined;
      else if (tag === TEXT) this.#prevDetail = JSON.parse(this.#text()) as AuditEvent["detail"];
      out.push(this.#event(hasRequest));
    }
    Atomics.store(this.#control, READ, this.#r);
    return out;
  }

  /**
   * The text at the read position (after its TEXT tag: a length, then the units), advancing past
   * it; in slices, as `fromCharCode` takes arguments.
   */
  #text(): string {
    const d = this.#data;
    const n = d[this.#r]!;
    const at = this.#r + 1;
    this.#r = at + n;
    let s = "";
    for (let i = 0; i < n; i += 1024)
      s += String.fromCharCode.apply(
        null,
        d.subarray(at + i, at + Math.min(n, i + 1024)) as unknown as number[],
      );
    return s;
  }

  /** The event the fields now hold, keys in the schema's order. */
  #event(hasRequest: boolean): AuditEvent {
    const p = this.#prev;
    const e: Record<string, unknown> = {};
    if (this.#prevV !== undefined) e.v = this.#prevV;
    e.id = p[0];
    e.time = p[1];
    e.tenant = p[2];
    e.type = p[3];
    e.actor = p[4];
    if (p[5] !== undefined) e.subject = p[5];
    e.resource = p[6];
    e.action = p[7];
    e.decision = p[8];
    if (p[9] !== undefined) e.reason = p[9];
    e.region = p[10];
    if (hasRequest) {
      const request: Record<string, string> = {};
      if (p[13] !== undefined) request.id = p[13];
      if (p[14] !== undefined) request.ip = p[14];
      if (p[15] !== undefined) request.user_agent = p[15];
      e.request = request;
    }
    if (this.#prevLatency !== undefined) e.latency_ms = this.#prevLatency;
    if (p[11] !== undefined) e.model_id = p[11];
    if (p[12] !== undefined) e.consistency_token = p[12];
    if (this.#prevDetail !== undefined) e.detail = { ...this.#prevDetail };
    return e as AuditEvent;
  }
}
