/**
 * Who made a request, once the guard has authenticated it. Kept in a WeakMap keyed by the
 * request object rather than on a property of it: nothing a client sends can set it, nothing
 * else can overwrite it by accident, and it goes away with the request.
 */
import type { Caller } from '../../core/access/policy.js';

export interface Principal {
  /** The caller the compiler's access policies are applied to. */
  caller: Caller;
  /** How the request was authenticated. */
  method: 'api_key' | 'jwt';
  /**
   * The API key's id, or the token's `sub` (else `azp`, `client_id`): for logs, audits and
   * per-caller limits, never the credential. A key id and a token subject may be equal: key
   * per-caller state on `method` and `subject` together.
   */
  subject: string;
}

const principals = new WeakMap<object, Principal>();

/** Records who made `request` (the auth guard does this). */
export function attachPrincipal(request: object, principal: Principal): void {
  principals.set(request, principal);
}

/** Who made `request`, or undefined when it was not authenticated (GET /health). */
export function principalOf(request: object): Principal | undefined {
  return principals.get(request);
}

/**
 * The caller of an authenticated request. Throws on a request the guard did not authenticate:
 * that is a route wrongly marked public, and it must not run as anyone.
 */
export function callerOf(request: object): Caller {
  const principal = principals.get(request);
  if (!principal) throw new Error('this request was not authenticated: no caller');
  return principal.caller;
}
