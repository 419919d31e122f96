/**
 * Admin API for signing keys (platform admin only): `GET /admin/v1/keys`,
 * `POST /admin/v1/keys/rotate`, `POST /admin/v1/keys/retire`. Responses show metadata and public
 * keys, never private material. See docs/runbooks/key-rotation.md.
 */
import { z } from "zod";
import { json } from "../http/router.ts";
import type { Route } from "../http/types.ts";
import { parseJsonBody } from "../http/validation.ts";
import { isoTime } from "../shared/clock.ts";
import { type KeyRecord, sourceOf } from "./model.ts";
import type { KeyRing } from "./ring.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : isoTime(ms));

/** A key as the admin API and CLI show it. */
export function keyJson(k: KeyRecord, ring: KeyRing): Record<string, unknown> {
  return {
    kid: k.kid,
    alg: k.alg,
    state: k.state,
    source: sourceOf(k),
    ...(k.material.kind === "kms" ? { kms_key_id: k.material.keyId } : {}),
    created_at: iso(k.createdAt),
    activated_at: iso(k.activatedAt),
    deactivated_at: iso(k.deactivatedAt),
    retired_at: iso(k.retiredAt),
    ...(k.state === "previous" ? { retirable_at: iso(ring.retirableAt(k)) } : {}),
    public_jwk: k.publicJwk,
  };
}

const rotateBody = z.strictObject({
  force: z.boolean().optional(),
  kms_key_id: z.string().min(1).max(2048).optional(),
});
const retireBody = z.strictObject({
  kid: z.string().min(1).max(128).optional(),
  force: z.boolean().optional(),
});

/** Key admin routes. */
export function keyRoutes(ring: KeyRing): Route[] {
  const access = { kind: "platform" } as const;
  const body = <S extends z.ZodType>(req: Parameters<Route["handler"]>[0], s: S) =>
    req.body ? parseJsonBody(req, s) : ({} as z.output<S>);
  return [
    {
      method: "GET",
      path: "/admin/v1/keys",
      access,
      handler: async () => json(200, { keys: (await ring.list()).map((k) => keyJson(k, ring)) }),
    },
    {
      method: "POST",
      path: "/admin/v1/keys/rotate",
      access,
      handler: async (req, ctx) => {
        const b = body(req, rotateBody);
        const r = await ring.rotate({
          ...(b.force ? { force: true } : {}),
          ...(b.kms_key_id ? { adoptKeyId: b.kms_key_id } : {}),
        });
        ctx.log.info("signing keys rotated", { action: r.action, forced: b.force === true });
        return json(200, {
          action: r.action,
          changed: r.keys.map((k) => keyJson(k, ring)),
          keys: (await ring.list()).map((k) => keyJson(k, ring)),
        });
      },
    },
    {
      method: "POST",
      path: "/admin/v1/keys/retire",
      access,
      handler: async (req, ctx) => {
        const b = body(req, retireBody);
        const retired = await ring.retire({
          ...(b.kid ? { kid: b.kid } : {}),
          ...(b.force ? { force: true } : {}),
        });
        ctx.log.info("signing keys retired", { kids: retired.map((k) => k.kid) });
        return json(200, { retired: retired.map((k) => keyJson(k, ring)) });
      },
    },
  ];
}
