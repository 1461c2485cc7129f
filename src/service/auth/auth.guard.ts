/**
 * The global guard: every route needs a credential, except those marked `@Public()` (GET
 * /health, and GET /metrics with its own optional token). The authenticated principal is
 * attached to the request (see principal.ts).
 */
import type { ServerResponse } from 'node:http';
import {
  HttpException,
  Inject,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthService, type AuthRequest } from './auth.service.js';
import { challenge, failureBody, FAILURES, type AuthFailure } from './failures.js';
import { attachPrincipal } from './principal.js';

/** The metadata key `@Public()` sets (exported for tests that list the open routes). */
export const PUBLIC_ROUTE = 'strata:public-route';

/** Marks a route as open to anyone: only GET /health, and GET /metrics (which checks its own token). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The HTTP request behind a handler. The service's routes are plain controllers (POST /graphql
 * included: it runs graphql-js itself); any other kind of handler would be a way around the
 * guard, so it is refused rather than guessed at.
 */
export function requestOf(context: ExecutionContext): AuthRequest & object {
  if (context.getType() !== 'http')
    throw new Error(`cannot authenticate a ${context.getType()} handler: only HTTP routes are served`);
  return context.switchToHttp().getRequest<AuthRequest & object>();
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthService) private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const request = requestOf(context);
    const outcome = await this.auth.authenticate(request);
    if ('ok' in outcome) refuse(context, outcome);
    attachPrincipal(request, outcome);
    return true;
  }
}

/** 401 with a Bearer challenge (RFC 6750), or 503; the JSON body says why in fixed words. */
function refuse(context: ExecutionContext, refusal: AuthFailure): never {
  const { status } = FAILURES[refusal.reason];
  if (status === 401)
    context
      .switchToHttp()
      .getResponse<ServerResponse>()
      .setHeader('WWW-Authenticate', challenge(refusal.reason));
  throw new HttpException(failureBody(refusal.reason), status);
}
