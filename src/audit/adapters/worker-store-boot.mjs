// Entry of the audit store's worker thread (worker-store.ts): the thread runs this project's
// TypeScript, so it registers tsx first (as `npm start` does for the main thread). Plain JS, so
// that it loads before any loader is in place; tsx resolves from here, whatever the cwd.
import { register } from "tsx/esm/api";

register();
await import("./worker-store-thread.ts");
