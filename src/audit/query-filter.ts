import type { AuditEvent } from "./events.ts";
import type { AuditFilter } from "./ports.ts";

/** Sort key of an event within its tenant: time then id, so newest first is a reverse scan. */
export const eventSortKey = (e: Pick<AuditEvent, "time" | "id">): string => `${e.time}#${e.id}`;

/**
 * The first index in `[0, n)` that is not `below` (`below` true for a prefix of the indexes: a
 * sorted list's elements under some key).
 */
export function lowerBound(n: number, below: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether an event passes every filter; the reference semantics for every store adapter. */
export function matches(
  e: Pick<AuditEvent, "type" | "actor" | "resource" | "decision" | "time">,
  f: AuditFilter,
): boolean {
  if (f.type !== undefined && e.type !== f.type) return false;
  if (f.actor !== undefined && e.actor !== f.actor) return false;
  if (f.resource !== undefined && e.resource !== f.resource) return false;
  if (f.decision !== undefined && e.decision !== f.decision) return false;
  const t = Date.parse(e.time);
  if (f.from !== undefined && t < f.from) return false;
  if (f.to !== undefined && t > f.to) return false;
  return true;
}

/** Epoch seconds at which an event expires from the store. */
export const expiresAt = (e: Pick<AuditEvent, "time">, retentionDays: number): number =>
  Math.floor(Date.parse(e.time) / 1000) + Math.round(retentionDays * 86_400);
