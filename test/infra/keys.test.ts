/**
 * Token keys and their principals (three regions, `kms` signer): the multi-region signing and
 * wrapping keys with a replica in every other region, key policies (no `kms:*` for anyone; only
 * the signer roles may Sign, with ES256; policies identical in every region so the key ring's
 * copies work), the signer and key admin roles and their conditioned KMS grants, and a contract
 * check that the key ring's real KMS requests satisfy those conditions.
 */
import { generateKeyPairSync } from "node:crypto";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { Stack } from "aws-cdk-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS, type FunctionSpec, rotatesKeys } from "../../lib/config/functions.ts";
import {
  keyAdminRoleName,
  signerRoleName,
  signingKeyAlias,
  stackName,
  wrappingKeyAlias,
} from "../../lib/config/names.ts";
import {
  ENVELOPE_CONTEXT,
  KEY_ADMIN_ACTIONS,
  SIGNING_ALGORITHM,
  SIGNING_KEY_SPEC,
} from "../../lib/constructs/key-policies.ts";
import { KMS_SPECS, KmsKeyProvider } from "../../src/keys/adapters/kms.ts";
import {
  KmsEnvelopeKeyProvider,
  ENVELOPE_CONTEXT as RUNTIME_ENVELOPE_CONTEXT,
} from "../../src/keys/adapters/kms-envelope.ts";
import {
  actionMatches,
  actionsOf,
  asArray,
  flat,
  functionResource,
  functionStatements,
  type PolicyDoc,
  type Resource,
  resources,
  roleLogicalIdByName,
  type Statement,
  type Synth,
  synthesize,
} from "./support.ts";

const REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"] as const;
const PRIMARY = REGIONS[0];

/** Every KMS operation that uses key material (none may reach the account principal). */
const CRYPTO_ACTIONS = [
  "kms:Sign",
  "kms:Verify",
  "kms:Encrypt",
  "kms:Decrypt",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyPair",
  "kms:GenerateDataKeyPairWithoutPlaintext",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GenerateMac",
  "kms:VerifyMac",
  "kms:DeriveSharedSecret",
];
/** What the account must still be able to do on its keys (the brief's key administration list). */
const ADMIN_PATTERNS = [
  "Create*",
  "Describe*",
  "Enable*",
  "List*",
  "Put*",
  "Update*",
  "Revoke*",
  "Disable*",
  "Get*",
  "Delete*",
  "TagResource",
  "UntagResource",
  "ScheduleKeyDeletion",
  "CancelKeyDeletion",
  "ReplicateKey",
].map((a) => `kms:${a}`);

let synth: Synth;
beforeAll(() => {
  synth = synthesize({ stage: "test", regions: REGIONS.join(","), issuer: "https://auth.example.com" });
});
afterAll(() => synth.dispose());

const keysOf = (region: string): Stack => synth.stacks.regions.get(region)!.keys;
const roleArn = (name: string) => `arn:aws:iam::ACCOUNT:role/${name}`;
const signerArns = () => REGIONS.map((r) => roleArn(signerRoleName(synth.config, r)));
const keyAdminArns = () => REGIONS.map((r) => roleArn(keyAdminRoleName(synth.config, r)));
/** The key resource `id` (`SigningKey` or `WrappingKey`) of a region: primary or replica. */
const keyIn = (region: string, id: string): Resource =>
  resources(keysOf(region), region === PRIMARY ? "AWS::KMS::Key" : "AWS::KMS::ReplicaKey")[id]!;
const policyOf = (key: Resource) => key.Properties!.KeyPolicy as PolicyDoc;
const isAccount = (principal: unknown) => flat(principal) === '{"AWS":"arn:aws:iam::ACCOUNT:root"}';
const principalArns = (s: Statement) =>
  asArray(s.Condition?.ArnEquals?.["aws:PrincipalArn"] as unknown[]).map((a) => JSON.parse(flat(a)));

describe.each([
  [
    "SigningKey",
    "token-signing",
    { KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", EnableKeyRotation: false },
  ],
  [
    "WrappingKey",
    "token-wrapping",
    { KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", EnableKeyRotation: true },
  ],
] as const)("%s", (id, purpose, spec) => {
  it("primary: multi-region, retained, tagged with its purpose", () => {
    const key = keyIn(PRIMARY, id);
    expect(key.DeletionPolicy).toBe("Retain");
    expect(key.Properties).toMatchObject({ ...spec, MultiRegion: true, Enabled: true });
    expect(key.Properties!.Tags).toContainEqual({ Key: "portcullis:purpose", Value: purpose });
    expect(Object.keys(resources(keysOf(PRIMARY), "AWS::KMS::Key")).sort()).toEqual(
      ["SigningKey", "WrappingKey"].sort(),
    );
    expect(resources(keysOf(PRIMARY), "AWS::KMS::ReplicaKey")).toEqual({});
  });

  it.each(REGIONS.slice(1))("replica in %s, of the primary key, retained and tagged", (region) => {
    expect(resources(keysOf(region), "AWS::KMS::Key")).toEqual({});
    const replica = keyIn(region, id);
    expect(replica.DeletionPolicy).toBe("Retain");
    expect(replica.Properties!.Tags).toContainEqual({ Key: "portcullis:purpose", Value: purpose });
    // The primary key's ARN, read from the primary Keys stack in the primary region.
    const ref = (replica.Properties!.PrimaryKeyArn as { "Fn::GetStackOutput": Record<string, string> })[
      "Fn::GetStackOutput"
    ];
    expect(ref).toMatchObject({ StackName: stackName(synth.config, "Keys", PRIMARY), Region: PRIMARY });
    expect(ref.OutputName).toContain(id);
  });

  it("has the same alias in every region", () => {
    const alias = id === "SigningKey" ? signingKeyAlias(synth.config) : wrappingKeyAlias(synth.config);
    for (const region of REGIONS) {
      const aliases = Object.values(resources(keysOf(region), "AWS::KMS::Alias")).filter(
        (a) => JSON.stringify(a.Properties?.TargetKeyId) === JSON.stringify({ Ref: id }),
      );
      expect(aliases.map((a) => a.Properties?.AliasName)).toEqual([alias]);
    }
  });

  it("key policy: identical in every region (rotation copies it), no kms:* and no '*' principal", () => {
    const policies = REGIONS.map((r) => flat(policyOf(keyIn(r, id))));
    expect(new Set(policies).size).toBe(1);
    for (const s of policyOf(keyIn(PRIMARY, id)).Statement) {
      expect(s.Effect).toBe("Allow");
      expect(actionsOf(s)).not.toContain("kms:*");
      expect(actionsOf(s)).not.toContain("*");
      expect(isAccount(s.Principal), JSON.stringify(s.Principal)).toBe(true);
    }
  });

  it("key policy: the account administers the key and cannot use it", () => {
    const statements = policyOf(keyIn(PRIMARY, id)).Statement;
    const admin = statements.find((s) => s.Sid === "KeyAdministration")!;
    expect(admin.Condition).toBeUndefined();
    expect(actionsOf(admin).sort()).toEqual([...KEY_ADMIN_ACTIONS].sort());
    for (const pattern of ADMIN_PATTERNS) expect(actionsOf(admin)).toContain(pattern);
    for (const action of CRYPTO_ACTIONS)
      expect(
        actionsOf(admin).filter((p) => actionMatches(p, action)),
        action,
      ).toEqual([]);
    // Every other statement allows use only to named roles.
    for (const s of statements.filter((x) => x !== admin)) expect(principalArns(s).length).toBeGreaterThan(0);
  });
});

describe("signing key policy", () => {
  it("only the signer roles may Sign (one statement), with ECDSA_SHA_256", () => {
    for (const region of REGIONS) {
      const statements = policyOf(keyIn(region, "SigningKey")).Statement;
      const signing = statements.filter((s) => actionsOf(s).some((a) => actionMatches(a, "kms:Sign")));
      expect(signing).toHaveLength(1);
      const [s] = signing;
      expect(actionsOf(s!).sort()).toEqual(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]);
      expect(principalArns(s!)).toEqual(signerArns());
      expect(s!.Condition).toEqual({
        ArnEquals: expect.anything(),
        // IfExists: GetPublicKey/DescribeKey carry no algorithm; Sign always does (required parameter).
        StringEqualsIfExists: { "kms:SigningAlgorithm": "ECDSA_SHA_256" },
      });
      expect(statements).toHaveLength(2);
    }
  });
});

describe("wrapping key policy", () => {
  const statements = () => policyOf(keyIn(PRIMARY, "WrappingKey")).Statement;
  const grantsOf = (action: string) =>
    statements().filter((s) => actionsOf(s).some((a) => actionMatches(a, action)));
  const context = {
    StringEquals: { "kms:EncryptionContext:purpose": "portcullis-token-signing" },
    StringEqualsIfExists: { "kms:DataKeyPairSpec": "ECC_NIST_P256" },
  };

  it("Decrypt: signer roles only, with the envelope encryption context", () => {
    const [s, ...rest] = grantsOf("kms:Decrypt");
    expect(rest).toEqual([]);
    expect(principalArns(s!)).toEqual(signerArns());
    expect(s!.Condition).toMatchObject(context);
  });

  it("GenerateDataKeyPair: signer roles (bootstrap) and key admin roles (rotation), with the context", () => {
    const grants = grantsOf("kms:GenerateDataKeyPair");
    expect(grants.flatMap(principalArns).sort()).toEqual([...signerArns(), ...keyAdminArns()].sort());
    for (const s of grants) expect(s.Condition).toMatchObject(context);
    for (const a of ["kms:Sign", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"])
      expect(grantsOf(a)).toEqual([]);
  });
});

describe.each(REGIONS)("KMS roles (%s)", (region) => {
  const roleIn = (name: string): Resource =>
    resources(keysOf(region), "AWS::IAM::Role")[roleLogicalIdByName(keysOf(region), name)]!;
  const spec = (pred: (f: FunctionSpec) => boolean) => (FUNCTIONS as readonly FunctionSpec[]).filter(pred);

  it("signer and key admin roles: deterministic names, assumable by Lambda only", () => {
    expect(Object.keys(resources(keysOf(region), "AWS::IAM::Role"))).toHaveLength(2);
    for (const name of [signerRoleName(synth.config, region), keyAdminRoleName(synth.config, region)]) {
      const trust = roleIn(name).Properties!.AssumeRolePolicyDocument as PolicyDoc;
      expect(trust.Statement).toEqual([
        { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" } },
      ]);
    }
  });

  it("the signing function runs as the signer role, the key rotation function as the key admin role", () => {
    const [signer] = spec((f) => f.signs === true);
    const [rotator] = spec(rotatesKeys);
    expect([signer?.id, rotator?.id]).toEqual(["oauth", "admin"]);
    const roleOf = (f: FunctionSpec) =>
      flat(functionResource(synth.stacks, region, f).resource.Properties?.Role);
    expect(roleOf(signer!)).toBe(JSON.stringify(roleArn(signerRoleName(synth.config, region))));
    expect(roleOf(rotator!)).toBe(JSON.stringify(roleArn(keyAdminRoleName(synth.config, region))));
    for (const other of spec((f) => f !== signer && f !== rotator))
      expect(roleOf(other)).not.toMatch(/signer|keyadmin/);
  });

  it("signer (kms): Sign/GetPublicKey/DescribeKey on this region's purpose-tagged keys only", () => {
    const [signer] = spec((f) => f.signs === true);
    const kms = functionStatements(synth.stacks, region, signer!).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("kms:")),
    );
    expect(kms).toHaveLength(1);
    expect(actionsOf(kms[0]!).sort()).toEqual(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]);
    expect(flat(kms[0]!.Resource)).toBe(JSON.stringify(`arn:aws:kms:${region}:ACCOUNT:key/*`));
    expect(kms[0]!.Condition).toEqual({
      StringEquals: { "aws:ResourceTag/portcullis:purpose": "token-signing" },
      StringEqualsIfExists: { "kms:SigningAlgorithm": "ECDSA_SHA_256" },
    });
  });

  it("key admin (kms): CreateKey is conditioned; the rest is purpose-tag scoped; no key use", () => {
    const [rotator] = spec(rotatesKeys);
    const kms = functionStatements(synth.stacks, region, rotator!).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("kms:")),
    );
    const bySid = Object.fromEntries(kms.map((s) => [s.Sid, s]));
    expect(Object.keys(bySid).sort()).toEqual(
      [
        "SigningKeyCreate",
        "SigningKeyCreateReplica",
        "SigningKeyManage",
        "SigningKeyReplicate",
        "SigningKeyTagOnCreate",
      ].sort(),
    );
    expect(bySid.SigningKeyCreate).toMatchObject({
      Action: "kms:CreateKey",
      Resource: "*",
      Condition: {
        StringEquals: {
          "aws:RequestTag/portcullis:purpose": "token-signing",
          "kms:KeySpec": "ECC_NIST_P256",
          "kms:KeyUsage": "SIGN_VERIFY",
        },
        Bool: { "kms:MultiRegion": "true" },
      },
    });
    expect(bySid.SigningKeyCreateReplica!.Condition!.StringEquals).toEqual({
      "kms:MultiRegionKeyType": "REPLICA",
    });
    expect(actionsOf(bySid.SigningKeyManage!).sort()).toEqual([
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetPublicKey",
      "kms:PutKeyPolicy",
    ]);
    expect(bySid.SigningKeyManage!.Condition).toEqual({
      StringEquals: { "aws:ResourceTag/portcullis:purpose": "token-signing" },
    });
    expect(bySid.SigningKeyReplicate!.Condition).toEqual({
      StringEquals: {
        "aws:ResourceTag/portcullis:purpose": "token-signing",
        "kms:ReplicaRegion": REGIONS.filter((r) => r !== region),
      },
    });
    expect(bySid.SigningKeyTagOnCreate!.Condition).toMatchObject({
      StringEquals: { "aws:RequestTag/portcullis:purpose": "token-signing" },
      "ForAllValues:StringEquals": { "aws:TagKeys": ["portcullis:purpose"] },
    });
    // Key ARNs of the deployment's regions only, never another account or region.
    for (const s of kms.filter((x) => x.Resource !== "*"))
      expect(
        asArray(s.Resource)
          .map((r) => JSON.parse(flat(r)))
          .sort(),
      ).toEqual(REGIONS.map((r) => `arn:aws:kms:${r}:ACCOUNT:key/*`).sort());
    for (const action of CRYPTO_ACTIONS) expect(kms.flatMap(actionsOf)).not.toContain(action);
  });
});

/** A minimal IAM condition evaluator (the operators our KMS statements use). */
type Context = Record<string, string | string[]>;
const satisfies = (condition: Statement["Condition"], ctx: Context): boolean =>
  Object.entries(condition ?? {}).every(([operator, entries]) =>
    Object.entries(entries).every(([key, expected]) => {
      const allowed = asArray(expected as string | string[]).map(String);
      const actual = ctx[key];
      if (actual === undefined) return operator.endsWith("IfExists");
      // Single-valued keys match any listed value; ForAllValues: every request value is listed.
      return asArray(actual).every((v) => allowed.includes(v));
    }),
  );

const statementOf = (region: string, name: string, sid: string): Statement => {
  const role = roleLogicalIdByName(keysOf(region), name);
  const policy = Object.values(resources(keysOf(region), "AWS::IAM::Policy")).find((p) =>
    JSON.stringify(p.Properties?.Roles).includes(`"${role}"`),
  )!;
  return (policy.Properties!.PolicyDocument as PolicyDoc).Statement.find((s) => s.Sid === sid)!;
};

const p256 = () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })),
    pkcs8: new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" })),
  };
};

/** A KMS client double recording every request of the real adapters. */
const recordingKms = () => {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  const pair = p256();
  const client = {
    send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const command = cmd.constructor.name.replace(/Command$/, "");
      calls.push({ command, input: cmd.input });
      switch (command) {
        case "GetKeyPolicy":
          return { Policy: '{"Version":"2012-10-17","Statement":[]}' };
        case "CreateKey":
          return { KeyMetadata: { KeyId: "mrk-0123456789abcdef0123456789abcdef" } };
        case "ReplicateKey":
          return {};
        case "GetPublicKey":
          return {
            KeyId: `arn:aws:kms:${PRIMARY}:111111111111:key/mrk-0123456789abcdef0123456789abcdef`,
            KeyUsage: "SIGN_VERIFY",
            KeySpec: "ECC_NIST_P256",
            SigningAlgorithms: ["ECDSA_SHA_256"],
            PublicKey: pair.spki,
          };
        case "GenerateDataKeyPair":
          return {
            KeyId: "wrapping",
            PublicKey: pair.spki,
            PrivateKeyCiphertextBlob: new Uint8Array([1, 2, 3]),
            PrivateKeyPlaintext: new Uint8Array(pair.pkcs8),
          };
        case "Decrypt":
          return { Plaintext: new Uint8Array(pair.pkcs8) };
        default:
          throw new Error(`unexpected ${command}`);
      }
    },
  };
  return { client: client as unknown as KMSClient, calls };
};

describe("the key ring's KMS requests satisfy the roles' conditions (contract)", () => {
  it("constants agree with the token service", () => {
    expect(ENVELOPE_CONTEXT).toEqual(RUNTIME_ENVELOPE_CONTEXT);
    expect(KMS_SPECS.ES256).toEqual({ keySpec: SIGNING_KEY_SPEC, signing: SIGNING_ALGORITHM });
  });

  it("kms rotation: CreateKey and ReplicateKey as the key admin role may make them", async () => {
    const kms = recordingKms();
    const others = REGIONS.filter((r) => r !== PRIMARY);
    const provider = new KmsKeyProvider(kms.client, { replicaRegions: others });
    const current = { material: { kind: "kms", keyId: "mrk-current" } } as never;
    await provider.create("ES256", { current });
    const name = keyAdminRoleName(synth.config, PRIMARY);

    const create = kms.calls.find((c) => c.command === "CreateKey")!.input as {
      Tags: { TagKey: string; TagValue: string }[];
      KeySpec: string;
      KeyUsage: string;
      MultiRegion: boolean;
    };
    const tags = Object.fromEntries(create.Tags.map((t) => [`aws:RequestTag/${t.TagKey}`, t.TagValue]));
    const createCtx: Context = {
      ...tags,
      "aws:TagKeys": create.Tags.map((t) => t.TagKey),
      "kms:KeySpec": create.KeySpec,
      "kms:KeyUsage": create.KeyUsage,
      "kms:MultiRegion": String(create.MultiRegion),
    };
    expect(satisfies(statementOf(PRIMARY, name, "SigningKeyCreate").Condition, createCtx)).toBe(true);
    expect(satisfies(statementOf(PRIMARY, name, "SigningKeyTagOnCreate").Condition, createCtx)).toBe(true);

    const replicas = kms.calls.filter((c) => c.command === "ReplicateKey");
    expect(replicas.map((c) => c.input.ReplicaRegion)).toEqual(others);
    const replicate = statementOf(PRIMARY, name, "SigningKeyReplicate");
    for (const r of replicas)
      expect(
        satisfies(replicate.Condition, {
          "aws:ResourceTag/portcullis:purpose": "token-signing",
          "kms:ReplicaRegion": String(r.input.ReplicaRegion),
        }),
      ).toBe(true);
    // Nothing else than the granted actions.
    expect(new Set(kms.calls.map((c) => c.command))).toEqual(
      new Set(["GetKeyPolicy", "CreateKey", "ReplicateKey", "GetPublicKey"]),
    );
  });

  // Tags are not shared by multi-Region keys: without them on ReplicateKey, a rotated key's replicas
  // would lack portcullis:purpose and the other regions' (tag-scoped) signer roles could not Sign.
  it("kms rotation: replicas carry the purpose tag the signer roles need", async () => {
    const kms = recordingKms();
    await new KmsKeyProvider(kms.client, { replicaRegions: ["us-east-1"] }).create("ES256");
    const replicate = kms.calls.find((c) => c.command === "ReplicateKey")!.input as {
      Tags?: { TagKey: string; TagValue: string }[];
    };
    expect(replicate.Tags).toContainEqual({ TagKey: "portcullis:purpose", TagValue: "token-signing" });
  });

  it("kms-envelope: GenerateDataKeyPair and Decrypt carry the context the wrapping grants require", async () => {
    const kms = recordingKms();
    const provider = new KmsEnvelopeKeyProvider(kms.client, {
      wrappingKeyId: wrappingKeyAlias(synth.config),
    });
    const created = await provider.create("ES256");
    await provider.signer({ ...created, state: "current", createdAt: 0 });
    const wrap = policyOf(keyIn(PRIMARY, "WrappingKey")).Statement;
    for (const call of kms.calls) {
      const input = call.input as { EncryptionContext: Record<string, string>; KeyPairSpec?: string };
      const ctx: Context = {
        ...Object.fromEntries(
          Object.entries(input.EncryptionContext).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]),
        ),
        ...(input.KeyPairSpec ? { "kms:DataKeyPairSpec": input.KeyPairSpec } : {}),
      };
      const grants = wrap.filter((s) => actionsOf(s).includes(`kms:${call.command}`));
      expect(grants.length, call.command).toBeGreaterThan(0);
      for (const s of grants) {
        const { ArnEquals: _, ...rest } = s.Condition!;
        expect(satisfies(rest, ctx), `${call.command} ${JSON.stringify(ctx)}`).toBe(true);
      }
    }
    expect(kms.calls.map((c) => c.command)).toEqual(["GenerateDataKeyPair", "Decrypt"]);
  });
});
