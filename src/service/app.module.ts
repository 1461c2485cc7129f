/**
 * The `strata serve` application. Modules by concern: health (this file's controllers),
 * definitions (ProjectService: the last good project, shared), authentication (AuthModule: a
 * global guard on every route but GET /health and GET /metrics), scheduling (SchedulerService)
 * and the optional in-process worker, metrics (MetricsService: GET /metrics, docs/metrics.md),
 * and the GraphQL API (GraphqlModule: POST /graphql, spec §11), which serves ProjectService's
 * state to the caller AuthModule authenticated, and alerts (AlertsModule: the periodic check of
 * stale trackers, paused pipelines and audits), and the catalog (GET /catalog, /catalog.json).
 */
import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { AlertsModule } from './alerts/alerts.module.js';
import { AuthModule } from './auth/auth.module.js';
import { CatalogController } from './catalog/catalog.controller.js';
import { GraphqlModule } from './graphql/graphql.module.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from './options.js';
import { ProjectService } from './project/project.service.js';
import { RedisService } from './redis.service.js';
import { SchedulerService } from './scheduler/scheduler.service.js';
import { WorkerService } from './worker.service.js';

@Module({})
export class AppModule {
  static forRoot(options: ResolvedServiceOptions): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [AuthModule, GraphqlModule, AlertsModule],
      controllers: [HealthController, MetricsController, CatalogController],
      providers: [
        { provide: SERVICE_OPTIONS, useValue: options },
        RedisService,
        ProjectService,
        SchedulerService,
        MetricsService,
        WorkerService,
      ],
      exports: [SERVICE_OPTIONS, RedisService, ProjectService, SchedulerService, MetricsService],
    };
  }
}
