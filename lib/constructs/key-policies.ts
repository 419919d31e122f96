/**
 * KMS key policies of the token keys, and the IAM statements of the two principals that use them.
 *
 * Principals (lib/config/names.ts): the **signer role** (execution role of the signing function,
 * `oauth`) and the **key admin role** (execution role of the function serving key rotation,
 * `admin`), one of each per region with deterministic names.
 *
 * Key policies delegate to IAM through the account principal, and every statement that allows
 * key *use* is pinned to those roles with `aws:PrincipalArn`. A use then needs both the key policy
 * and the role's IAM policy. Naming the roles in a condition rather than as principals:
 *
 * - keeps every key policy identical in every region. The key ring copies the current key's
 *   policy to each new key and its replicas on rotation (src/keys/adapters/kms.ts), so a copy
 *   must work in every region, and must not depend on a role existing when the policy is written;
 * - survives a role being re-created (a principal ARN in a key policy is bound to the role's
 *   unique id).
 *
 * The account keeps administration (no `kms:*`): {@link KEY_ADMIN_ACTIONS} matches no
 * cryptographic operation.
 */
import { AccountRootPrincipal, Effect, PolicyDocument, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { SignerMode } from "../config/stage.ts";

/** Tag key marking the platform's KMS keys; the key ring tags the keys it creates with it. */
export const PURPOSE_TAG = "portcullis:purpose";
/** {@link PURPOSE_TAG} value of signing keys (CDK-created and created by rotation). */
export const SIGNING_PURPOSE = "token-signing";
/** {@link PURPOSE_TAG} value of the wrapping key; different, so signing-key grants never reach it. */
export const WRAPPING_PURPOSE = "token-wrapping";

/** KMS key spec of signing keys (ES256, the token service's default algorithm). */
export const SIGNING_KEY_SPEC = "ECC_NIST_P256";
/** The only KMS signing algorithm the signer may use (ES256). */
export const SIGNING_ALGORITHM = "ECDSA_SHA_256";
/** Encryption context of wrapped signing keys (src/keys/adapters/kms-envelope.ts `ENVELOPE_CONTEXT`). */
export const ENVELOPE_CONTEXT = { purpose: "portcullis-token-signing" } as const;

/**
 * What the account (and so IAM) may do on a token key: administration only, as AWS's default
 * "key administrators" statement plus `ReplicateKey`. No `Sign`, `Verify`, `Encrypt`, `Decrypt`,
 * `ReEncrypt*` or `GenerateDataKey*`. (`Get*` includes `GetPublicKey`: public material.)
 */
export const KEY_ADMIN_ACTIONS: readonly string[] = [
  "kms:Create*",
  "kms:Describe*",
  "kms:Enable*",
  "kms:List*",
  "kms:Put*",
  "kms:Update*",
  "kms:Revoke*",
  "kms:Disable*",
  "kms:Get*",
  "kms:Delete*",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:ReplicateKey",
];

/** What the signer does with a signing key (`kms` mode). */
export const SIGNER_ACTIONS: readonly string[] = ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"];
/** What the signer does with the wrapping key (`kms-envelope` mode): bootstrap keys, unwrap them. */
export const UNWRAP_ACTIONS: readonly string[] = ["kms:Decrypt", "kms:GenerateDataKeyPair"];

/** ARNs of the roles allowed to use the token keys, in every region of the deployment. */
export interface KeyPrincipals {
  /** Signer role of every region. */
  readonly signerRoleArns: readonly string[];
  /** Key admin role of every region. */
  readonly keyAdminRoleArns: readonly string[];
}

const administration = (): PolicyStatement =>
  new PolicyStatement({
    sid: "KeyAdministration",
    effect: Effect.ALLOW,
    principals: [new AccountRootPrincipal()],
    actions: [...KEY_ADMIN_ACTIONS],
    resources: ["*"],
  });

/** Conditions bound to the wrapping key: the envelope context, and ES256 key pairs only. */
const envelopeConditions = () => ({
  StringEquals: { "kms:EncryptionContext:purpose": ENVELOPE_CONTEXT.purpose },
  // Absent on Decrypt; GenerateDataKeyPair always carries it.
  StringEqualsIfExists: { "kms:DataKeyPairSpec": SIGNING_KEY_SPEC },
});

/**
 * Policy of signing keys (primary, replicas, and the keys rotation creates by copying it):
 * administration for the account, and ONE statement for use: `Sign`, `GetPublicKey` and
 * `DescribeKey` for the signer roles only, `Sign` with ECDSA_SHA_256 only. `IfExists` lets
 * `GetPublicKey`/`DescribeKey` (which carry no algorithm) pass; `SigningAlgorithm` is a required
 * parameter of `Sign`, so a `Sign` without it does not exist.
 */
export const signingKeyPolicy = (principals: KeyPrincipals): PolicyDocument =>
  new PolicyDocument({
    statements: [
      administration(),
      new PolicyStatement({
        sid: "TokenSigner",
        effect: Effect.ALLOW,
        principals: [new AccountRootPrincipal()],
        actions: [...SIGNER_ACTIONS],
        resources: ["*"],
        conditions: {
          ArnEquals: { "aws:PrincipalArn": [...principals.signerRoleArns] },
          StringEqualsIfExists: { "kms:SigningAlgorithm": SIGNING_ALGORITHM },
        },
      }),
    ],
  });

/**
 * Policy of the wrapping key (`kms-envelope`): administration for the account; the signer roles
 * may generate and decrypt wrapped key pairs, the key admin roles may only generate them (a
 * rotation creates the next key; it never needs a private key back). Both only with the envelope
 * encryption context.
 */
export const wrappingKeyPolicy = (principals: KeyPrincipals): PolicyDocument =>
  new PolicyDocument({
    statements: [
      administration(),
      new PolicyStatement({
        sid: "TokenSignerUnwrap",
        effect: Effect.ALLOW,
        principals: [new AccountRootPrincipal()],
        actions: [...UNWRAP_ACTIONS],
        resources: ["*"],
        conditions: {
          ArnEquals: { "aws:PrincipalArn": [...principals.signerRoleArns] },
          ...envelopeConditions(),
        },
      }),
      new PolicyStatement({
        sid: "TokenKeyAdminWrap",
        effect: Effect.ALLOW,
        principals: [new AccountRootPrincipal()],
        actions: ["kms:GenerateDataKeyPair"],
        resources: ["*"],
        conditions: {
          ArnEquals: { "aws:PrincipalArn": [...principals.keyAdminRoleArns] },
          ...envelopeConditions(),
        },
      }),
    ],
  });

const signingTag = { [`aws:ResourceTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE };

/** Where a region's roles may act. */
export interface KeyScope {
  readonly mode: SignerMode;
  /** `arn:…:kms:<region>:<account>:key/*` of this region. */
  readonly regionKeys: string;
  /** The same pattern for every configured region (a rotation replicates keys to all of them). */
  readonly allRegionKeys: readonly string[];
  /** The other configured regions (rotation replicates new keys there). */
  readonly replicaRegions: readonly string[];
  /** This region's wrapping key. */
  readonly wrappingKeyArn: string;
}

/**
 * IAM statements of the signer role. `kms`: use of this region's signing keys, the CDK key and
 * every key a rotation creates, found by their purpose tag (the key policy restricts further).
 * `kms-envelope`: the wrapping key only, with the envelope context.
 */
export const signerStatements = (scope: KeyScope): PolicyStatement[] =>
  scope.mode === "kms"
    ? [
        new PolicyStatement({
          sid: "TokenSigningKeys",
          effect: Effect.ALLOW,
          actions: [...SIGNER_ACTIONS],
          resources: [scope.regionKeys],
          conditions: {
            StringEquals: signingTag,
            StringEqualsIfExists: { "kms:SigningAlgorithm": SIGNING_ALGORITHM },
          },
        }),
      ]
    : [
        new PolicyStatement({
          sid: "TokenKeyUnwrap",
          effect: Effect.ALLOW,
          actions: [...UNWRAP_ACTIONS],
          resources: [scope.wrappingKeyArn],
          conditions: envelopeConditions(),
        }),
      ];

/**
 * IAM statements of the key admin role (rotation through the admin API).
 *
 * `kms` (src/keys/adapters/kms.ts `create`): `GetKeyPolicy` of the current key, `CreateKey` of a
 * multi-region P-256 signing key tagged with its purpose (with that policy, so `PutKeyPolicy` for
 * KMS's policy-lockout check), `ReplicateKey` to the other regions (which is `CreateKey` of a
 * replica there), `GetPublicKey`/`DescribeKey` to adopt it. `kms-envelope`: `GenerateDataKeyPair`
 * under this region's wrapping key only; never `Decrypt`.
 */
export const keyAdminStatements = (scope: KeyScope): PolicyStatement[] => {
  if (scope.mode === "kms-envelope") {
    return [
      new PolicyStatement({
        sid: "TokenKeyWrap",
        effect: Effect.ALLOW,
        actions: ["kms:GenerateDataKeyPair"],
        resources: [scope.wrappingKeyArn],
        conditions: envelopeConditions(),
      }),
    ];
  }
  const statements = [
    new PolicyStatement({
      sid: "SigningKeyCreate",
      effect: Effect.ALLOW,
      // CreateKey has no resource-level permissions: the key does not exist yet.
      actions: ["kms:CreateKey"],
      resources: ["*"],
      conditions: {
        StringEquals: {
          [`aws:RequestTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE,
          "kms:KeySpec": SIGNING_KEY_SPEC,
          "kms:KeyUsage": "SIGN_VERIFY",
        },
        Bool: { "kms:MultiRegion": "true" },
      },
    }),
    new PolicyStatement({
      sid: "SigningKeyTagOnCreate",
      effect: Effect.ALLOW,
      // Tags given to CreateKey (and ReplicateKey) need TagResource; the key has no tags yet, so
      // the request's tags are what is checked: exactly the purpose tag, and only on P-256
      // multi-region signing keys where the key's attributes are known.
      actions: ["kms:TagResource"],
      resources: [...scope.allRegionKeys],
      conditions: {
        StringEquals: { [`aws:RequestTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE },
        "ForAllValues:StringEquals": { "aws:TagKeys": [PURPOSE_TAG] },
        StringEqualsIfExists: { "kms:KeySpec": SIGNING_KEY_SPEC, "kms:KeyUsage": "SIGN_VERIFY" },
        BoolIfExists: { "kms:MultiRegion": "true" },
      },
    }),
    new PolicyStatement({
      sid: "SigningKeyManage",
      effect: Effect.ALLOW,
      actions: ["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetPublicKey", "kms:DescribeKey"],
      resources: [...scope.allRegionKeys],
      conditions: { StringEquals: signingTag },
    }),
  ];
  if (scope.replicaRegions.length > 0) {
    statements.push(
      new PolicyStatement({
        sid: "SigningKeyReplicate",
        effect: Effect.ALLOW,
        actions: ["kms:ReplicateKey"],
        resources: [...scope.allRegionKeys],
        conditions: {
          StringEquals: { ...signingTag, "kms:ReplicaRegion": [...scope.replicaRegions] },
        },
      }),
      new PolicyStatement({
        sid: "SigningKeyCreateReplica",
        effect: Effect.ALLOW,
        // ReplicateKey creates the replica with CreateKey in the replica region. A replica can only
        // come from ReplicateKey, which is limited to purpose-tagged keys (above).
        actions: ["kms:CreateKey"],
        resources: ["*"],
        conditions: {
          StringEquals: { "kms:MultiRegionKeyType": "REPLICA" },
          StringEqualsIfExists: { "kms:KeySpec": SIGNING_KEY_SPEC, "kms:KeyUsage": "SIGN_VERIFY" },
        },
      }),
    );
  }
  return statements;
};
