import { CreateKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKmsClient, KmsKeyProvider } from "../../src/keys/adapters/kms.ts";
import { KmsEnvelopeKeyProvider } from "../../src/keys/adapters/kms-envelope.ts";
import { LocalKeyProvider } from "../../src/keys/adapters/local.ts";
import { DomainError } from "../../src/shared/errors.ts";
import { type KmsStandin, startKmsStandin } from "../support/kms-standin.ts";
import { describeKeyProvider } from "./signing-key-provider.suite.ts";

let kms: KmsStandin;
let client: KMSClient;
let wrappingKeyId: string;

beforeAll(async () => {
  kms = await startKmsStandin();
  client = createKmsClient({ endpoint: kms.url });
  const r = await client.send(new CreateKeyCommand({ MultiRegion: true, Description: "wrapping" }));
  wrappingKeyId = r.KeyMetadata!.KeyId!;
});
afterAll(async () => {
  client?.destroy();
  await kms?.close();
});

const ALL = ["ES256", "RS256", "EdDSA"] as const;

describeKeyProvider("local", () => new LocalKeyProvider(), ALL);
describeKeyProvider("kms", () => new KmsKeyProvider(client), ALL);
describeKeyProvider("kms-envelope", () => new KmsEnvelopeKeyProvider(client, { wrappingKeyId }), ALL);

describe("KMS providers against the stand-in", () => {
  it("kms: adopts an existing key by alias, storing the key id (not the regional ARN)", async () => {
    const created = await client.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", MultiRegion: true }),
    );
    const p = new KmsKeyProvider(client, { bootstrapKeyId: created.KeyMetadata!.Arn! });
    const [k] = await p.bootstrap("ES256");
    expect(k!.material).toEqual({ kind: "kms", keyId: created.KeyMetadata!.KeyId });
  });

  it("kms: refuses to adopt a key whose spec does not fit the algorithm", async () => {
    const created = await client.send(new CreateKeyCommand({ KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY" }));
    await expect(
      new KmsKeyProvider(client).adopt(created.KeyMetadata!.KeyId!, "ES256"),
    ).rejects.toBeInstanceOf(DomainError);
  });

  it("kms: new keys copy the current key's policy and are replicated to the configured regions", async () => {
    const before = { ...kms.calls };
    const p = new KmsKeyProvider(client, { replicaRegions: ["eu-west-1", "us-west-2"] });
    const first = await p.create("ES256");
    await p.create("ES256", { current: { ...first, state: "current", createdAt: 0 } });
    expect((kms.calls.GetKeyPolicy ?? 0) - (before.GetKeyPolicy ?? 0)).toBe(1);
    expect((kms.calls.ReplicateKey ?? 0) - (before.ReplicateKey ?? 0)).toBe(4);
  });

  it("kms: throttling becomes a retryable `unavailable` error", async () => {
    const p = new KmsKeyProvider(client);
    const k = await p.create("ES256");
    const signer = await p.signer({ ...k, state: "current", createdAt: 0 });
    kms.failNext("Sign", "ThrottlingException", 10);
    const e = await signer.sign(Buffer.from("x")).catch((err: unknown) => err);
    kms.failNext("Sign", "ThrottlingException", 0);
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe("unavailable");
  });

  it("kms-envelope: decrypts each key once per container, however many signatures", async () => {
    const p = new KmsEnvelopeKeyProvider(client, { wrappingKeyId });
    const k = await p.create("ES256");
    const before = kms.calls.Decrypt ?? 0;
    const rec = { ...k, state: "current" as const, createdAt: 0 };
    await Promise.all(Array.from({ length: 50 }, async () => (await p.signer(rec)).sign(Buffer.from("x"))));
    expect((kms.calls.Decrypt ?? 0) - before).toBe(1);
  });

  it("kms-envelope: refuses a stored key whose ciphertext does not match its kid", async () => {
    const p = new KmsEnvelopeKeyProvider(client, { wrappingKeyId });
    const a = await p.create("ES256");
    const b = await p.create("ES256");
    const swapped = { ...a, material: b.material, state: "current" as const, createdAt: 0 };
    await expect(new KmsEnvelopeKeyProvider(client, { wrappingKeyId }).signer(swapped)).rejects.toThrow(
      /does not match/,
    );
  });

  it("kms-envelope: KMS refuses a ciphertext under another encryption context", async () => {
    const p = new KmsEnvelopeKeyProvider(client, { wrappingKeyId });
    const k = await p.create("ES256");
    const other = await client.send(new CreateKeyCommand({}));
    const wrongKey = new KmsEnvelopeKeyProvider(client, { wrappingKeyId: other.KeyMetadata!.KeyId! });
    await expect(wrongKey.signer({ ...k, state: "current", createdAt: 0 })).rejects.toThrow();
  });
});
