/**
 * The `strata serve` application. Modules by concern: health (this file's controllers),
 * definitions (ProjectService: the last good project, shared), scheduling (SchedulerService)
 * and the optional in-process worker. The GraphQL API (spec §11) plugs in as another module
 * under src/service/graphql/ that imports ProjectService's state.
 */
import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { HealthController } from './health/health.controller.js';
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
      controllers: [HealthController],
      providers: [
        { provide: SERVICE_OPTIONS, useValue: options },
        RedisService,
        ProjectService,
        SchedulerService,
        WorkerService,
      ],
      exports: [SERVICE_OPTIONS, RedisService, ProjectService, SchedulerService],
    };
  }
}
