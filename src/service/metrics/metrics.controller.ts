/**
 * `GET /metrics`: Prometheus text format. Open like /health (Prometheus scrapes without API keys
 * or JWTs), unless strata.yaml `metrics: { token: env:NAME }` asks scrapers for a bearer token;
 * the token is read from the current definitions at each scrape, so a change applies on reload.
 * Unlike /health it names trackers and pipelines: exposing `serve` beyond this machine without a
 * token logs a warning (serve-command).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { ProjectConfig } from '../../core/definitions/schema.js';
import { authorizedScrape, metricsToken } from '../../metrics/access.js';
import { readConfig } from '../../project/load-project.js';
import { Public } from '../auth/auth.guard.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService } from '../project/project.service.js';
import { MetricsService } from './metrics.service.js';

@Controller()
export class MetricsController {
  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly project: ProjectService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get('metrics')
  @Public()
  async scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    let token: string | undefined;
    try {
      token = metricsToken(this.config());
    } catch (e) {
      // Fail closed: a token that cannot be read must not open the metrics.
      return reply(response, 503, `metrics.token cannot be used: ${(e as Error).message}\n`);
    }
    if (!authorizedScrape(request.headers.authorization, token)) {
      response.setHeader('WWW-Authenticate', 'Bearer');
      return reply(response, 401, 'a bearer token is required (strata.yaml metrics.token)\n');
    }
    const body = await this.metrics.scrape();
    response.statusCode = 200;
    response.setHeader('Content-Type', this.metrics.metrics.contentType);
    response.setHeader('Cache-Control', 'no-store');
    response.end(body);
  }

  /** The last good definitions' strata.yaml; before any loaded, the file as it is. */
  private config(): ProjectConfig {
    return this.project.current?.project.config ?? readConfig(this.options.projectDir).config;
  }
}

function reply(response: ServerResponse, status: number, text: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.end(text);
}
