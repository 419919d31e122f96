/**
 * Authorization models shared by tests (OpenFGA JSON): the smallest one that has a relation to
 * check, `document#viewer` assignable to users.
 */
export const DOCUMENT_VIEWER_MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "document",
      relations: { viewer: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } },
    },
  ],
} as const;
