/** Sign-in sessions and state: the public surface of the module. */
export { ConsentService, type ConsentServiceDeps } from "./consents.ts";
export { consentJson, consentRoutes, sessionJson, sessionRoutes } from "./http.ts";
export type * from "./model.ts";
export type * from "./ports.ts";
export { SessionService, type SessionServiceDeps, type SessionState } from "./service.ts";
export {
  ACCOUNT_LIMITS,
  IP_LIMITS,
  type LoginEvent,
  LoginThrottle,
  lockSeconds,
  type ThrottleLimits,
} from "./throttle.ts";
