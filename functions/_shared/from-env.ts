import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { InvocationOutput } from "../../src/shared/stdout.ts";
import { configFromEnv, type PlatformConfig } from "./config.ts";
import { type Container, createContainer } from "./container.ts";

/**
 * The container of a Lambda function: configuration from the environment, the admin key from
 * Secrets Manager, read once per cold start (module scope, top-level await in the entry).
 */
export async function containerFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Container> {
  let config: PlatformConfig = configFromEnv(env, { issuer: "http://localhost" });
  if (!config.adminKey && config.adminKeySecretArn) {
    const sm = new SecretsManagerClient({});
    const out = await sm.send(new GetSecretValueCommand({ SecretId: config.adminKeySecretArn }));
    if (out.SecretString) config = { ...config, adminKey: out.SecretString };
  }
  // One write to standard output per invocation (the audit middleware holds and releases it).
  return createContainer(config, { output: new InvocationOutput() });
}
