/**
 * `GET /health`: 200 when Redis answers, 503 when it does not; the body says what the service
 * holds. Open to anyone (load balancers probe it without credentials): it tells counts and
 * states, no names and no data.
 */
import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { Public } from '../auth/auth.guard.js';
import { ProjectService } from '../project/project.service.js';
import { RedisService, type RedisState } from '../redis.service.js';
import { SchedulerService } from '../scheduler/scheduler.service.js';
import { WorkerService, type WorkerState } from '../worker.service.js';

export interface Health {
  status: 'ok' | 'unavailable';
  redis: RedisState;
  /** Trackers in the last good definitions. */
  trackers: number;
  /** Tracker schedules in Redis after the last successful apply. */
  schedules: number;
  /** When the last good definitions were loaded (null: never). */
  lastReload: string | null;
  /** Whether the latest reload was valid; `errors` counts its problems. */
  definitions: 'valid' | 'invalid';
  errors: number;
  worker: WorkerState;
}

@Controller()
export class HealthController {
  constructor(
    @Inject(RedisService) private readonly redis: RedisService,
    @Inject(ProjectService) private readonly project: ProjectService,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
    @Inject(WorkerService) private readonly worker: WorkerService,
  ) {}

  @Get('health')
  @Public()
  async health(): Promise<Health> {
    const redis = await this.redis.ping();
    const current = this.project.current;
    const body: Health = {
      status: redis === 'up' ? 'ok' : 'unavailable',
      redis,
      trackers: current?.project.model.trackers.size ?? 0,
      schedules: this.scheduler.schedules,
      lastReload: current?.loadedAt.toISOString() ?? null,
      definitions: this.project.problems.length > 0 ? 'invalid' : 'valid',
      errors: this.project.problems.length,
      worker: this.worker.state,
    };
    if (redis === 'down') throw new ServiceUnavailableException(body);
    return body;
  }
}
