/**
 * A CloudWatch Logs subscription delivery, as CloudWatch Logs invokes a Lambda destination:
 * `{"awslogs": {"data": base64(gzip(JSON))}}`, the JSON holding the log group, stream, filter names
 * and one log event per line given.
 */
import { gzipSync } from "node:zlib";

export function subscriptionDelivery(
  lines: readonly string[],
  options: { messageType?: string; owner?: string; logGroup?: string } = {},
) {
  const payload = {
    messageType: options.messageType ?? "DATA_MESSAGE",
    owner: options.owner ?? "123456789012",
    logGroup: options.logGroup ?? "/portcullis/test/functions/authz",
    logStream: "2026/11/30/[$LATEST]0123456789abcdef",
    subscriptionFilters: ["portcullis-audit-lines"],
    logEvents: lines.map((message, i) => ({ id: String(36_000_000 + i), timestamp: Date.now(), message })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(payload)).toString("base64") } };
}
