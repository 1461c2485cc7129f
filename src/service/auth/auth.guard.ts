/**
 * The global guard: every route needs a credential, except those marked `@Public()` (GET
 * /health). The authenticated principal is attached to the request (see principal.ts).
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
import { attachPrincipal, principalOf } from './principal.js';

const PUBLIC_ROUTE = 'strata:public-route';

/** Marks a route (or a controller) as open to anyone: only GET /health should be. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The HTTP request behind a handler: Nest's own for controllers; for GraphQL resolvers, the
 * `req` that the GraphQL context conventionally carries (`context: ({ req }) => ({ req })`).
 */
export function requestOf(context: ExecutionContext): AuthRequest & object {
  if (context.getType() === 'http') return context.switchToHttp().getRequest<AuthRequest & object>();
  const graphqlContext: unknown = context.getArgs()[2];
  const request = (graphqlContext as { req?: AuthRequest & object } | undefined)?.req;
  if (!request?.headers)
    throw new Error(`no HTTP request in this ${context.getType()} context to authenticate`);
  return request;
}

function responseOf(context: ExecutionContext): Partial<Pick<ServerResponse, 'setHeader'>> | undefined {
  if (context.getType() === 'http') return context.switchToHttp().getResponse<ServerResponse>();
  return (context.getArgs()[2] as { res?: ServerResponse } | undefined)?.res;
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
    // Several resolvers of one GraphQL request: authenticated once.
    if (principalOf(request)) return true;
    const outcome = await this.auth.authenticate(request);
    if ('ok' in outcome) refuse(context, outcome);
    attachPrincipal(request, outcome);
    return true;
  }
}

/** 401 with a Bearer challenge (RFC 6750), or 503; the JSON body says why in fixed words. */
function refuse(context: ExecutionContext, refusal: AuthFailure): never {
  const { status } = FAILURES[refusal.reason];
  if (status === 401) responseOf(context)?.setHeader?.('WWW-Authenticate', challenge(refusal.reason));
  throw new HttpException(failureBody(refusal.reason), status);
}
