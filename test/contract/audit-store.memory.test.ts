import { MemoryAuditStore } from "../../src/audit/adapters/memory.ts";
import { describeAuditStore } from "./audit-store.suite.ts";

describeAuditStore("memory", (clock) => new MemoryAuditStore({ retentionDays: 30, clock }));
