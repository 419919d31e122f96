import { MemoryTenantStore } from "../../src/tenants/adapters/memory.ts";
import { describeTenantStore } from "./tenant-store.suite.ts";

describeTenantStore("memory", () => new MemoryTenantStore());
