/** The service's own Redis connection, for health checks: fails fast instead of queueing commands. */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from './options.js';

export type RedisState = 'up' | 'down';

@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client: Redis;
  private lastState: RedisState | undefined;

  constructor(@Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions) {
    this.client = new Redis(options.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: () => 1000,
    });
    // Reconnects are logged once per transition (see ping), not once per attempt.
    this.client.on('error', () => undefined);
  }

  /** PING within `timeoutMs`; logs when the state changes. */
  async ping(timeoutMs = 1000): Promise<RedisState> {
    let timer: NodeJS.Timeout | undefined;
    let onReady: (() => void) | undefined;
    const timeout = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)),
    );
    // While (re)connecting, wait for the connection within the same time limit.
    const ready =
      this.client.status === 'ready'
        ? Promise.resolve()
        : new Promise<void>((done) => this.client.once('ready', (onReady = done)));
    let state: RedisState;
    try {
      state =
        (await Promise.race([ready.then(() => this.client.ping()), timeout])) === 'PONG' ? 'up' : 'down';
    } catch {
      state = 'down';
    } finally {
      clearTimeout(timer);
      if (onReady) this.client.off('ready', onReady);
    }
    if (state !== this.lastState) {
      if (state === 'down')
        this.options.logger.warn(
          { component: 'redis' },
          'Redis is down: schedules are applied again once it is back',
        );
      else if (this.lastState) this.options.logger.info({ component: 'redis' }, 'Redis is up again');
      this.lastState = state;
    }
    return state;
  }

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}
