/** Filesystem anchors for bundling: the repository root and its lock file. */
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (this file is `lib/config/paths.ts`). */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Lock file NodejsFunction uses to find the project root for bundling. */
export const LOCK_FILE: string = fileURLToPath(new URL("../../package-lock.json", import.meta.url));
