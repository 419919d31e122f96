/**
 * DynamoDB sign-in store on the `platform` table. Every item carries `expires_at` (TTL, epoch s)
 * and readers compare `exp_ms` themselves, since TTL deletion is lazy.
 *
 * | item            | pk                        | sk              | gsi1pk / gsi1sk                             |
 * |-----------------|---------------------------|-----------------|---------------------------------------------|
 * | session         | `SESSION#<id>`            | `SESSION`       | `TENANT#<t>#USER#<u>#SESSIONS` / `<id>`     |
 * | session policy  | `TENANT#<tenantId>`       | `SESSIONPOLICY` | –                                           |
 * | auth code       | `CODE#<sha256(code)>`     | `CODE`          | –                                           |
 * | refresh family  | `RTFAMILY#<familyId>`     | `RTFAMILY`      | –                                           |
 * | login transaction | `INTERACTION#<id>`      | `INTERACTION`   | –                                           |
 * | failed logins   | `THROTTLE#<key>`          | `THROTTLE`      | –                                           |
 *
 * Access patterns: session check = GetItem (cookie → id); a user's sessions = Query gsi1 (admin);
 * revoke = UpdateItem; code redemption = one conditional UpdateItem (`attribute_not_exists(redeemedAt)`),
 * so of two concurrent redemptions exactly one wins; refresh rotation = conditional UpdateItem on
 * `currentHash` (compare-and-swap); failed-login counters = conditional writes on `failures`.
 * Mutable fields live in their own attributes next to the JSON record and override it on read.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { dynamoErrorName, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict } from "../../shared/errors.ts";
import type {
  AuthorizationCode,
  Interaction,
  RefreshFamily,
  Session,
  SessionPolicy,
  ThrottleState,
} from "../model.ts";
import type { SignInStore } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const key = (kind: string, id: string): Item => ({ pk: { S: `${kind}#${id}` }, sk: { S: kind } });
const n = (v: number): AttributeValue => ({ N: String(v) });
const ttl = (ms: number): AttributeValue => n(Math.ceil(ms / 1000) + 60);
const num = (item: Item, name: string): number | undefined =>
  item[name]?.N === undefined ? undefined : Number(item[name].N);
const isConditionFailure = (e: unknown) => dynamoErrorName(e) === "ConditionalCheckFailedException";

function toSession(item: Item): Session {
  const s = JSON.parse(item.rec?.S ?? "{}") as Session;
  const revokedAt = num(item, "revokedAt");
  return {
    ...s,
    lastSeenAt: num(item, "lastSeenAt") ?? s.lastSeenAt,
    idleExpiresAt: num(item, "idleExpiresAt") ?? s.idleExpiresAt,
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}

function toCode(item: Item): AuthorizationCode {
  const c = JSON.parse(item.rec?.S ?? "{}") as AuthorizationCode;
  const redeemedAt = num(item, "redeemedAt");
  const jtiExp = num(item, "issuedJtiExpiresAt");
  return {
    ...c,
    ...(redeemedAt === undefined ? {} : { redeemedAt }),
    ...(item.issuedJti?.S ? { issuedJti: item.issuedJti.S } : {}),
    ...(jtiExp === undefined ? {} : { issuedJtiExpiresAt: jtiExp }),
    ...(item.issuedFamilyId?.S ? { issuedFamilyId: item.issuedFamilyId.S } : {}),
  };
}

function toFamily(item: Item): RefreshFamily {
  const f = JSON.parse(item.rec?.S ?? "{}") as RefreshFamily;
  const revokedAt = num(item, "revokedAt");
  return {
    ...f,
    currentHash: item.currentHash?.S ?? f.currentHash,
    generation: num(item, "generation") ?? f.generation,
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}

/** Sign-in store on DynamoDB; see the item design above. */
export class DynamoDbSignInStore extends TableAdapter implements SignInStore {
  async #put(item: Item, condition?: string, values?: Item): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ...(condition ? { ConditionExpression: condition } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async #update(input: {
    key: Item;
    set: string;
    condition: string;
    values: Item;
    returnNew?: boolean;
  }): Promise<Item | undefined | false> {
    try {
      const r = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: input.key,
          UpdateExpression: input.set,
          ConditionExpression: input.condition,
          ExpressionAttributeValues: input.values,
          ...(input.returnNew ? { ReturnValues: "ALL_NEW" } : {}),
        }),
      );
      return r.Attributes;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  // Sessions

  async createSession(s: Session): Promise<void> {
    const ok = await this.#put(
      {
        ...key("SESSION", s.id),
        gsi1pk: { S: `TENANT#${s.tenantId}#USER#${s.userId}#SESSIONS` },
        gsi1sk: { S: s.id },
        tenantId: { S: s.tenantId },
        rec: { S: JSON.stringify(s) },
        lastSeenAt: n(s.lastSeenAt),
        idleExpiresAt: n(s.idleExpiresAt),
        exp_ms: n(s.absoluteExpiresAt),
        expires_at: ttl(s.absoluteExpiresAt),
      },
      "attribute_not_exists(pk)",
    );
    if (!ok) throw conflict("Session exists.");
  }

  async getSession(id: string): Promise<Session | undefined> {
    const item = await this.getItem(key("SESSION", id));
    return item && toSession(item);
  }

  async touchSession(id: string, lastSeenAt: number, idleExpiresAt: number): Promise<void> {
    await this.#update({
      key: key("SESSION", id),
      set: "SET lastSeenAt = :l, idleExpiresAt = :i",
      condition: "attribute_exists(pk) AND attribute_not_exists(revokedAt)",
      values: { ":l": n(lastSeenAt), ":i": n(idleExpiresAt) },
    });
  }

  async listUserSessions(tenantId: string, userId: string): Promise<Session[]> {
    const out: Session[] = [];
    let esk: Item | undefined;
    do {
      const r = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :p",
          ExpressionAttributeValues: { ":p": { S: `TENANT#${tenantId}#USER#${userId}#SESSIONS` } },
          ...(esk ? { ExclusiveStartKey: esk } : {}),
        }),
      );
      for (const item of r.Items ?? []) out.push(toSession(item));
      esk = r.LastEvaluatedKey;
    } while (esk);
    return out;
  }

  async revokeSession(tenantId: string, id: string, at: number): Promise<boolean> {
    const r = await this.#update({
      key: key("SESSION", id),
      set: "SET revokedAt = if_not_exists(revokedAt, :at)",
      condition: "attribute_exists(pk) AND tenantId = :t",
      values: { ":at": n(at), ":t": { S: tenantId } },
    });
    return r !== false;
  }

  async getSessionPolicy(tenantId: string): Promise<SessionPolicy | undefined> {
    const item = await this.getItem({ pk: { S: `TENANT#${tenantId}` }, sk: { S: "SESSIONPOLICY" } });
    return item && (JSON.parse(item.rec?.S ?? "{}") as SessionPolicy);
  }

  async putSessionPolicy(tenantId: string, policy: SessionPolicy): Promise<void> {
    await this.#put({
      pk: { S: `TENANT#${tenantId}` },
      sk: { S: "SESSIONPOLICY" },
      rec: { S: JSON.stringify(policy) },
    });
  }

  // Authorization codes

  async createCode(code: AuthorizationCode): Promise<void> {
    const ok = await this.#put(
      {
        ...key("CODE", code.codeHash),
        rec: { S: JSON.stringify(code) },
        exp_ms: n(code.expiresAt),
        expires_at: ttl(code.expiresAt),
      },
      "attribute_not_exists(pk)",
    );
    if (!ok) throw conflict("Code exists.");
  }

  async redeemCode(
    codeHash: string,
    at: number,
  ): Promise<{ code: AuthorizationCode; first: boolean } | undefined> {
    const r = await this.#update({
      key: key("CODE", codeHash),
      set: "SET redeemedAt = :at",
      condition: "attribute_exists(pk) AND attribute_not_exists(redeemedAt) AND exp_ms > :at",
      values: { ":at": n(at) },
      returnNew: true,
    });
    if (r) return { code: toCode(r), first: true };
    const item = await this.getItem(key("CODE", codeHash));
    if (!item || (num(item, "exp_ms") ?? 0) <= at) return undefined;
    return { code: toCode(item), first: false };
  }

  async recordCodeIssued(
    codeHash: string,
    issued: { jti: string; jtiExpiresAt: number; familyId?: string },
  ): Promise<void> {
    await this.#update({
      key: key("CODE", codeHash),
      set: `SET issuedJti = :j, issuedJtiExpiresAt = :e${issued.familyId ? ", issuedFamilyId = :f" : ""}`,
      condition: "attribute_exists(pk)",
      values: {
        ":j": { S: issued.jti },
        ":e": n(issued.jtiExpiresAt),
        ...(issued.familyId ? { ":f": { S: issued.familyId } } : {}),
      },
    });
  }

  // Refresh-token families

  async createFamily(f: RefreshFamily): Promise<void> {
    const ok = await this.#put(
      {
        ...key("RTFAMILY", f.id),
        rec: { S: JSON.stringify(f) },
        currentHash: { S: f.currentHash },
        generation: n(f.generation),
        exp_ms: n(f.expiresAt),
        expires_at: ttl(f.expiresAt),
      },
      "attribute_not_exists(pk)",
    );
    if (!ok) throw conflict("Family exists.");
  }

  async getFamily(id: string): Promise<RefreshFamily | undefined> {
    const item = await this.getItem(key("RTFAMILY", id));
    return item && toFamily(item);
  }

  async rotateFamily(id: string, expectedHash: string, nextHash: string, _at: number): Promise<boolean> {
    const r = await this.#update({
      key: key("RTFAMILY", id),
      set: "SET currentHash = :n, generation = generation + :one",
      condition: "attribute_exists(pk) AND currentHash = :e AND attribute_not_exists(revokedAt)",
      values: { ":n": { S: nextHash }, ":e": { S: expectedHash }, ":one": n(1) },
    });
    return r !== false;
  }

  async revokeFamily(id: string, at: number): Promise<void> {
    await this.#update({
      key: key("RTFAMILY", id),
      set: "SET revokedAt = if_not_exists(revokedAt, :at)",
      condition: "attribute_exists(pk)",
      values: { ":at": n(at) },
    });
  }

  // Login transactions

  async putInteraction(i: Interaction): Promise<void> {
    await this.#put({
      ...key("INTERACTION", i.id),
      rec: { S: JSON.stringify(i) },
      exp_ms: n(i.expiresAt),
      expires_at: ttl(i.expiresAt),
    });
  }

  async getInteraction(id: string, now: number): Promise<Interaction | undefined> {
    const item = await this.getItem(key("INTERACTION", id));
    if (!item || (num(item, "exp_ms") ?? 0) <= now) return undefined;
    return JSON.parse(item.rec?.S ?? "{}") as Interaction;
  }

  async deleteInteraction(id: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: key("INTERACTION", id) }));
  }

  // Failed-login counters

  async getThrottle(k: string, now: number): Promise<ThrottleState | undefined> {
    const item = await this.getItem(key("THROTTLE", k));
    if (!item || (num(item, "exp_ms") ?? 0) <= now) return undefined;
    return {
      failures: num(item, "failures") ?? 0,
      lockedUntil: num(item, "lockedUntil") ?? 0,
      expiresAt: num(item, "exp_ms") ?? 0,
    };
  }

  async recordFailure(
    k: string,
    now: number,
    policy: (failures: number) => { lockedUntil: number; expiresAt: number },
  ): Promise<ThrottleState> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const cur = await this.getThrottle(k, now);
      const failures = (cur?.failures ?? 0) + 1;
      const p = policy(failures);
      const item: Item = {
        ...key("THROTTLE", k),
        failures: n(failures),
        lockedUntil: n(p.lockedUntil),
        exp_ms: n(p.expiresAt),
        expires_at: ttl(p.expiresAt),
      };
      const ok = cur
        ? await this.#put(item, "failures = :f", { ":f": n(cur.failures) })
        : await this.#put(item, "attribute_not_exists(pk) OR exp_ms <= :now", { ":now": n(now) });
      if (ok) return { failures, ...p };
    }
    throw new Error("throttle counter contention");
  }

  async clearThrottle(k: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: key("THROTTLE", k) }));
  }
}
