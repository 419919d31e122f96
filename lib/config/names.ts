/**
 * Physical names and stack ids derived from the stage. Deterministic names let every region find
 * its tables, bus, key alias and admin secret without cross-region references.
 */
import type { PortcullisConfig } from "./stage.ts";

/** The stacks of one region, in deployment order. */
export type StackKind = "Data" | "Keys" | "Audit" | "Api";

/** Stack id and CloudFormation name, e.g. `Portcullis-dev-Api-eu-west-1`. */
export const stackName = (config: PortcullisConfig, kind: StackKind, region: string): string =>
  `Portcullis-${config.stage}-${kind}-${region}`;

/** Alias of the multi-region signing key (same in every region). */
export const signingKeyAlias = (config: PortcullisConfig): string =>
  `alias/portcullis-${config.stage}-signing`;

/** Name of the platform admin key secret (replicated to every region under the same name). */
export const adminKeySecretName = (config: PortcullisConfig): string =>
  `portcullis/${config.stage}/admin-key`;

/** Name of the audit EventBridge bus in each region. */
export const eventBusName = (config: PortcullisConfig): string => `portcullis-${config.stage}-audit`;

/** Name of the HTTP API in each region. */
export const httpApiName = (config: PortcullisConfig): string => `portcullis-${config.stage}`;
