/**
 * DynamoDB KeyStore on the `platform` table. One partition holds the whole ring:
 *
 * | item       | pk        | sk          | attributes                                              |
 * |------------|-----------|-------------|---------------------------------------------------------|
 * | ring head  | `KEYRING` | `HEAD`      | `version` (N)                                           |
 * | key        | `KEYRING` | `KEY#<kid>` | kid, alg, state, times, `publicJwk` (JSON), `material`  |
 *
 * Load = one strongly consistent Query of the partition (a handful of items). Commit = one
 * TransactWriteItems: the head's version is checked and incremented and every changed key is put,
 * so concurrent rotations in one region cannot both win. Across regions (global table, last writer
 * wins) rotation is run in one region; see docs/runbooks/key-rotation.md.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { cancellationCodes, queryAll } from "../../shared/dynamodb.ts";
import { conflict } from "../../shared/errors.ts";
import type { KeyMaterial, KeyRecord, KeyRingSnapshot, KeyState, PublicJwk, SigningAlg } from "../model.ts";
import type { KeyStore } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const PK = "KEYRING";
const num = (item: Item, name: string): number | undefined =>
  item[name]?.N === undefined ? undefined : Number(item[name].N);
const optNum = (name: string, v: number | undefined): Item =>
  v === undefined ? {} : { [name]: { N: String(v) } };

function toRecord(item: Item): KeyRecord {
  const activatedAt = num(item, "activatedAt");
  const deactivatedAt = num(item, "deactivatedAt");
  const retiredAt = num(item, "retiredAt");
  return {
    kid: item.kid?.S ?? "",
    alg: (item.alg?.S ?? "ES256") as SigningAlg,
    state: (item.state?.S ?? "retired") as KeyState,
    publicJwk: JSON.parse(item.publicJwk?.S ?? "{}") as PublicJwk,
    material: JSON.parse(item.material?.S ?? "{}") as KeyMaterial,
    createdAt: num(item, "createdAt") ?? 0,
    ...(activatedAt === undefined ? {} : { activatedAt }),
    ...(deactivatedAt === undefined ? {} : { deactivatedAt }),
    ...(retiredAt === undefined ? {} : { retiredAt }),
  };
}

function toItem(k: KeyRecord): Item {
  return {
    pk: { S: PK },
    sk: { S: `KEY#${k.kid}` },
    kid: { S: k.kid },
    alg: { S: k.alg },
    state: { S: k.state },
    publicJwk: { S: JSON.stringify(k.publicJwk) },
    material: { S: JSON.stringify(k.material) },
    createdAt: { N: String(k.createdAt) },
    ...optNum("activatedAt", k.activatedAt),
    ...optNum("deactivatedAt", k.deactivatedAt),
    ...optNum("retiredAt", k.retiredAt),
  };
}

/** KeyStore on DynamoDB; see the item design at the top of this file. */
export class DynamoDbKeyStore implements KeyStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async load(): Promise<KeyRingSnapshot> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: "pk = :p",
      ExpressionAttributeValues: { ":p": { S: PK } },
      ConsistentRead: true,
    });
    let version = 0;
    const keys: KeyRecord[] = [];
    for (const item of items) {
      if (item.sk?.S === "HEAD") version = num(item, "version") ?? 0;
      else if (item.sk?.S?.startsWith("KEY#")) keys.push(toRecord(item));
    }
    return { version, keys };
  }

  async commit(expectedVersion: number, changed: readonly KeyRecord[]): Promise<number> {
    const next = expectedVersion + 1;
    try {
      await this.#client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#table,
                Key: { pk: { S: PK }, sk: { S: "HEAD" } },
                UpdateExpression: "SET version = :next",
                ConditionExpression:
                  expectedVersion === 0 ? "attribute_not_exists(pk)" : "version = :expected",
                ExpressionAttributeValues: {
                  ":next": { N: String(next) },
                  ...(expectedVersion === 0 ? {} : { ":expected": { N: String(expectedVersion) } }),
                },
              },
            },
            ...changed.map((k) => ({ Put: { TableName: this.#table, Item: toItem(k) } })),
          ],
        }),
      );
    } catch (e) {
      const codes = cancellationCodes(e);
      if (codes?.some((c) => c === "ConditionalCheckFailed" || c === "TransactionConflict"))
        throw conflict("The key ring was changed concurrently.");
      throw e;
    }
    return next;
  }
}
