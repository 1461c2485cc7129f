/** What the rest of the service uses of authentication (the GraphQL API reads the caller here). */
export { AuthModule } from './auth.module.js';
export { AuthService } from './auth.service.js';
export { Public, requestOf } from './auth.guard.js';
export { CurrentCaller, CurrentPrincipal } from './caller.decorator.js';
export { callerOf, principalOf, type Principal } from './principal.js';
