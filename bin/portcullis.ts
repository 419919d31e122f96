#!/usr/bin/env node
/**
 * Portcullis command line.
 *   portcullis serve                     the local platform (npm start)
 *   portcullis conformance <paths...>    OpenFGA-format conformance YAML (npm run conformance)
 *   portcullis keys rotate|list|retire   signing key operations (npm run keys)
 */
import { startLocalPlatform } from "../functions/_shared/platform.ts";

// Lambda runs Node 22; on a laptop with Node 20 the AWS SDK's notice about it is only noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

async function serve(): Promise<void> {
  const generated = !process.env.PORTCULLIS_ADMIN_KEY;
  const p = await startLocalPlatform();
  const c = p.container.config;
  const lines = [
    "",
    `Portcullis ${c.store === "memory" ? "(memory store)" : `(DynamoDB ${c.dynamodbEndpoint ?? "AWS"}, tables ${c.tablePrefix}-*)`} listening on ${p.url}`,
    `  issuer     ${c.issuer}`,
    `  health     curl ${p.url}/healthz`,
    `  admin key  ${generated ? `${p.adminKey}   (generated; set PORTCULLIS_ADMIN_KEY to choose one)` : "from PORTCULLIS_ADMIN_KEY"}`,
    `  tenants    curl -H "Authorization: Bearer $ADMIN_KEY" -H 'content-type: application/json' -d '{"name":"acme"}' ${p.url}/admin/v1/tenants`,
  ];
  if (p.demo) lines.push(`  demo       tenant ${p.demo.tenantId}, API key ${p.demo.apiKey}`);
  lines.push("Press Ctrl+C to stop.", "");
  process.stderr.write(lines.join("\n"));
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`\n${signal}: shutting down\n`);
    await p.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd ?? "serve") {
    case "serve":
      await serve();
      return -1;
    case "conformance": {
      const { runConformanceCli } = await import("../src/authz/conformance/cli.ts");
      return runConformanceCli(rest);
    }
    case "keys": {
      const { runKeysCli } = await import("../src/keys/cli.ts");
      return runKeysCli(rest);
    }
    default:
      process.stderr.write(
        `unknown command: ${cmd}\nusage: portcullis serve | conformance <file-or-dir>... [--store memory|dynamodb] | keys rotate|list|retire\n`,
      );
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
