/**
 * `GET /auth/whoami`: the caller the service sees for the credential sent (roles, attributes,
 * key id or token subject). Lets an operator check a JWT claim mapping or an API key entry
 * without running a query; it never echoes the credential.
 */
import { Controller, Get } from '@nestjs/common';
import type { Caller } from '../../core/access/policy.js';
import { CurrentPrincipal } from './caller.decorator.js';
import type { Principal } from './principal.js';

export interface WhoAmI {
  method: Principal['method'];
  subject: string;
  roles: Caller['roles'];
  attributes: Caller['attributes'];
}

@Controller('auth')
export class AuthController {
  @Get('whoami')
  whoami(@CurrentPrincipal() principal: Principal): WhoAmI {
    return { method: principal.method, subject: principal.subject, ...principal.caller };
  }
}
