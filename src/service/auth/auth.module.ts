/**
 * Authentication for `strata serve` (docs/auth.md): API keys and JWTs, checked by a global
 * guard on every route but GET /health and GET /metrics. Handlers read the caller with
 * `callerOf(request)` or `@CurrentCaller()`; `GET /auth/whoami` shows callers who they are to the service.
 * ProjectService and SERVICE_OPTIONS come from the (global) AppModule.
 */
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';

@Module({
  controllers: [AuthController],
  providers: [AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService],
})
export class AuthModule {}
