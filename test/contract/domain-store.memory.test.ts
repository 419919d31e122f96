import { MemoryTenantDomainStore } from "../../src/tenants/adapters/domains-memory.ts";
import { describeDomainStore } from "./domain-store.suite.ts";

describeDomainStore("memory", () => new MemoryTenantDomainStore());
