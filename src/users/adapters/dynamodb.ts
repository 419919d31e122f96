/**
 * DynamoDB UserStore on the `platform` table.
 *
 * | item       | pk                  | sk                      | attributes                      |
 * |------------|---------------------|-------------------------|---------------------------------|
 * | user       | `TENANT#<tenantId>` | `USER#<userId>`         | the user as JSON, `version`, `disabled` |
 * | email link | `TENANT#<tenantId>` | `USEREMAIL#<emailKey>`  | `userId`                        |
 *
 * Access patterns: get = GetItem; sign-in lookup = GetItem on the email link, then GetItem on the
 * user; list = Query `TENANT#<id>` with `begins_with(sk, "USER#")` (ULIDs: oldest first), filters as
 * FilterExpression. User and email link are created, changed and deleted together in one
 * TransactWriteItems (`attribute_not_exists` on a new link, `version` on the user), so an email is
 * unique per tenant and an update never loses another.
 */
import {
  type AttributeValue,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { cancellationCodes, queryPage, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict, notFound } from "../../shared/errors.ts";
import type { Page } from "../../tenants/model.ts";
import { emailKeyOf, type User } from "../model.ts";
import type { UserFilter, UserStore } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const userKey = (tenantId: string, id: string): Item => ({
  pk: { S: `TENANT#${tenantId}` },
  sk: { S: `USER#${id}` },
});
const emailKey = (tenantId: string, key: string): Item => ({
  pk: { S: `TENANT#${tenantId}` },
  sk: { S: `USEREMAIL#${key}` },
});

const toItem = (u: User): Item => ({
  ...userKey(u.tenantId, u.id),
  user: { S: JSON.stringify(u) },
  version: { N: String(u.version) },
  disabled: { BOOL: u.disabled },
  emailKey: { S: u.emailKey },
});
const toUser = (item: Item): User => JSON.parse(item.user?.S ?? "{}") as User;

/** UserStore on DynamoDB; see the item design above. */
export class DynamoDbUserStore extends TableAdapter implements UserStore {
  async #transact(
    items: TransactWriteItem[],
    onCancel: (codes: (string | undefined)[]) => Error,
  ): Promise<void> {
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (e) {
      const codes = cancellationCodes(e);
      if (codes) throw onCancel(codes);
      throw e;
    }
  }

  async createUser(user: User): Promise<void> {
    await this.#transact(
      [
        {
          Put: {
            TableName: this.table,
            Item: toItem(user),
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { ...emailKey(user.tenantId, user.emailKey), userId: { S: user.id } },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ],
      () => conflict("A user with this email already exists."),
    );
  }

  async getUser(tenantId: string, userId: string): Promise<User | undefined> {
    const item = await this.getItem(userKey(tenantId, userId));
    return item && toUser(item);
  }

  async findUserByEmail(tenantId: string, key: string): Promise<User | undefined> {
    const link = await this.getItem(emailKey(tenantId, key));
    const id = link?.userId?.S;
    return id === undefined ? undefined : this.getUser(tenantId, id);
  }

  async listUsers(
    tenantId: string,
    options: { limit: number; cursor?: string; filter?: UserFilter },
  ): Promise<Page<User>> {
    const pk = `TENANT#${tenantId}`;
    const f = options.filter ?? {};
    const filters: string[] = [];
    const values: Item = { ":p": { S: pk }, ":s": { S: "USER#" } };
    if (f.email !== undefined) {
      filters.push("emailKey = :e");
      values[":e"] = { S: emailKeyOf(f.email) };
    }
    if (f.disabled !== undefined) {
      filters.push("disabled = :d");
      values[":d"] = { BOOL: f.disabled };
    }
    const r = await queryPage(
      this.client,
      [
        {
          input: {
            TableName: this.table,
            KeyConditionExpression: "pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues: values,
            ...(filters.length ? { FilterExpression: filters.join(" AND ") } : {}),
            ConsistentRead: this.consistent,
          },
          partition: ["pk", pk],
          keyNames: ["pk", "sk"],
        },
      ],
      {
        limit: options.limit,
        ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
        ...(this.pageSize ? { pageSize: this.pageSize } : {}),
      },
    );
    return r.cursor === undefined
      ? { items: r.items.map(toUser) }
      : { items: r.items.map(toUser), cursor: r.cursor };
  }

  async updateUser(user: User): Promise<void> {
    const cur = await this.getUser(user.tenantId, user.id);
    if (!cur) throw notFound("User not found.");
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.table,
          Item: toItem(user),
          ConditionExpression: "attribute_exists(pk) AND version = :v",
          ExpressionAttributeValues: { ":v": { N: String(user.version - 1) } },
        },
      },
    ];
    if (cur.emailKey !== user.emailKey) {
      items.push(
        {
          Put: {
            TableName: this.table,
            Item: { ...emailKey(user.tenantId, user.emailKey), userId: { S: user.id } },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          Delete: {
            TableName: this.table,
            Key: emailKey(user.tenantId, cur.emailKey),
            ConditionExpression: "userId = :u",
            ExpressionAttributeValues: { ":u": { S: user.id } },
          },
        },
      );
    }
    await this.#transact(items, (codes) =>
      codes[1] === "ConditionalCheckFailed"
        ? conflict("A user with this email already exists.")
        : conflict("The user was changed concurrently."),
    );
  }

  async deleteUser(tenantId: string, userId: string): Promise<void> {
    const cur = await this.getUser(tenantId, userId);
    if (!cur) throw notFound("User not found.");
    await this.#transact(
      [
        {
          Delete: {
            TableName: this.table,
            Key: userKey(tenantId, userId),
            ConditionExpression: "attribute_exists(pk)",
          },
        },
        {
          Delete: {
            TableName: this.table,
            Key: emailKey(tenantId, cur.emailKey),
            ConditionExpression: "userId = :u",
            ExpressionAttributeValues: { ":u": { S: userId } },
          },
        },
      ],
      () => notFound("User not found."),
    );
  }
}
