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
import { eventSortKey } from "../query-filter.ts";

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

/** Records of one block at most: a query decodes whole blocks. */
export const MAX_BLOCK_RECORDS = 4096;

/** Non-string slots of a record, after the strings: `v`, the latency, the detail. */
const V = STRING_FIELDS;
const LATENCY = STRING_FIELDS + 1;
const DETAIL = STRING_FIELDS + 2;
const SLOTS = STRING_FIELDS + 3;

/**
 * What the records read so far leave in each field: a record carries only the fields that changed,
 * so reading one needs the state the records before it left.
 */
export class RecordState {
  readonly strings: (string | undefined)[];
  v: number | undefined;
  latency: number | undefined;
  /** The detail as JSON text. */
  detailText: string | undefined;
  /** Whether the last record read has a `request`. */
  hasRequest = false;
  #detail: AuditEvent["detail"];
  #detailOf: string | undefined;

  constructor(from?: RecordState) {
    this.strings = from ? [...from.strings] : new Array(STRING_FIELDS).fill(undefined);
    this.v = from?.v;
    this.latency = from?.latency;
    this.detailText = from?.detailText;
  }

  /** The event the fields now hold, keys in the schema's order. */
  event(): AuditEvent {
    const p = this.strings;
    const e: Record<string, unknown> = {};
    if (this.v !== undefined) e.v = this.v;
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
    if (this.hasRequest) {
      const request: Record<string, string> = {};
      if (p[13] !== undefined) request.id = p[13];
      if (p[14] !== undefined) request.ip = p[14];
      if (p[15] !== undefined) request.user_agent = p[15];
      e.request = request;
    }
    if (this.latency !== undefined) e.latency_ms = this.latency;
    if (p[11] !== undefined) e.model_id = p[11];
    if (p[12] !== undefined) e.consistency_token = p[12];
    const detail = this.#parsedDetail();
    if (detail !== undefined) e.detail = { ...detail };
    return e as AuditEvent;
  }

  /** The detail, parsed once per text. */
  #parsedDetail(): AuditEvent["detail"] {
    if (this.detailText !== this.#detailOf) {
      this.#detail =
        this.detailText === undefined ? undefined : (JSON.parse(this.detailText) as AuditEvent["detail"]);
      this.#detailOf = this.detailText;
    }
    return this.#detail;
  }
}

/**
 * The text whose length is at `at` (after its TEXT tag); in slices, as `fromCharCode` takes
 * arguments.
 */
function textAt(d: Uint16Array, at: number): string {
  const n = d[at]!;
  const from = at + 1;
  let s = "";
  for (let i = 0; i < n; i += 1024)
    s += String.fromCharCode.apply(
      null,
      d.subarray(from + i, from + Math.min(n, i + 1024)) as unknown as number[],
    );
  return s;
}

/** The new value of a changed (not SAME) text field whose tag is at `at`: its text, or absent. */
const changedText = (d: Uint16Array, at: number): string | undefined =>
  d[at] === ABSENT ? undefined : textAt(d, at + 1);

/** Units of the field whose tag is at `at`, tag included. */
const fieldUnits = (d: Uint16Array, at: number): number => {
  const tag = d[at]!;
  return tag === TEXT ? 2 + d[at + 1]! : tag === MICROS ? 3 : 1;
};

/** Reads the record at `r` into `state`; returns where the next record starts. */
function readRecord(d: Uint16Array, r: number, state: RecordState): number {
  const strings = state.strings;
  for (let k = 0; k < STRING_FIELDS; k++) {
    if (d[r] !== SAME) strings[k] = changedText(d, r);
    r += fieldUnits(d, r);
  }
  r = readNumber(d, r, state, V);
  r = readNumber(d, r, state, LATENCY);
  state.hasRequest = d[r++] === 1;
  if (d[r] !== SAME) state.detailText = changedText(d, r);
  return r + fieldUnits(d, r);
}

/** `v` or the latency, at `r`, into `state`. */
function readNumber(d: Uint16Array, r: number, state: RecordState, slot: typeof V | typeof LATENCY): number {
  const tag = d[r]!;
  if (tag !== SAME) {
    const n =
      tag === ABSENT
        ? undefined
        : tag === MICROS
          ? (d[r + 1]! * 0x10000 + d[r + 2]!) / 1000
          : Number(textAt(d, r + 1));
    if (slot === V) state.v = n;
    else state.latency = n;
  }
  return r + fieldUnits(d, r);
}

/**
 * Records taken from the ring as they are (one copy of their units, nothing decoded), with what is
 * needed to read them later: the state before the first, the tenant of each, and the sort keys
 * (`time#id`) of the first and the last.
 */
export interface RecordBlock {
  readonly units: Uint16Array;
  readonly count: number;
  readonly start: RecordState;
  /** Per record: its tenant, as an index into `tenantNames`. */
  readonly tenants: Uint32Array;
  readonly tenantNames: readonly string[];
  readonly firstKey: string;
  readonly lastKey: string;
  /** The time of the last record (the newest: the ring's records are in key order). */
  readonly lastTime: string;
}

/** Calls `each` with the state after every record of a block, in order. */
export function forEachRecord(block: RecordBlock, each: (state: RecordState, index: number) => void): void {
  const state = new RecordState(block.start);
  let r = 0;
  for (let i = 0; i < block.count; i++) {
    r = readRecord(block.units, r, state);
    each(state, i);
  }
}

/** The store thread's end of a ring. */
export class EventRingReader {
  readonly #control: Int32Array;
  readonly #data: Uint16Array;
  readonly #state = new RecordState();

  constructor(ring: EventRing) {
    this.#control = ring.control;
    this.#data = ring.data;
  }

  /**
   * The records written since the last call as one block (at most 4,096: call again for more),
   * undefined when there is none; their space is free again after it. Per record only the tags
   * are read (and the tenant when it changes): the strings of a field are decoded once per block,
   * for the state at its end.
   */
  take(): RecordBlock | undefined {
    const end = Atomics.load(this.#control, WRITE);
    let r = Atomics.load(this.#control, READ);
    if (r === end) return undefined;
    const d = this.#data;
    const state = this.#state;
    const start = new RecordState(state);
    /** Per slot, where this block last changed it: the tag's position, or -1 (unchanged). */
    const last = new Int32Array(SLOTS).fill(-1);
    const segments: Uint16Array[] = [];
    let from = r;
    let tenant = state.strings[2];
    const tenantNames: string[] = [];
    const tenantIndex = new Map<string, number>();
    let tenantsOf = new Uint32Array(256);
    let count = 0;
    let firstKey = "";
    while (r !== end && count < MAX_BLOCK_RECORDS) {
      if (d[r] === WRAP) {
        segments.push(d.slice(from, r));
        r = from = 0;
        continue;
      }
      for (let k = 0; k < SLOTS; k++) {
        if (k === DETAIL) r++; // the request flag: not a slot, always written
        const tag = d[r]!;
        if (tag !== SAME) {
          last[k] = r;
          if (k === 2) tenant = changedText(d, r);
        }
        r += fieldUnits(d, r);
      }
      const name = tenant ?? "";
      let ti = tenantIndex.get(name);
      if (ti === undefined) {
        ti = tenantNames.push(name) - 1;
        tenantIndex.set(name, ti);
      }
      if (count === tenantsOf.length) {
        const grown = new Uint32Array(count * 2);
        grown.set(tenantsOf);
        tenantsOf = grown;
      }
      tenantsOf[count++] = ti;
      if (count === 1)
        firstKey = eventSortKey({ time: this.#stringAt(last, 1)!, id: this.#stringAt(last, 0)! });
    }
    segments.push(d.slice(from, r));
    // The state at the end of the block, from the last change of every field (before the space
    // is released).
    for (let k = 0; k < STRING_FIELDS; k++) state.strings[k] = this.#stringAt(last, k);
    if (last[V]! >= 0) readNumber(d, last[V]!, state, V);
    if (last[LATENCY]! >= 0) readNumber(d, last[LATENCY]!, state, LATENCY);
    if (last[DETAIL]! >= 0) state.detailText = changedText(d, last[DETAIL]!);
    Atomics.store(this.#control, READ, r);
    const units = segments.length === 1 ? segments[0]! : concatUnits(segments[0]!, segments[1]!);
    const lastTime = state.strings[1] ?? "";
    return {
      units,
      count,
      start,
      tenants: tenantsOf.slice(0, count),
      tenantNames,
      firstKey,
      lastKey: eventSortKey({ time: lastTime, id: state.strings[0] ?? "" }),
      lastTime,
    };
  }

  /** String field `k` as the records read so far left it (`last`: where the block last changed it). */
  #stringAt(last: Int32Array, k: number): string | undefined {
    const at = last[k]!;
    return at < 0 ? this.#state.strings[k] : changedText(this.#data, at);
  }
}

/** `a` then `b`, in one array. */
export const concatUnits = (a: Uint16Array, b: Uint16Array): Uint16Array => {
  const out = new Uint16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
