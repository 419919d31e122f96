/** Users per tenant: the public surface of the module (adapters are imported by the composition root). */
export { userJson, userRoutes } from "./http.ts";
export { emailKeyOf, type User } from "./model.ts";
export { DEFAULT_SCRYPT, hashPassword, type ScryptParams, verifyPassword } from "./password.ts";
export type { UserFilter, UserStore } from "./ports.ts";
export { type UserInput, UserService, type UserServiceDeps } from "./service.ts";
