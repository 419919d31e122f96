import { MemoryOAuthStore } from "../../src/oauth/adapters/memory.ts";
import { describeOAuthStore } from "./client-store.suite.ts";

describeOAuthStore("memory", () => new MemoryOAuthStore());
