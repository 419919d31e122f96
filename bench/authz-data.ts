/**
 * Data set of the authorization benchmark (`bench/authz-check.ts`): a GitHub-like model and a
 * deterministic set of ~100k tuples (or a scaled-down one for `--quick`).
 *
 * Model: organizations (owner/member, org-wide base roles granted to `organization#member`), teams
 * with nested teams (`team#member` usersets, depth up to ~4), repos with the role hierarchy
 * reader ⊂ triager ⊂ writer ⊂ maintainer ⊂ admin, each role assignable to users and teams, plus the
 * org's base roles through `repo_* from owner`. One extra user (`user:lister`) reaches exactly 1,000
 * repos through one team, for the list-objects measurement.
 */
import type { TupleKey } from "../src/authz/model.ts";

export const MODEL = `model
  schema 1.1
type user
type organization
  relations
    define owner: [user]
    define member: [user] or owner
    define repo_admin: [user, organization#member]
    define repo_writer: [user, organization#member]
    define repo_reader: [user, organization#member]
type team
  relations
    define maintainer: [user]
    define member: [user, team#member] or maintainer
type repo
  relations
    define owner: [organization]
    define admin: [user, team#member] or repo_admin from owner
    define maintainer: [user, team#member] or admin
    define writer: [user, team#member] or maintainer or repo_writer from owner
    define triager: [user, team#member] or writer
    define reader: [user, team#member] or triager or repo_reader from owner
`;

export const ROLES = ["reader", "triager", "writer", "maintainer", "admin"] as const;

/** The list-objects subject: one user in one team that reads exactly 1,000 repos (no other access). */
export const LIST_USER = "user:lister";
export const LIST_REPOS = 1000;

/** The nested-team chain (depth 3) for the round-trip measurement. */
export const DEEP_REPO = "repo:deep";
export const DEEP_USER = "user:deep";

export interface BenchData {
  readonly users: number;
  readonly repos: number;
  /** Unique tuples, in generation order. */
  readonly tuples: readonly TupleKey[];
  /** A deterministic PRNG continuing after the data (for sampling requests). */
  readonly rand: () => number;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed0: number): () => number {
  let seed = seed0;
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The data set. `scale` 1 gives ~102.7k tuples (10 orgs, 5,000 users, 500 teams, 10,000 repos);
 * smaller scales shrink users, teams and repos proportionally (the list-objects part stays 1,000).
 */
export function generate(scale = 1): BenchData {
  const rand = prng(42);
  const pick = (n: number) => Math.floor(rand() * n);
  const ORGS = 10;
  const USERS = Math.max(50, Math.round(5000 * scale));
  const TEAMS = Math.max(20, Math.round(500 * scale));
  const REPOS = Math.max(100, Math.round(10000 * scale));
  const tuples: TupleKey[] = [];
  for (let o = 0; o < ORGS; o++) {
    tuples.push({ object: `organization:o${o}`, relation: "owner", user: `user:u${o}` });
    tuples.push({ object: `organization:o${o}`, relation: "repo_reader", user: `organization:o${o}#member` });
  }
  for (let u = 0; u < USERS; u++) {
    tuples.push({ object: `organization:o${u % ORGS}`, relation: "member", user: `user:u${u}` });
  }
  for (let t = 0; t < TEAMS; t++) {
    for (let i = 0; i < 12; i++)
      tuples.push({ object: `team:t${t}`, relation: "member", user: `user:u${pick(USERS)}` });
    tuples.push({ object: `team:t${t}`, relation: "maintainer", user: `user:u${pick(USERS)}` });
    // Nested teams: about a third of the teams are inside a parent team (depth up to ~4).
    if (t >= 10 && t % 3 === 0)
      tuples.push({ object: `team:t${pick(t)}`, relation: "member", user: `team:t${t}#member` });
  }
  for (let r = 0; r < REPOS; r++) {
    const org = r % ORGS;
    tuples.push({ object: `repo:r${r}`, relation: "owner", user: `organization:o${org}` });
    for (let i = 0; i < 6; i++) {
      tuples.push({
        object: `repo:r${r}`,
        relation: ROLES[pick(ROLES.length)]!,
        user: `user:u${pick(USERS)}`,
      });
    }
    for (let i = 0; i < 2; i++) {
      tuples.push({
        object: `repo:r${r}`,
        relation: ROLES[pick(ROLES.length)]!,
        user: `team:t${pick(TEAMS)}#member`,
      });
    }
  }
  // A chain for the round-trip measurement: repo:deep → team:deep1 ⊃ team:deep2 ⊃ team:deep3 ∋ user:deep
  // (plus the repo's organization): a check on repo:deep needs 4 levels of reads.
  tuples.push({ object: DEEP_REPO, relation: "owner", user: "organization:o0" });
  tuples.push({ object: DEEP_REPO, relation: "reader", user: "team:deep1#member" });
  tuples.push({ object: "team:deep1", relation: "member", user: "team:deep2#member" });
  tuples.push({ object: "team:deep2", relation: "member", user: "team:deep3#member" });
  tuples.push({ object: "team:deep3", relation: "member", user: DEEP_USER });
  tuples.push({ object: "team:lister-team", relation: "member", user: LIST_USER });
  for (let r = 0; r < LIST_REPOS; r++) {
    tuples.push({ object: `repo:lo${r}`, relation: "reader", user: "team:lister-team#member" });
  }
  const unique = new Map(tuples.map((t) => [`${t.object}#${t.relation}@${t.user}`, t]));
  return { users: USERS, repos: REPOS, tuples: [...unique.values()], rand };
}

export interface CheckKey {
  readonly user: string;
  readonly relation: string;
  readonly object: string;
}

/** `n` random checks `repo:r?#<role>@user:u?` (about 2.5 % are allowed). */
export function sampleChecks(data: BenchData, n: number): CheckKey[] {
  const pick = (k: number) => Math.floor(data.rand() * k);
  const out: CheckKey[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      user: `user:u${pick(data.users)}`,
      relation: ROLES[pick(ROLES.length)]!,
      object: `repo:r${pick(data.repos)}`,
    });
  }
  return out;
}
