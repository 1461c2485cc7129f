/** Builds and starts the `strata serve` application. */
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DEFAULT_QUEUE_PREFIX } from '../trackers/scheduler.js';
import { defaultLogger } from '../trackers/worker.js';
import { AppModule } from './app.module.js';
import { PinoNestLogger } from './logger.js';
import { DEFAULT_HOST, type ServiceOptions } from './options.js';

export type { ServiceOptions } from './options.js';

/**
 * Starts the service and resolves once it listens: the definitions are loaded, the schedules
 * applied (when Redis is up) and `GET /health` answers. `app.close()` stops it.
 */
export async function createService(options: ServiceOptions): Promise<INestApplication> {
  const logger = options.logger ?? defaultLogger();
  const app = await NestFactory.create(
    AppModule.forRoot({ ...options, logger, prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX }),
    {
      logger: new PinoNestLogger(logger),
      abortOnError: false,
    },
  );
  try {
    await app.listen(options.port, options.host ?? DEFAULT_HOST);
  } catch (e) {
    await app.close();
    throw e;
  }
  return app;
}
