/**
 * Change history reads of the DynamoDB AuthzStore (`readChanges`, `headRevision`) over the sparse
 * change index gsi2. Why a page reads the whole tail after its cursor: see `../dynamodb.ts`.
 */
import { createHash } from "node:crypto";
import { GetItemCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/client-dynamodb";
import { queryEach } from "../../../shared/dynamodb.ts";
import { validationError } from "../../../shared/errors.ts";
import type { TupleChange } from "../../model.ts";
import type { Page } from "../../ports.ts";
import {
  archivePk,
  archiveSk,
  CHANGE_SHARDS,
  changeOf,
  changeShardPk,
  decodeEntries,
  type Item,
  type TableContext,
} from "./items.ts";

export interface ChangesOptions {
  readonly limit: number;
  readonly cursor?: string;
  readonly objectType?: string;
  readonly startTime?: number;
}

const REVISION = /^[0-9A-Za-z]{1,64}$/;
const shards = Array.from({ length: CHANGE_SHARDS }, (_, i) => i);
const invalidCursor = () => validationError("Invalid continuation token.");
const cursorTag = (storeId: string, revision: string) =>
  createHash("sha256").update(`${storeId}\n${revision}`).digest("base64url").slice(0, 12);

/** A page cursor: the last revision returned, tagged with the store it belongs to. */
export const changesCursor = (storeId: string, revision: string) =>
  `${revision}.${cursorTag(storeId, revision)}`;

/**
 * The revision a cursor continues after. A tagged cursor must belong to `storeId`. A bare revision
 * is accepted too: it is what the service hands out at the end of the stream (OpenFGA's token for
 * "changes after this one"), and it can only position a read within this store's own partitions.
 */
export function cursorRevision(storeId: string, cursor: string): string {
  const dot = cursor.indexOf(".");
  const revision = dot < 0 ? cursor : cursor.slice(0, dot);
  if (!REVISION.test(revision)) throw invalidCursor();
  if (dot >= 0 && cursor.slice(dot + 1) !== cursorTag(storeId, revision)) throw invalidCursor();
  return revision;
}

/** Keeps the `size` earliest distinct changes seen, in bounded memory. */
class Earliest {
  readonly #size: number;
  #items: TupleChange[] = [];
  constructor(size: number) {
    this.#size = size;
  }
  add(c: TupleChange): void {
    this.#items.push(c);
    if (this.#items.length >= 4 * this.#size + 256) this.#trim();
  }
  /** Sorted by revision; an entry can be seen twice (an item and its archive in flight). */
  result(): TupleChange[] {
    this.#trim();
    return this.#items;
  }
  #trim() {
    this.#items.sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0));
    this.#items = this.#items.filter((c, i, all) => i === 0 || all[i - 1]!.revision !== c.revision);
    this.#items.length = Math.min(this.#items.length, this.#size);
  }
}

/**
 * Changes after the cursor, oldest first. Reads every gsi2 item (tuple, tombstone, archive) whose
 * latest revision is after the cursor, in all shards in parallel, and keeps the earliest entries.
 */
export async function readChanges(
  ctx: TableContext,
  storeId: string,
  options: ChangesOptions,
): Promise<Page<TupleChange>> {
  const after = options.cursor === undefined ? undefined : cursorRevision(storeId, options.cursor);
  const limit = Math.max(1, Math.floor(options.limit));
  const startTime = after === undefined ? options.startTime : undefined;
  const earliest = new Earliest(limit + 1);
  const take = (item: Item) => {
    for (const e of decodeEntries(item.log)) {
      if ((after === undefined || e.revision > after) && (startTime === undefined || e.ts >= startTime)) {
        earliest.add(changeOf(item, e));
      }
    }
  };
  /** Archive items seen, by `pk\nsk`, with the revision their predecessor ends at. */
  const archives = new Map<string, string | undefined>();
  /** Tuple items with history archived after the cursor. */
  const archivedHeads: Item[] = [];
  const onPage = (items: Item[]) => {
    for (const item of items) {
      take(item);
      const pk = item.pk?.S ?? "";
      const archived = item.archived?.S;
      if (pk.startsWith("H#")) archives.set(`${pk}\n${item.sk?.S}`, item.prev?.S);
      else if (archived !== undefined && (after === undefined || archived > after)) archivedHeads.push(item);
    }
  };
  await Promise.all(
    shards.map((shard) => queryEach(ctx.client, changeQuery(ctx, storeId, shard, after, options), onPage)),
  );
  // The index is updated per item, asynchronously: a tuple item whose history was just moved to an
  // archive can be visible before the archive is. Walk each such item's archive chain back to the
  // cursor and read the links the index did not show from the table (normally none).
  await Promise.all(
    archivedHeads.map(async (head) => {
      const pk = archivePk(storeId, head.object?.S ?? "");
      let last = head.archived?.S;
      while (last !== undefined && (after === undefined || last > after)) {
        const sk = archiveSk(head.sk?.S ?? "", last);
        const id = `${pk}\n${sk}`;
        if (!archives.has(id)) {
          const r = await ctx.client.send(
            new GetItemCommand({
              TableName: ctx.table,
              Key: { pk: { S: pk }, sk: { S: sk } },
              ConsistentRead: true,
            }),
          );
          if (!r.Item) break;
          take(r.Item);
          archives.set(id, r.Item.prev?.S);
        }
        last = archives.get(id);
      }
    }),
  );
  const found = earliest.result();
  if (found.length <= limit) return { items: found };
  const items = found.slice(0, limit);
  return { items, cursor: changesCursor(storeId, items.at(-1)!.revision) };
}

function changeQuery(
  ctx: TableContext,
  storeId: string,
  shard: number,
  after: string | undefined,
  options: ChangesOptions,
): QueryCommandInput {
  const typed = options.objectType !== undefined;
  return {
    TableName: ctx.table,
    IndexName: "gsi2",
    KeyConditionExpression: after === undefined ? "gsi2pk = :p" : "gsi2pk = :p AND gsi2sk > :a",
    ExpressionAttributeValues: {
      ":p": { S: changeShardPk(storeId, shard) },
      ...(after === undefined ? {} : { ":a": { S: after } }),
      ...(typed ? { ":t": { S: `${options.objectType}:` } } : {}),
    },
    ExpressionAttributeNames: { "#o": "object", "#r": "relation", "#u": "user", "#log": "log" },
    ProjectionExpression: "pk, sk, #o, #r, #u, #log, archived, prev",
    ...(typed ? { FilterExpression: "begins_with(#o, :t)" } : {}),
    ...(ctx.pageSize ? { Limit: ctx.pageSize } : {}),
  };
}

/** The newest revision in the change index: the newest item of each shard, one parallel wave. */
export async function headRevision(ctx: TableContext, storeId: string): Promise<string | undefined> {
  const newest = await Promise.all(
    shards.map(async (shard) => {
      const r = await ctx.client.send(
        new QueryCommand({
          TableName: ctx.table,
          IndexName: "gsi2",
          KeyConditionExpression: "gsi2pk = :p",
          ExpressionAttributeValues: { ":p": { S: changeShardPk(storeId, shard) } },
          ScanIndexForward: false,
          Limit: 1,
          ProjectionExpression: "gsi2sk",
        }),
      );
      return r.Items?.[0]?.gsi2sk?.S;
    }),
  );
  return newest.reduce<string | undefined>(
    (a, b) => (b !== undefined && (a === undefined || b > a) ? b : a),
    undefined,
  );
}
