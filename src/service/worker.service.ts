/** `strata serve --with-worker`: a tracker worker in the service's process (one process on a laptop). */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { startWorker, type StrataWorker } from '../trackers/worker.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from './options.js';

export type WorkerState = 'off' | 'starting' | 'running' | 'failed';

@Injectable()
export class WorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private starting: Promise<StrataWorker | undefined> | undefined;
  private stateNow: WorkerState = 'off';

  constructor(@Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions) {}

  get state(): WorkerState {
    return this.stateNow;
  }

  /** The running worker, once started (undefined without --with-worker). */
  async worker(): Promise<StrataWorker | undefined> {
    return this.starting;
  }

  onApplicationBootstrap(): void {
    if (!this.options.withWorker) return;
    this.stateNow = 'starting';
    // Not awaited: with Redis down the worker waits for it, and the service still answers /health.
    this.starting = startWorker({
      ...this.options.worker,
      projectDir: this.options.projectDir,
      redis: this.options.redisUrl,
      prefix: this.options.prefix,
      ...(this.options.engine ? { engine: this.options.engine } : {}),
      logger: this.options.logger,
    }).then(
      (worker) => {
        this.stateNow = 'running';
        return worker;
      },
      (e: Error) => {
        this.stateNow = 'failed';
        this.options.logger.error({ error: e.message }, 'the in-process worker did not start');
        return undefined;
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = await this.starting;
    await worker?.close();
    this.stateNow = 'off';
  }
}
