/**
 * Location of the shared OpenFGA conformance data: `../shared/conformance/openfga/` relative to the
 * repository root. It is read in place (never copied into the repo or bundled).
 */
import { fileURLToPath } from "node:url";

export const OPENFGA_CONFORMANCE_DIR = fileURLToPath(
  new URL("../../../shared/conformance/openfga/", import.meta.url),
);
