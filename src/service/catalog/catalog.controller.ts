/**
 * The catalog of `strata serve`: GET /catalog (the page) and GET /catalog.json (its data).
 * Behind the global auth guard like every route but /health and /metrics; each caller gets
 * the catalog as their roles see it (the GraphQL visibility rules).
 */
import type { ServerResponse } from 'node:http';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { projectCatalog } from '../../catalog/catalog.js';
import { catalogPage } from '../../catalog/page.js';
import type { CatalogDocument } from '../../core/catalog.js';
import { ENGINE_DIALECTS } from '../../core/definitions/schema.js';
import { engineName } from '../../engines/open-engine.js';
import { CurrentPrincipal } from '../auth/caller.decorator.js';
import type { Principal } from '../auth/principal.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';
import { ProjectService } from '../project/project.service.js';

@Controller()
export class CatalogController {
  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(ProjectService) private readonly projects: ProjectService,
  ) {}

  @Get('catalog')
  async page(@CurrentPrincipal() principal: Principal, @Res() response: ServerResponse): Promise<void> {
    const doc = await this.catalog(principal, response);
    if (doc) send(response, 'text/html; charset=utf-8', catalogPage(doc));
  }

  @Get('catalog.json')
  async json(@CurrentPrincipal() principal: Principal, @Res() response: ServerResponse): Promise<void> {
    const doc = await this.catalog(principal, response);
    if (doc) send(response, 'application/json; charset=utf-8', JSON.stringify(doc));
  }

  /** The caller's catalog, or undefined after answering 503 when the project never loaded. */
  private async catalog(
    principal: Principal,
    response: ServerResponse,
  ): Promise<CatalogDocument | undefined> {
    const state = this.projects.current;
    if (!state) {
      response.statusCode = 503;
      send(response, 'text/plain; charset=utf-8', 'the project has no valid definitions yet\n');
      return undefined;
    }
    const config = state.project.config;
    return projectCatalog({
      projectDir: this.options.projectDir,
      project: state.project,
      compiler: state.compiler,
      dialect: config.dialect ?? ENGINE_DIALECTS[engineName(this.options.engine ?? {}, config)],
      caller: principal.caller,
    });
  }
}

function send(response: ServerResponse, type: string, body: string): void {
  response.setHeader('Content-Type', type);
  // Per caller: a shared cache must not hand one caller's catalog to another.
  response.setHeader('Cache-Control', 'private, no-store');
  response.end(body);
}
