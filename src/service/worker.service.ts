/** `strata serve --with-worker`: a tracker worker in the service's process (one process on a laptop). */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createWorker, type StrataWorker } from '../trackers/worker.js';
import { MetricsService } from './metrics/metrics.service.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from './options.js';

export type WorkerState = 'off' | 'starting' | 'running' | 'failed';

@Injectable()
export class WorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private handle: StrataWorker | undefined;
  private stateNow: WorkerState = 'off';

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  get state(): WorkerState {
    return this.stateNow;
  }

  /** The worker (undefined without --with-worker); it may still be waiting for Redis. */
  worker(): StrataWorker | undefined {
    return this.handle;
  }

  onApplicationBootstrap(): void {
    if (!this.options.withWorker) return;
    this.stateNow = 'starting';
    // Not awaited: with Redis down the worker waits for it, and the service still answers /health.
    this.handle = createWorker({
      ...this.options.worker,
      projectDir: this.options.projectDir,
      redis: this.options.redisUrl,
      prefix: this.options.prefix,
      ...(this.options.engine ? { engine: this.options.engine } : {}),
      logger: this.options.logger,
      // Its runs are counted on the service's /metrics.
      metrics: this.metrics.metrics,
    });
    this.handle.ready.then(
      () => {
        if (this.stateNow === 'starting') this.stateNow = 'running';
      },
      (e: Error) => {
        if (this.stateNow !== 'starting') return;
        this.stateNow = 'failed';
        this.options.logger.error({ error: e.message }, 'the in-process worker did not start');
      },
    );
  }

  /** Hands the running jobs back to the queue now (a second signal while closing). */
  handBack(): void {
    void this.handle?.close(true);
  }

  /** Closes the worker, started or still waiting for Redis (bounded: see StrataWorker.close). */
  async onApplicationShutdown(): Promise<void> {
    this.stateNow = 'off';
    await this.handle?.close();
  }
}
