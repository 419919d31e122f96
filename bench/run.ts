/**
 * `npm run bench`: every benchmark, one after the other, each printing its own figures.
 *   npm run bench                 all, full size
 *   npm run bench -- --quick      all, small sizes (a smoke run)
 *   npm run bench -- authz        only the named ones (authz, authz-http, oauth, audit)
 * Run on an otherwise idle machine: the figures are wall-clock and CPU-time based.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));

const benches: Record<string, () => Promise<void>> = {
  authz: async () => (await import("./authz-check.ts")).run({ quick }),
  "authz-http": async () => (await import("./authz-http.ts")).run({ quick }),
  oauth: async () => (await import("./oauth-tokens.ts")).run(quick ? ["--quick"] : []),
  audit: async () => (await import("./audit-overhead.ts")).run({ quick }),
};

for (const [name, bench] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  process.stdout.write(`\n=== ${name} ===\n`);
  await bench();
}
