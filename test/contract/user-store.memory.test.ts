import { MemoryUserStore } from "../../src/users/adapters/memory.ts";
import { describeUserStore } from "./user-store.suite.ts";

describeUserStore("memory", () => new MemoryUserStore());
