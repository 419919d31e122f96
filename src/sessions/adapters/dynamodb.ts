/**
 * DynamoDB sign-in store on the `platform` table. Every item carries `expires_at` (TTL, epoch s)
 * and readers compare `exp_ms` themselves, since TTL deletion is lazy.
 *
 * | item            | pk                        | sk              | gsi1pk / gsi1sk                             |
 * |-----------------|---------------------------|-----------------|---------------------------------------------|
 * | session         | `SESSION#<id>`            | `SESSION`       | `TENANT#<t>#USER#<u>#SESSIONS` / `<id>`     |
 * | session policy  | `TENANT#<tenantId>`       | `SESSIONPOLICY` | –                                           |
 * | auth code       | `CODE#<sha256(code)>`     | `CODE`          | –                                           |
 * | refresh family  | `RTFAMILY#<familyId>`     | `RTFAMILY`      | `TENANT#<t>#USER#<u>#RTFAMILIES` / `<clientId>#<familyId>` |
 * | family revoked  | `RTFAMREV#<familyRef(id)>` | `RTFAMREV`     | –                                           |
 * | login transaction | `INTERACTION#<id>`      | `INTERACTION`   | –                                           |
 * | failed logins   | `THROTTLE#<key>`          | `THROTTLE`      | –                                           |
 * | consent         | `TENANT#<t>#USER#<u>`     | `CONSENT#<clientId>` | `CLIENT#<clientId>#CONSENTS` / `<t>#<u>` |
 *
 * Access patterns: session check = GetItem (cookie → id); a user's sessions = Query gsi1 (admin);
 * revoke = UpdateItem; code redemption = one conditional UpdateItem (`attribute_not_exists(redeemedAt)`)
 * that also records what the redemption will issue, so of two concurrent redemptions exactly one
 * wins and the other sees the ids to revoke; refresh rotation = conditional UpdateItem on
 * `currentHash` (compare-and-swap); revoking a family id that does not exist yet leaves a tombstone
 * (`revokedAt`, no `rec`) that a later creation keeps; a user's families with a client = Query gsi1
 * (consent revocation); revoking a family also writes a marker under `familyRef(id)`, the `fid`
 * claim of its access tokens, which token checks read (one GetItem); failed-login counters =
 * conditional writes on `failures`; email-step window counters = one UpdateItem (`ADD`) per hit,
 * plus a compare-and-swap reset when the window has ended; consents = one
 * item per (user, client) with a string set of scopes grown by `ADD` (atomic union), listed by a
 * Query on the user's partition, and per client (any tenant) by a Query on gsi1 when the client is
 * deleted.
 * Mutable fields live in their own attributes next to the JSON record and override it on read.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { dynamoErrorName, queryAll, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict, DomainError } from "../../shared/errors.ts";
import {
  type AuthorizationCode,
  type CodeIssue,
  type Consent,
  familyRef,
  type Interaction,
  type RefreshFamily,
  type Session,
  type SessionPolicy,
  type ThrottleState,
  type WindowCount,
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
  const retainUntil = num(item, "retainUntil");
  return {
    ...c,
    ...(retainUntil === undefined ? {} : { retainUntil }),
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

/** How long a tombstone of a family revoked before it existed is kept (s). */
const TOMBSTONE_SECONDS = 86400;
/**
 * How long the revocation marker of a family's access tokens is kept (s): longer than any access
 * token lives (PORTCULLIS_TOKEN_MAX_LIFETIME ≤ 1 day), counted from the revocation.
 */
const FAMILY_MARKER_SECONDS = 2 * 86400;
/** Attempts of a window counter hit before it gives up (rate_limited). */
const WINDOW_ATTEMPTS = 5;

const consentKey = (tenantId: string, userId: string, clientId: string): Item => ({
  pk: { S: `TENANT#${tenantId}#USER#${userId}` },
  sk: { S: `CONSENT#${clientId}` },
});

function toConsent(item: Item): Consent {
  return {
    tenantId: item.tenantId?.S ?? "",
    userId: item.userId?.S ?? "",
    clientId: item.clientId?.S ?? "",
    scopes: [...(item.scopes?.SS ?? [])].sort(),
    createdAt: num(item, "createdAt") ?? 0,
    updatedAt: num(item, "updatedAt") ?? 0,
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
    issue: CodeIssue,
  ): Promise<{ code: AuthorizationCode; first: boolean } | undefined> {
    // The redeemed code is kept (TTL) as long as a replay must still find what it issued.
    const retain = issue.retainUntil ?? issue.jtiExpiresAt;
    const r = await this.#update({
      key: key("CODE", codeHash),
      set: `SET redeemedAt = :at, issuedJti = :j, issuedJtiExpiresAt = :e, retainUntil = :r, expires_at = :ttl${issue.familyId ? ", issuedFamilyId = :f" : ""}`,
      condition: "attribute_exists(pk) AND attribute_not_exists(redeemedAt) AND exp_ms > :at",
      values: {
        ":at": n(at),
        ":j": { S: issue.jti },
        ":e": n(issue.jtiExpiresAt),
        ":r": n(retain),
        ":ttl": ttl(retain),
        ...(issue.familyId ? { ":f": { S: issue.familyId } } : {}),
      },
      returnNew: true,
    });
    if (r) return { code: toCode(r), first: true };
    const item = await this.getItem(key("CODE", codeHash));
    if (!item) return undefined;
    const exp = num(item, "exp_ms") ?? 0;
    if (num(item, "redeemedAt") === undefined) return undefined; // expired unredeemed
    // A replay: reported until the retention ends, even after the code's expiry.
    return Math.max(exp, num(item, "retainUntil") ?? 0) > at
      ? { code: toCode(item), first: false }
      : undefined;
  }

  // Refresh-token families

  async createFamily(f: RefreshFamily): Promise<void> {
    // An UpdateItem, not a PutItem: a tombstone left by an earlier revocation keeps its `revokedAt`.
    const r = await this.#update({
      key: key("RTFAMILY", f.id),
      set: "SET rec = :rec, currentHash = :h, generation = :g, exp_ms = :e, expires_at = :ttl, gsi1pk = :gp, gsi1sk = :gs",
      condition: "attribute_not_exists(rec)",
      values: {
        ":rec": { S: JSON.stringify(f) },
        ":h": { S: f.currentHash },
        ":g": n(f.generation),
        ":e": n(f.expiresAt),
        ":ttl": ttl(f.expiresAt),
        ":gp": { S: `TENANT#${f.tenantId}#USER#${f.userId}#RTFAMILIES` },
        ":gs": { S: `${f.clientId}#${f.id}` },
      },
    });
    if (r === false) throw conflict("Family exists.");
  }

  async getFamily(id: string): Promise<RefreshFamily | undefined> {
    const item = await this.getItem(key("RTFAMILY", id));
    return item?.rec ? toFamily(item) : undefined;
  }

  async listUserFamilies(tenantId: string, userId: string, clientId?: string): Promise<RefreshFamily[]> {
    const p = { S: `TENANT#${tenantId}#USER#${userId}#RTFAMILIES` };
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        IndexName: "gsi1",
        ...(clientId === undefined
          ? { KeyConditionExpression: "gsi1pk = :p", ExpressionAttributeValues: { ":p": p } }
          : {
              KeyConditionExpression: "gsi1pk = :p AND begins_with(gsi1sk, :c)",
              ExpressionAttributeValues: { ":p": p, ":c": { S: `${clientId}#` } },
            }),
      },
      this.pageSize,
    );
    return items.filter((i) => i.rec).map(toFamily);
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
    const markerUntil = at + FAMILY_MARKER_SECONDS * 1000;
    await Promise.all([
      // No existence condition: an unknown id becomes a tombstone (revokedAt + TTL, no record).
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key("RTFAMILY", id),
          UpdateExpression:
            "SET revokedAt = if_not_exists(revokedAt, :at), expires_at = if_not_exists(expires_at, :ttl)",
          ExpressionAttributeValues: { ":at": n(at), ":ttl": ttl(at + TOMBSTONE_SECONDS * 1000) },
        }),
      ),
      // The marker the family's access tokens are checked against (their `fid` claim).
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...key("RTFAMREV", familyRef(id)), exp_ms: n(markerUntil), expires_at: ttl(markerUntil) },
        }),
      ),
    ]);
  }

  async isFamilyRevoked(ref: string, now: number): Promise<boolean> {
    const item = await this.getItem(key("RTFAMREV", ref));
    return item !== undefined && (num(item, "exp_ms") ?? 0) > now;
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
    // Answered as 429 by the sign-in pages, never as a server error.
    throw new DomainError("rate_limited", "Too many concurrent attempts.");
  }

  async clearThrottle(k: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: key("THROTTLE", k) }));
  }

  /**
   * One UpdateItem per hit in the common case: `ADD failures 1` with the window's end set only if
   * absent (a missing item is a new window). If the returned window has ended (the item outlived
   * its window: TTL deletion is lazy), it is reset by a compare-and-swap on that window's end, so of
   * concurrent resetters exactly one opens the new window (count 1) and the others count in it.
   */
  async hitWindow(k: string, now: number, windowMs: number): Promise<WindowCount> {
    const end = now + windowMs;
    for (let attempt = 0; attempt < WINDOW_ATTEMPTS; attempt++) {
      const r = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key("THROTTLE", k),
          UpdateExpression:
            "ADD failures :one SET exp_ms = if_not_exists(exp_ms, :end), expires_at = if_not_exists(expires_at, :ttl)",
          ExpressionAttributeValues: { ":one": n(1), ":end": n(end), ":ttl": ttl(end) },
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = r.Attributes ?? {};
      const windowEndsAt = num(item, "exp_ms") ?? 0;
      if (windowEndsAt > now) return { count: num(item, "failures") ?? 1, windowEndsAt };
      const reset = await this.#update({
        key: key("THROTTLE", k),
        set: "SET failures = :one, lockedUntil = :zero, exp_ms = :end, expires_at = :ttl",
        condition: "exp_ms = :old",
        values: { ":one": n(1), ":zero": n(0), ":end": n(end), ":ttl": ttl(end), ":old": n(windowEndsAt) },
      });
      if (reset !== false) return { count: 1, windowEndsAt: end };
      // Another hit reset the window first: count in the new one.
    }
    throw new DomainError("rate_limited", "Too many concurrent attempts.");
  }

  // Consents

  async getConsent(tenantId: string, userId: string, clientId: string): Promise<Consent | undefined> {
    const item = await this.getItem(consentKey(tenantId, userId, clientId));
    return item && toConsent(item);
  }

  async grantConsent(
    tenantId: string,
    userId: string,
    clientId: string,
    scopes: readonly string[],
    at: number,
  ): Promise<Consent> {
    const r = await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: consentKey(tenantId, userId, clientId),
        UpdateExpression: `SET tenantId = :t, userId = :u, clientId = :c, gsi1pk = :gp, gsi1sk = :gs, createdAt = if_not_exists(createdAt, :at), updatedAt = :at${scopes.length ? " ADD scopes :s" : ""}`,
        ExpressionAttributeValues: {
          ":t": { S: tenantId },
          ":u": { S: userId },
          ":c": { S: clientId },
          ":gp": { S: `CLIENT#${clientId}#CONSENTS` },
          ":gs": { S: `${tenantId}#${userId}` },
          ":at": n(at),
          ...(scopes.length ? { ":s": { SS: [...new Set(scopes)] } } : {}),
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return toConsent(r.Attributes ?? {});
  }

  async listConsents(tenantId: string, userId: string): Promise<Consent[]> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        KeyConditionExpression: "pk = :p AND begins_with(sk, :c)",
        ExpressionAttributeValues: {
          ":p": { S: `TENANT#${tenantId}#USER#${userId}` },
          ":c": { S: "CONSENT#" },
        },
        ConsistentRead: this.consistent,
      },
      this.pageSize,
    );
    return items.map(toConsent);
  }

  async listClientConsents(clientId: string): Promise<Consent[]> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.table,
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": { S: `CLIENT#${clientId}#CONSENTS` } },
      },
      this.pageSize,
    );
    return items.map(toConsent);
  }

  async deleteConsent(tenantId: string, userId: string, clientId: string): Promise<boolean> {
    const r = await this.client.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: consentKey(tenantId, userId, clientId),
        ReturnValues: "ALL_OLD",
      }),
    );
    return r.Attributes !== undefined;
  }
}
