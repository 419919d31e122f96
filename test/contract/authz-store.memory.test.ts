import { MemoryAuthzStore } from "../../src/authz/adapters/memory.ts";
import { describeAuthzStore } from "./authz-store.suite.ts";

describeAuthzStore("memory", () => new MemoryAuthzStore());
