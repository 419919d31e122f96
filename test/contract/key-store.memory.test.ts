import { MemoryKeyStore } from "../../src/keys/adapters/memory.ts";
import { describeKeyStore } from "./key-store.suite.ts";

describeKeyStore("memory", () => new MemoryKeyStore());
