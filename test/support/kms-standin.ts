/**
 * A protocol-level AWS KMS stand-in for tests: a node:http server on 127.0.0.1 that speaks KMS's
 * JSON 1.1 protocol (`X-Amz-Target: TrentService.<Op>`, `application/x-amz-json-1.1`, blobs as
 * base64, errors as `{__type, message}`), so the real `@aws-sdk/client-kms` serialisation runs and
 * the DER → JOSE conversion sees real DER. Crypto is node:crypto (ECDSA over a precomputed digest,
 * which node:crypto cannot do, uses the small P-256 implementation in ./p256.ts).
 *
 * Operations: CreateKey, DescribeKey, CreateAlias, GetPublicKey, GetKeyPolicy, ReplicateKey, Sign,
 * Verify, GenerateDataKeyPair, Encrypt, Decrypt. It checks that requests are SigV4-signed, honours
 * encryption context (as AAD), key usage, key spec and signing algorithm, and counts calls.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  randomBytes,
  randomUUID,
  constants as rsa,
  sign,
  verify,
} from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { joseToDer } from "../../src/keys/der.ts";
import { p256SignDigest } from "./p256.ts";

type Json = Record<string, unknown>;

interface StandinKey {
  readonly id: string;
  readonly arn: string;
  readonly spec: string;
  readonly usage: "SIGN_VERIFY" | "ENCRYPT_DECRYPT";
  readonly multiRegion: boolean;
  readonly description: string;
  readonly created: number;
  readonly privateKey?: KeyObject;
  readonly secret?: Buffer;
  policy: string;
  readonly replicas: string[];
}

const SIGNING: Record<string, string[]> = {
  ECC_NIST_P256: ["ECDSA_SHA_256"],
  RSA_2048: ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256"],
  ECC_NIST_EDWARDS25519: ["ED25519_SHA_512"],
};

class KmsError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

function keyPair(spec: string): KeyObject {
  if (spec === "ECC_NIST_P256") return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  if (spec === "RSA_2048") return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  if (spec === "ECC_NIST_EDWARDS25519") return generateKeyPairSync("ed25519").privateKey;
  throw new KmsError("ValidationException", `KeySpec ${spec} is not supported by the stand-in`);
}

const spkiOf = (k: KeyObject): Buffer => createPublicKey(k).export({ format: "der", type: "spki" });
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (v: unknown, field: string): Buffer => {
  if (typeof v !== "string" || v === "") throw new KmsError("ValidationException", `${field} is required`);
  return Buffer.from(v, "base64");
};
const aad = (ctx: unknown): Buffer => {
  const entries = Object.entries((ctx ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1));
  return Buffer.from(JSON.stringify(entries));
};

/** A running stand-in. */
export interface KmsStandin {
  readonly url: string;
  readonly region: string;
  /** Requests served per operation. */
  readonly calls: Record<string, number>;
  /** Makes the next `count` calls of `op` fail with `errorType` (e.g. `ThrottlingException`). */
  failNext(op: string, errorType: string, count?: number): void;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 (random port). */
export async function startKmsStandin(
  options: { region?: string; account?: string } = {},
): Promise<KmsStandin> {
  const region = options.region ?? "us-east-1";
  const account = options.account ?? "111122223333";
  const keys = new Map<string, StandinKey>();
  const aliases = new Map<string, string>();
  const calls: Record<string, number> = {};
  const failures = new Map<string, { type: string; left: number }>();

  const resolve = (ref: unknown): StandinKey => {
    if (typeof ref !== "string" || ref === "") throw new KmsError("ValidationException", "KeyId is required");
    let id = ref;
    const alias = /^(?:arn:aws:kms:[^:]+:\d+:)?(alias\/.+)$/.exec(ref)?.[1];
    if (alias) id = aliases.get(alias) ?? "";
    id = /:key\/(.+)$/.exec(id)?.[1] ?? id;
    const k = keys.get(id);
    if (!k) throw new KmsError("NotFoundException", `Key '${ref}' does not exist`);
    return k;
  };
  const metadata = (k: StandinKey): Json => ({
    AWSAccountId: account,
    KeyId: k.id,
    Arn: k.arn,
    CreationDate: k.created / 1000,
    Enabled: true,
    KeyState: "Enabled",
    Description: k.description,
    KeyUsage: k.usage,
    KeySpec: k.spec,
    CustomerMasterKeySpec: k.spec,
    KeyManager: "CUSTOMER",
    Origin: "AWS_KMS",
    MultiRegion: k.multiRegion,
    ...(k.usage === "SIGN_VERIFY"
      ? { SigningAlgorithms: SIGNING[k.spec] }
      : { EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"] }),
  });
  const signingKey = (ref: unknown, alg: unknown): StandinKey => {
    const k = resolve(ref);
    if (k.usage !== "SIGN_VERIFY" || !k.privateKey)
      throw new KmsError("InvalidKeyUsageException", "KeyUsage of the key is not SIGN_VERIFY");
    if (typeof alg !== "string" || !SIGNING[k.spec]?.includes(alg))
      throw new KmsError(
        "InvalidKeyUsageException",
        `SigningAlgorithm ${String(alg)} is not valid for ${k.spec}`,
      );
    return k;
  };
  const symmetricKey = (ref: unknown): StandinKey => {
    const k = resolve(ref);
    if (k.usage !== "ENCRYPT_DECRYPT" || !k.secret)
      throw new KmsError("InvalidKeyUsageException", "KeyUsage of the key is not ENCRYPT_DECRYPT");
    return k;
  };
  const encrypt = (k: StandinKey, plaintext: Buffer, ctx: unknown): Buffer => {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", k.secret!, iv);
    c.setAAD(aad(ctx));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    const id = Buffer.from(k.id);
    return Buffer.concat([Buffer.from([1, id.length]), id, iv, c.getAuthTag(), ct]);
  };
  const digestInfo = Buffer.from("3031300d060960864801650304020105000420", "hex");

  const ops: Record<string, (req: Json) => Json> = {
    CreateKey: (r) => {
      const spec = String(r.KeySpec ?? "SYMMETRIC_DEFAULT");
      const usage = (r.KeyUsage ?? "ENCRYPT_DECRYPT") as StandinKey["usage"];
      if ((spec === "SYMMETRIC_DEFAULT") !== (usage === "ENCRYPT_DECRYPT"))
        throw new KmsError("ValidationException", `KeyUsage ${usage} is not valid for ${spec}`);
      const multiRegion = r.MultiRegion === true;
      const id = multiRegion ? `mrk-${randomBytes(16).toString("hex")}` : randomUUID();
      const k: StandinKey = {
        id,
        arn: `arn:aws:kms:${region}:${account}:key/${id}`,
        spec,
        usage,
        multiRegion,
        description: String(r.Description ?? ""),
        created: Date.now(),
        ...(spec === "SYMMETRIC_DEFAULT" ? { secret: randomBytes(32) } : { privateKey: keyPair(spec) }),
        policy:
          typeof r.Policy === "string"
            ? r.Policy
            : JSON.stringify({ Version: "2012-10-17", Id: "key-default-1", Statement: [] }),
        replicas: [],
      };
      keys.set(id, k);
      return { KeyMetadata: metadata(k) };
    },
    DescribeKey: (r) => ({ KeyMetadata: metadata(resolve(r.KeyId)) }),
    CreateAlias: (r) => {
      const name = String(r.AliasName ?? "");
      if (!/^alias\/[\w/-]+$/.test(name) || name.startsWith("alias/aws/"))
        throw new KmsError("ValidationException", "AliasName is invalid");
      if (aliases.has(name)) throw new KmsError("AlreadyExistsException", `Alias ${name} already exists`);
      aliases.set(name, resolve(r.TargetKeyId).id);
      return {};
    },
    GetKeyPolicy: (r) => ({ Policy: resolve(r.KeyId).policy, PolicyName: "default" }),
    ReplicateKey: (r) => {
      const k = resolve(r.KeyId);
      if (!k.multiRegion)
        throw new KmsError("UnsupportedOperationException", "Key is not a multi-Region key");
      const target = String(r.ReplicaRegion ?? "");
      if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(target) || target === region)
        throw new KmsError("ValidationException", "ReplicaRegion is invalid");
      k.replicas.push(target);
      const arn = `arn:aws:kms:${target}:${account}:key/${k.id}`;
      return { ReplicaKeyMetadata: { ...metadata(k), Arn: arn }, ReplicaPolicy: r.Policy ?? k.policy };
    },
    GetPublicKey: (r) => {
      const k = resolve(r.KeyId);
      if (!k.privateKey) throw new KmsError("UnsupportedOperationException", "Key is symmetric");
      return {
        KeyId: k.arn,
        PublicKey: b64(spkiOf(k.privateKey)),
        KeySpec: k.spec,
        CustomerMasterKeySpec: k.spec,
        KeyUsage: k.usage,
        SigningAlgorithms: SIGNING[k.spec],
      };
    },
    Sign: (r) => {
      const k = signingKey(r.KeyId, r.SigningAlgorithm);
      const msg = unb64(r.Message, "Message");
      const type = String(r.MessageType ?? "RAW");
      const alg = String(r.SigningAlgorithm);
      let sig: Buffer;
      if (type === "RAW") {
        if (msg.length > 4096) throw new KmsError("ValidationException", "Message exceeds 4096 bytes");
        if (alg === "ED25519_SHA_512") sig = sign(null, msg, k.privateKey!);
        else if (alg === "RSASSA_PSS_SHA_256")
          sig = sign("sha256", msg, {
            key: k.privateKey!,
            padding: rsa.RSA_PKCS1_PSS_PADDING,
            saltLength: 32,
          });
        else sig = sign("sha256", msg, k.privateKey!);
      } else if (type === "DIGEST") {
        if (msg.length !== 32) throw new KmsError("ValidationException", "Digest length must be 32 bytes");
        if (alg === "ECDSA_SHA_256") sig = Buffer.from(joseToDer(p256SignDigest(k.privateKey!, msg)));
        else if (alg === "RSASSA_PKCS1_V1_5_SHA_256")
          sig = privateEncrypt(
            { key: k.privateKey!, padding: rsa.RSA_PKCS1_PADDING },
            Buffer.concat([digestInfo, msg]),
          );
        else throw new KmsError("ValidationException", `MessageType DIGEST is not valid for ${alg}`);
      } else throw new KmsError("ValidationException", "MessageType is invalid");
      return { KeyId: k.arn, Signature: b64(sig), SigningAlgorithm: alg };
    },
    Verify: (r) => {
      const k = signingKey(r.KeyId, r.SigningAlgorithm);
      const alg = String(r.SigningAlgorithm);
      if (r.MessageType === "DIGEST")
        throw new KmsError("ValidationException", "DIGEST not supported by Verify");
      const ok = verify(
        alg === "ED25519_SHA_512" ? null : "sha256",
        unb64(r.Message, "Message"),
        k.privateKey!,
        unb64(r.Signature, "Signature"),
      );
      if (!ok) throw new KmsError("KMSInvalidSignatureException", "Signature is invalid");
      return { KeyId: k.arn, SignatureValid: true, SigningAlgorithm: alg };
    },
    GenerateDataKeyPair: (r) => {
      const k = symmetricKey(r.KeyId);
      const pair = keyPair(String(r.KeyPairSpec ?? ""));
      const pkcs8 = pair.export({ format: "der", type: "pkcs8" });
      return {
        KeyId: k.arn,
        KeyPairSpec: r.KeyPairSpec,
        PublicKey: b64(spkiOf(pair)),
        PrivateKeyPlaintext: b64(pkcs8),
        PrivateKeyCiphertextBlob: b64(encrypt(k, pkcs8, r.EncryptionContext)),
      };
    },
    Encrypt: (r) => {
      const k = symmetricKey(r.KeyId);
      return {
        KeyId: k.arn,
        CiphertextBlob: b64(encrypt(k, unb64(r.Plaintext, "Plaintext"), r.EncryptionContext)),
      };
    },
    Decrypt: (r) => {
      const blob = unb64(r.CiphertextBlob, "CiphertextBlob");
      const idLen = blob[1] ?? 0;
      if (blob[0] !== 1 || blob.length < 2 + idLen + 28) throw new KmsError("InvalidCiphertextException", "");
      const embedded = blob.subarray(2, 2 + idLen).toString();
      const k = symmetricKey(r.KeyId ?? embedded);
      if (k.id !== embedded)
        throw new KmsError("IncorrectKeyException", "The key ID does not match the ciphertext");
      const iv = blob.subarray(2 + idLen, 14 + idLen);
      const tag = blob.subarray(14 + idLen, 30 + idLen);
      try {
        const d = createDecipheriv("aes-256-gcm", k.secret!, iv);
        d.setAAD(aad(r.EncryptionContext));
        d.setAuthTag(tag);
        const pt = Buffer.concat([d.update(blob.subarray(30 + idLen)), d.final()]);
        return { KeyId: k.arn, Plaintext: b64(pt), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
      } catch {
        throw new KmsError("InvalidCiphertextException", "");
      }
    },
  };

  const readJson = async (req: IncomingMessage): Promise<Json> => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? (JSON.parse(text) as Json) : {};
  };

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: Json, type?: string) => {
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
        ...(type ? { "x-amzn-errortype": type } : {}),
      });
      res.end(JSON.stringify(type ? { __type: type, message: body.message ?? "" } : body));
    };
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = /^TrentService\.(\w+)$/.exec(target)?.[1] ?? "";
      if (
        req.method !== "POST" ||
        !String(req.headers["content-type"]).startsWith("application/x-amz-json-1.1")
      )
        throw new KmsError("SerializationException", "expected a POST of application/x-amz-json-1.1");
      if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "))
        throw new KmsError("MissingAuthenticationTokenException", "Request is missing Authentication Token");
      const handler = ops[op];
      if (!handler) throw new KmsError("UnknownOperationException", `Unknown operation ${target}`);
      calls[op] = (calls[op] ?? 0) + 1;
      const failure = failures.get(op);
      if (failure && failure.left > 0) {
        failure.left -= 1;
        throw new KmsError(failure.type, "Injected failure");
      }
      reply(200, handler(await readJson(req)));
    } catch (e) {
      if (e instanceof KmsError) reply(400, { message: e.message }, e.type);
      else reply(500, { message: "internal" }, "KMSInternalException");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    region,
    calls,
    failNext: (op, type, count = 1) => failures.set(op, { type, left: count }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
