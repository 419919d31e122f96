/**
 * `TupleWriter.write` of the DynamoDB AuthzStore: ONE TransactWriteItems with one UpdateItem per
 * tuple change (a write revives or creates the item, a delete turns it into a tombstone; both append
 * the change to the item's `log`), and the archiving of a tuple item's full history. Design and
 * trade-offs: `../dynamodb.ts`.
 */
import { type TransactWriteItem, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { cancellationReasons } from "../../../shared/dynamodb.ts";
import { validationError } from "../../../shared/errors.ts";
import type { Tuple, TupleKey, TupleOperation } from "../../model.ts";
import { type TupleLookup, TupleWriteConflict, type WriteRequest } from "../../ports.ts";
import {
  archivePk,
  archiveSk,
  canonical,
  changePk,
  conditionId,
  decodeEntries,
  encodeEntry,
  entryBytes,
  type Item,
  LOG_BYTES_CAP,
  type LogEntry,
  MAX_TUPLE_CHANGES,
  reversePk,
  reverseSk,
  sameKey,
  type TableContext,
  tupleKeyOf,
} from "./items.ts";

/** The reads a write needs: the pre-read of the "ignore" modes and the head for a no-op. */
export interface WriterReads {
  getTuples(storeId: string, lookups: readonly TupleLookup[]): Promise<(Tuple | undefined)[]>;
  headRevision(storeId: string): Promise<string | undefined>;
}

interface Change {
  readonly key: TupleKey;
  readonly op: TupleOperation;
  readonly revision: string;
}

/** Rounds of "a touched item's history is full: archive it, then try again" one write may take. */
const ARCHIVE_ROUNDS = 3;
/** Transactions refused because the pre-read went stale (or a concurrent transaction) before giving up. */
const RACE_ATTEMPTS = 3;

export async function writeTuples(
  ctx: TableContext,
  reads: WriterReads,
  storeId: string,
  request: WriteRequest,
  at: number,
  revisions: () => string,
): Promise<{ revision: string }> {
  const all = [...request.deletes, ...request.writes];
  for (const [i, k] of all.entries()) {
    if (/\s/.test(k.object + k.relation + k.user) || !k.object.includes(":")) {
      throw validationError("Tuple keys must be `type:id` objects without whitespace.");
    }
    if (all.findIndex((o) => sameKey(o, k)) !== i)
      throw validationError("A tuple appears twice in one write.");
  }
  const preRead = request.onDuplicate === "ignore" || request.onMissing === "ignore";
  let races = 0;
  let archiveRounds = 0;
  for (;;) {
    const existing = preRead ? await reads.getTuples(storeId, all) : [];
    const plan: { key: TupleKey; op: TupleOperation }[] = [];
    request.deletes.forEach((k, i) => {
      if (preRead && !existing[i]) {
        if (request.onMissing === "error") throw new TupleWriteConflict("missing", k);
      } else plan.push({ key: { object: k.object, relation: k.relation, user: k.user }, op: "delete" });
    });
    request.writes.forEach((k, i) => {
      const found = existing[request.deletes.length + i];
      if (!found) plan.push({ key: k, op: "write" });
      else if (request.onDuplicate === "error") throw new TupleWriteConflict("duplicate", k);
      else if (conditionId(found.key) !== conditionId(k))
        throw new TupleWriteConflict("condition_mismatch", k);
    });
    if (plan.length === 0) return { revision: (await reads.headRevision(storeId)) ?? "" };
    if (plan.length > MAX_TUPLE_CHANGES) {
      throw validationError(`A write can apply at most ${MAX_TUPLE_CHANGES} tuple changes.`);
    }
    const changes: Change[] = plan.map((p) => ({ ...p, revision: revisions() }));
    try {
      await ctx.client.send(
        new TransactWriteItemsCommand({
          TransactItems: changes.map((c) => tupleAction(ctx, storeId, c, at)),
        }),
      );
      return { revision: changes.at(-1)!.revision };
    } catch (e) {
      const reasons = cancellationReasons(e);
      if (!reasons) throw e;
      const failed = reasons.flatMap((r, i) => (r.code === "ConditionalCheckFailed" ? [i] : []));
      const refused = failed.find((i) => !historyFull(changes[i]!.op, reasons[i]!.item));
      if (refused !== undefined) {
        // Without a pre-read the failed condition is the answer; with one, the state changed: plan again.
        const c = changes[refused]!;
        if (!preRead) throw new TupleWriteConflict(c.op === "delete" ? "missing" : "duplicate", c.key);
      } else if (failed.length > 0) {
        if (++archiveRounds > ARCHIVE_ROUNDS) throw new TupleWriteConflict("concurrent");
        await Promise.all(failed.map((i) => archiveHistory(ctx, storeId, reasons[i]!.item!)));
        continue;
      } else if (!reasons.some((r) => r.code === "TransactionConflict")) throw e;
      if (++races >= RACE_ATTEMPTS) throw new TupleWriteConflict("concurrent");
    }
  }
}

/** Whether a failed condition failed only because the item's history is full (not duplicate/missing). */
function historyFull(op: TupleOperation, old: Item | undefined): boolean {
  if (!old || Number(old.logb?.N ?? "0") < LOG_BYTES_CAP) return false;
  return op === "write" ? old.deleted !== undefined : old.deleted === undefined;
}

/** The one action of a tuple change: an UpdateItem that applies it and appends it to the item's log. */
function tupleAction(ctx: TableContext, storeId: string, c: Change, at: number): TransactWriteItem {
  const Key = tupleKeyOf(storeId, c.key);
  const cond = c.op === "write" && c.key.condition ? canonical(c.key.condition) : "";
  const entry: LogEntry = { revision: c.revision, op: c.op, ts: at, ...(cond ? { cond } : {}) };
  const values: Item = {
    ":rev": { S: c.revision },
    ":ts": { N: String(at) },
    ":g2p": { S: changePk(storeId, c.key.object, Key.sk!.S!) },
    ":none": { L: [] },
    ":entry": { L: [encodeEntry(entry)] },
    ":zero": { N: "0" },
    ":n": { N: String(entryBytes(entry)) },
    ":cap": { N: String(LOG_BYTES_CAP) },
  };
  const history =
    "gsi2pk = :g2p, gsi2sk = :rev, ts = :ts, #log = list_append(if_not_exists(#log, :none), :entry), " +
    "logb = if_not_exists(logb, :zero) + :n";
  const bounded = "(attribute_not_exists(logb) OR logb < :cap)";
  const base = { TableName: ctx.table, Key, ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const };
  if (c.op === "delete") {
    return {
      Update: {
        ...base,
        UpdateExpression: `SET deleted = :rev, ${history} REMOVE gsi1pk, gsi1sk, cond`,
        ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(deleted) AND ${bounded}`,
        ExpressionAttributeNames: { "#log": "log" },
        ExpressionAttributeValues: values,
      },
    };
  }
  return {
    Update: {
      ...base,
      UpdateExpression:
        "SET #o = :o, #r = :r, #u = :u, gsi1pk = :g1p, gsi1sk = :g1s, " +
        `${cond ? "cond = :c, " : ""}${history} REMOVE deleted${cond ? "" : ", cond"}`,
      ConditionExpression: `(attribute_not_exists(pk) OR attribute_exists(deleted)) AND ${bounded}`,
      ExpressionAttributeNames: { "#o": "object", "#r": "relation", "#u": "user", "#log": "log" },
      ExpressionAttributeValues: {
        ...values,
        ":o": { S: c.key.object },
        ":r": { S: c.key.relation },
        ":u": { S: c.key.user },
        ":g1p": { S: reversePk(storeId, c.key.user) },
        ":g1s": { S: reverseSk(c.key) },
        ...(cond ? { ":c": { S: cond } } : {}),
      },
    },
  };
}

/**
 * Moves a tuple item's whole `log` to a new archive item (pk `H#<store>#<object>`, sk `<tuple sk>#<last
 * revision>`, in the change index under its last revision, `prev` = the previous archive's last
 * revision) and leaves the tuple item an empty log and `archived` = that last revision. One
 * transaction, conditioned on the item being unchanged since `old` was read; when it is not, nothing
 * happens and the caller's retry sees the new state.
 */
async function archiveHistory(ctx: TableContext, storeId: string, old: Item): Promise<void> {
  const last = decodeEntries(old.log).at(-1);
  const latest = old.gsi2sk?.S;
  if (!latest || !old.pk || !old.sk) return;
  const archive: Item = {
    pk: { S: archivePk(storeId, old.object?.S ?? "") },
    sk: { S: archiveSk(old.sk.S!, last?.revision ?? latest) },
    object: old.object ?? { S: "" },
    relation: old.relation ?? { S: "" },
    user: old.user ?? { S: "" },
    log: old.log ?? { L: [] },
    gsi2pk: old.gsi2pk ?? { S: "" },
    gsi2sk: { S: last?.revision ?? latest },
    ...(old.archived ? { prev: old.archived } : {}),
  };
  try {
    await ctx.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          ...(last
            ? [
                {
                  Put: {
                    TableName: ctx.table,
                    Item: archive,
                    ConditionExpression: "attribute_not_exists(pk)",
                  },
                },
              ]
            : []),
          {
            Update: {
              TableName: ctx.table,
              Key: { pk: old.pk, sk: old.sk },
              UpdateExpression: `SET #log = :none, logb = :zero${last ? ", archived = :last" : ""}`,
              ConditionExpression: "gsi2sk = :latest",
              ExpressionAttributeNames: { "#log": "log" },
              ExpressionAttributeValues: {
                ":none": { L: [] },
                ":zero": { N: "0" },
                ":latest": { S: latest },
                ...(last ? { ":last": { S: last.revision } } : {}),
              },
            },
          },
        ],
      }),
    );
  } catch (e) {
    if (!cancellationReasons(e)) throw e;
  }
}
