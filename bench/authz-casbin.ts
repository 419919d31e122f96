/**
 * The benchmark's data set (`authz-data.ts`) as casbin RBAC with domains, for the in-process
 * comparison in `authz-http.ts`. The domain is the organization that owns a repo. The ReBAC graph
 * is flattened into role links (`g = _, _, _`):
 *
 * - each repo role is a role `repo:rN/<role>` in the repo's org; users and teams get it (`g`);
 * - teams are roles `team:tN/member` (and `/maintainer`, which implies member), nested teams link to
 *   their parent team; team links are repeated in every org, since a team may hold roles anywhere;
 * - org owners, members and the base role: `organization:oN/owner` → `/member` → `/repo_reader` →
 *   `repo:rN/reader` for each repo the org owns (likewise `repo_writer`, `repo_admin`).
 *
 * The role hierarchy reader ⊂ triager ⊂ writer ⊂ maintainer ⊂ admin is 15 `p` rules (role, action);
 * the matcher asks for one role link per rule whose action matches. (Casbin's textbook
 * `rbac_with_domains` matcher compares the request with every `p` rule in turn, one rule per repo
 * role here: 50,000 rules scanned per check. This keeps `p` small instead.) Repos without an owning
 * org (the list-objects extras, `repo:lo*`) are not in the check workload and left out.
 */
import { createRequire } from "node:module";
import { DefaultRoleManager, newEnforcer, newModelFromString } from "casbin";
import type { TupleKey } from "../src/authz/model.ts";
import { type CheckKey, ROLES } from "./authz-data.ts";

export const CASBIN_MODEL = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = role, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, r.obj + "/" + p.role, r.dom)
`;

export interface CasbinBench {
  readonly version: string;
  /** `g` rules. */
  readonly rules: number;
  readonly pRules: number;
  check(c: CheckKey): boolean;
}

const role = (userset: string) => userset.replace("#", "/");

/** Builds the enforcer from the tuples (see the module comment). */
export async function casbinFromTuples(tuples: readonly TupleKey[]): Promise<CasbinBench> {
  const domainOf = new Map<string, string>();
  for (const t of tuples)
    if (t.object.startsWith("repo:") && t.relation === "owner") domainOf.set(t.object, t.user);
  const domains = [...new Set(domainOf.values())];
  const reposOf = new Map<string, string[]>();
  for (const [repo, org] of domainOf) reposOf.set(org, [...(reposOf.get(org) ?? []), repo]);
  const g: string[][] = [];
  const subject = (user: string) => (user.includes("#") ? role(user) : user);
  for (const t of tuples) {
    const [type] = t.object.split(":");
    if (type === "repo") {
      const dom = domainOf.get(t.object);
      if (dom === undefined || t.relation === "owner") continue;
      g.push([subject(t.user), `${t.object}/${t.relation}`, dom]);
    } else if (type === "team") {
      for (const dom of domains) g.push([subject(t.user), `${t.object}/${t.relation}`, dom]);
    } else if (type === "organization") {
      g.push([subject(t.user), `${t.object}/${t.relation}`, t.object]);
    }
  }
  for (const dom of domains) {
    // Implied relations of teams and orgs (`member: … or maintainer`, `member: … or owner`).
    for (const t of tuples) {
      if (t.object.startsWith("team:") && t.relation === "maintainer")
        g.push([`${t.object}/maintainer`, `${t.object}/member`, dom]);
    }
    g.push([`${dom}/owner`, `${dom}/member`, dom]);
    for (const repo of reposOf.get(dom) ?? []) {
      for (const base of ["reader", "writer", "admin"])
        g.push([`${dom}/repo_${base}`, `${repo}/${base}`, dom]);
    }
  }
  const unique = [...new Map(g.map((r) => [r.join("\u0000"), r])).values()];
  // The role hierarchy: a role grants its own action and every lower one.
  const p: string[][] = [];
  ROLES.forEach((holder, i) => {
    for (const act of ROLES.slice(0, i + 1)) p.push([holder, act]);
  });
  const e = await newEnforcer(newModelFromString(CASBIN_MODEL));
  // Team nesting plus the role hierarchy is deeper than casbin's default of 10 links.
  e.setRoleManager(new DefaultRoleManager(20));
  e.enableAutoBuildRoleLinks(false);
  await e.addPolicies(p);
  await e.addGroupingPolicies(unique);
  await e.buildRoleLinks();
  const version = (createRequire(import.meta.url)("casbin/package.json") as { version: string }).version;
  return {
    version,
    rules: unique.length,
    pRules: p.length,
    check: (c) => e.enforceSync(c.user, domainOf.get(c.object) ?? "", c.object, c.relation),
  };
}
