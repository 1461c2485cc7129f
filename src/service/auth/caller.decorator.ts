/** Handler parameters for the authenticated caller: `@CurrentCaller() caller: Caller`. */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { requestOf } from './auth.guard.js';
import { callerOf, principalOf } from './principal.js';

/** The caller of the request, for the compiler's access policies (`compile(input, { caller })`). */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  callerOf(requestOf(context)),
);

/** The whole principal: the caller, how it authenticated and its subject (key id or token `sub`). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  principalOf(requestOf(context)),
);
