/**
 * Value types of the authorization module, in OpenFGA's JSON shapes where they cross the wire
 * (so the HTTP layer can pass them through) and plain records elsewhere.
 */

/** `{name, context?}` on a tuple: the condition that must hold for the tuple to count. */
export interface TupleCondition {
  readonly name: string;
  readonly context?: Record<string, unknown>;
}

/** A relationship tuple: `user` has `relation` on `object`. */
export interface TupleKey {
  /** `type:id` */
  readonly object: string;
  readonly relation: string;
  /** `type:id`, `type:*` or `type:id#relation` */
  readonly user: string;
  readonly condition?: TupleCondition;
}

/** A stored tuple with the time it was written (epoch ms). */
export interface Tuple {
  readonly key: TupleKey;
  readonly timestamp: number;
}

export type TupleOperation = "write" | "delete";

/** One changelog entry. Deletes carry no condition. */
export interface TupleChange {
  readonly key: TupleKey;
  readonly operation: TupleOperation;
  readonly timestamp: number;
  /** Changelog position: a ULID, strictly increasing per store. */
  readonly revision: string;
}

/** An authorization store (OpenFGA "store"), owned by one tenant. */
export interface StoreRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deletedAt?: number;
}

// ---- Authorization model JSON (OpenFGA schema 1.1) ----

export interface ObjectRelation {
  readonly object?: string;
  readonly relation?: string;
}

export interface TupleToUserset {
  readonly tupleset: ObjectRelation;
  readonly computedUserset: ObjectRelation;
}

/** Exactly one member is set. */
export interface Userset {
  readonly this?: Record<string, never>;
  readonly computedUserset?: ObjectRelation;
  readonly tupleToUserset?: TupleToUserset;
  readonly union?: { readonly child: readonly Userset[] };
  readonly intersection?: { readonly child: readonly Userset[] };
  readonly difference?: { readonly base: Userset; readonly subtract: Userset };
}

export interface RelationReference {
  readonly type: string;
  readonly relation?: string;
  readonly wildcard?: Record<string, never>;
  readonly condition?: string;
}

export interface RelationMetadata {
  readonly directly_related_user_types?: readonly RelationReference[];
  readonly module?: string;
  readonly source_info?: { readonly file?: string };
}

export interface TypeDefinition {
  readonly type: string;
  readonly relations?: Readonly<Record<string, Userset>>;
  readonly metadata?: {
    readonly relations?: Readonly<Record<string, RelationMetadata>>;
    readonly module?: string;
    readonly source_info?: { readonly file?: string };
  } | null;
}

export type ConditionTypeName =
  | "TYPE_NAME_ANY"
  | "TYPE_NAME_BOOL"
  | "TYPE_NAME_STRING"
  | "TYPE_NAME_INT"
  | "TYPE_NAME_UINT"
  | "TYPE_NAME_DOUBLE"
  | "TYPE_NAME_DURATION"
  | "TYPE_NAME_TIMESTAMP"
  | "TYPE_NAME_MAP"
  | "TYPE_NAME_LIST"
  | "TYPE_NAME_IPADDRESS";

export interface ConditionParamTypeRef {
  readonly type_name: ConditionTypeName;
  readonly generic_types?: readonly ConditionParamTypeRef[];
}

export interface Condition {
  readonly name: string;
  readonly expression: string;
  readonly parameters?: Readonly<Record<string, ConditionParamTypeRef>>;
  readonly metadata?: unknown;
}

/** The model as written by clients (no id). */
export interface AuthorizationModelInput {
  readonly schema_version: string;
  readonly type_definitions: readonly TypeDefinition[];
  readonly conditions?: Readonly<Record<string, Condition>>;
}

/** A stored, immutable model version. */
export interface AuthorizationModel extends AuthorizationModelInput {
  /** ULID: models sort by creation. */
  readonly id: string;
}

export interface Assertion {
  readonly tuple_key: { readonly object: string; readonly relation: string; readonly user: string };
  readonly expectation: boolean;
  readonly contextual_tuples?: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
}
