import { MemorySignInStore } from "../../src/sessions/adapters/memory.ts";
import { describeSignInStore } from "./session-store.suite.ts";

describeSignInStore("memory", () => new MemorySignInStore());
