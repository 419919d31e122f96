/**
 * The OpenFGA HTTP API (`/stores…`), as routes of the transport-neutral router: the same paths,
 * bodies, status codes and `{code, message}` errors as OpenFGA, so `@openfga/sdk` works unchanged.
 * Every route needs a credential (platform admin or tenant); stores are scoped to tenants
 * (tenancy.ts). Queries live in queries.ts.
 */
import { json, noContent } from "../../http/router.ts";
import type { HttpRequest, HttpResponse, RequestContext, Route, RouteHandler } from "../../http/types.ts";
import { AuthzError } from "../errors.ts";
import { readPolicy } from "./consistency.ts";
import { CONSISTENCY_TOKEN_HEADER, encodeConsistencyToken } from "./consistency-token.ts";
import { type AuthzHttpContext, fgaHeaders } from "./context.ts";
import { batchCheck, check, expand, listObjects, listUsers, streamedListObjects } from "./queries.ts";
import { assertionJson, changeJson, createdStoreJson, modelJson, storeJson, tupleJson } from "./render.ts";
import {
  changesQuery,
  createStoreBody,
  jsonBody,
  listQuery,
  parseWire,
  readBody,
  writeAssertionsBody,
  writeBody,
} from "./wire.ts";

type Handler = (a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext) => Promise<HttpResponse>;

const ON = (v: string | undefined): "error" | "ignore" | undefined =>
  v === "error" || v === "ignore" ? v : undefined;

/** `on_duplicate` / `on_missing`: "", "error" or "ignore" (anything else is 2000, as upstream). */
function onConflict(v: string | undefined, field: string): "error" | "ignore" | undefined {
  if (v === undefined || v === "") return undefined;
  const ok = ON(v);
  if (!ok)
    throw new AuthzError(
      "validation_error",
      `invalid WriteRequest.${field}: value must be in list [error ignore]`,
    );
  return ok;
}

async function createStore(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const body = parseWire(createStoreBody, jsonBody(req.body), "CreateStoreRequest");
  const tenantId = await a.tenancy.tenantOf(req, ctx, "authz:write");
  const store = await a.service.createStore({ tenantId, name: body.name });
  a.tenancy.remember(store);
  ctx.log.info("authz store created", { tenant: tenantId, store: store.id });
  return json(201, createdStoreJson(store));
}

async function listStores(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const q = parseWire(listQuery, req.query, "ListStoresRequest");
  const tenantId = await a.tenancy.tenantOf(req, ctx, "authz:read");
  const page = await a.service.listStores(tenantId, {
    ...(q.page_size !== undefined ? { pageSize: q.page_size } : {}),
    ...(q.continuation_token ? { continuationToken: q.continuation_token } : {}),
    ...(q.name ? { name: q.name } : {}),
  });
  return json(200, { stores: page.stores.map(storeJson), continuation_token: page.continuationToken });
}

async function getStore(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const store = await a.tenancy.getStore(req, ctx, ctx.params.storeId!);
  return json(200, storeJson(store));
}

async function deleteStore(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  try {
    await a.tenancy.authorizeStore(req, ctx, storeId, "authz:write");
  } catch (e) {
    // Deleting a store that does not exist (for this caller) is 204 in OpenFGA too.
    if (e instanceof AuthzError && e.openfgaName === "store_id_not_found") return noContent();
    throw e;
  }
  await a.service.deleteStore(storeId);
  a.tenancy.forget(storeId);
  a.checks.forgetStore(storeId);
  a.revisions.forget(storeId);
  a.models.forget(storeId);
  ctx.log.info("authz store deleted", { store: storeId });
  return noContent();
}

async function writeModel(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const body = jsonBody(req.body);
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:write");
  const { authorizationModelId } = await a.service.writeAuthorizationModel(storeId, body);
  a.models.observe(storeId, authorizationModelId);
  const token = encodeConsistencyToken({
    storeId,
    region: a.region,
    revision: a.revisions.peek(storeId) ?? "",
    modelId: authorizationModelId,
  });
  return json(
    201,
    { authorization_model_id: authorizationModelId },
    { ...fgaHeaders(storeId, authorizationModelId), [CONSISTENCY_TOKEN_HEADER]: token },
  );
}

async function listModels(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const q = parseWire(listQuery, req.query, "ReadAuthorizationModelsRequest");
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:read");
  const page = await a.service.readAuthorizationModels(storeId, {
    ...(q.page_size !== undefined ? { pageSize: q.page_size } : {}),
    ...(q.continuation_token ? { continuationToken: q.continuation_token } : {}),
  });
  const newest = page.authorizationModels[0];
  if (newest && !q.continuation_token) a.models.observe(storeId, newest.id);
  return json(
    200,
    {
      authorization_models: page.authorizationModels.map(modelJson),
      continuation_token: page.continuationToken,
    },
    fgaHeaders(storeId),
  );
}

async function readModel(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:read");
  const model = await a.service.readAuthorizationModel(storeId, ctx.params.modelId!);
  return json(200, { authorization_model: modelJson(model) }, fgaHeaders(storeId, model.id));
}

async function write(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const body = parseWire(writeBody, jsonBody(req.body), "WriteRequest");
  const onDuplicate = onConflict(body.writes?.on_duplicate, "writes.on_duplicate");
  const onMissing = onConflict(body.deletes?.on_missing, "deletes.on_missing");
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:write");
  const res = await a.service.write({
    storeId,
    ...(body.authorization_model_id ? { authorizationModelId: body.authorization_model_id } : {}),
    ...(body.writes
      ? { writes: { tupleKeys: body.writes.tuple_keys, ...(onDuplicate ? { onDuplicate } : {}) } }
      : {}),
    ...(body.deletes
      ? { deletes: { tupleKeys: body.deletes.tuple_keys, ...(onMissing ? { onMissing } : {}) } }
      : {}),
  });
  if (res.revision) a.revisions.observe(storeId, res.revision);
  // The newest model this container knows (no read when warm): a query with the token then never
  // runs on an older model than the writer could see.
  const token = encodeConsistencyToken({
    storeId,
    region: a.region,
    revision: res.revision,
    modelId: await a.models.current(storeId),
  });
  // OpenFGA answers `{}`; the extra field is ignored by the SDK.
  return json(
    200,
    { consistency_token: token },
    { ...fgaHeaders(storeId), [CONSISTENCY_TOKEN_HEADER]: token },
  );
}

async function read(a: AuthzHttpContext, req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const body = parseWire(readBody, jsonBody(req.body), "ReadRequest");
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:read");
  const target = await a.consistency.target(storeId, readPolicy(req, storeId, body.consistency));
  const tk = body.tuple_key;
  const res = await target.service.read({
    storeId,
    ...(tk
      ? {
          tupleKey: {
            ...(tk.object ? { object: tk.object } : {}),
            ...(tk.relation ? { relation: tk.relation } : {}),
            ...(tk.user ? { user: tk.user } : {}),
          },
        }
      : {}),
    ...(body.page_size !== undefined ? { pageSize: body.page_size } : {}),
    ...(body.continuation_token ? { continuationToken: body.continuation_token } : {}),
    ...(body.consistency ? { consistency: body.consistency } : {}),
  });
  return json(
    200,
    { tuples: res.tuples.map(tupleJson), continuation_token: res.continuationToken },
    fgaHeaders(storeId),
  );
}

async function readChanges(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const q = parseWire(changesQuery, req.query, "ReadChangesRequest");
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:read");
  const target = await a.consistency.target(storeId, readPolicy(req, storeId, undefined));
  const res = await target.service.readChanges({
    storeId,
    ...(q.type ? { type: q.type } : {}),
    ...(q.page_size !== undefined ? { pageSize: q.page_size } : {}),
    ...(q.continuation_token ? { continuationToken: q.continuation_token } : {}),
    ...(q.start_time ? { startTime: q.start_time } : {}),
  });
  return json(
    200,
    { changes: res.changes.map(changeJson), continuation_token: res.continuationToken },
    fgaHeaders(storeId),
  );
}

async function writeAssertions(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  const body = parseWire(writeAssertionsBody, jsonBody(req.body), "WriteAssertionsRequest");
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:write");
  await a.service.writeAssertions(storeId, ctx.params.modelId!, body.assertions);
  return noContent();
}

async function readAssertions(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const storeId = ctx.params.storeId!;
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:read");
  const res = await a.service.readAssertions(storeId, ctx.params.modelId!);
  return json(
    200,
    { authorization_model_id: res.authorizationModelId, assertions: res.assertions.map(assertionJson) },
    fgaHeaders(storeId, res.authorizationModelId),
  );
}

/** The route table of the `authz` API group. */
export function authzRoutes(a: AuthzHttpContext): Route[] {
  const route = (method: string, path: string, h: Handler): Route => {
    const handler: RouteHandler = async (req, ctx) => {
      try {
        return await h(a, req, ctx);
      } finally {
        a.metrics.maybeFlush(ctx.log);
      }
    };
    return { method, path, access: { kind: "tenant" }, handler };
  };
  const s = "/stores/{storeId}";
  return [
    route("POST", "/stores", createStore),
    route("GET", "/stores", listStores),
    route("GET", s, getStore),
    route("DELETE", s, deleteStore),
    route("POST", `${s}/authorization-models`, writeModel),
    route("GET", `${s}/authorization-models`, listModels),
    route("GET", `${s}/authorization-models/{modelId}`, readModel),
    route("POST", `${s}/write`, write),
    route("POST", `${s}/read`, read),
    route("GET", `${s}/changes`, readChanges),
    route("POST", `${s}/check`, check),
    route("POST", `${s}/batch-check`, batchCheck),
    route("POST", `${s}/expand`, expand),
    route("POST", `${s}/list-objects`, listObjects),
    route("POST", `${s}/streamed-list-objects`, streamedListObjects),
    route("POST", `${s}/list-users`, listUsers),
    route("PUT", `${s}/assertions/{modelId}`, writeAssertions),
    route("GET", `${s}/assertions/{modelId}`, readAssertions),
  ];
}
