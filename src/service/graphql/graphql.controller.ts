/** `POST /graphql`: GraphQL over HTTP for authenticated callers (the global auth guard runs first). */
import type { ServerResponse } from 'node:http';
import { Body, Controller, Inject, Post, Res } from '@nestjs/common';
import { CurrentPrincipal } from '../auth/caller.decorator.js';
import type { Principal } from '../auth/principal.js';
import { GraphqlService } from './graphql.service.js';

@Controller()
export class GraphqlController {
  constructor(@Inject(GraphqlService) private readonly graphql: GraphqlService) {}

  /** The status depends on the outcome (400, 403, 429...), so the response is written here. */
  @Post('graphql')
  async handle(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res() response: ServerResponse,
  ): Promise<void> {
    // An API key id and a token's subject may be the same text: the method tells them apart.
    const outcome = await this.graphql.handle(body, {
      caller: principal.caller,
      subject: `${principal.method}:${principal.subject}`,
    });
    response.statusCode = outcome.status;
    for (const [name, value] of Object.entries(outcome.headers ?? {})) response.setHeader(name, value);
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.end(JSON.stringify(outcome.body));
  }
}
