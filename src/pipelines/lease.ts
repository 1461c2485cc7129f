/**
 * Which worker runs a pipeline (spec §9: each pipeline in exactly one worker at a time), or a
 * tracker's run (one at a time, whatever triggered it): a lease in Redis, taken with SET NX PX and renewed by its holder well before it expires. A
 * worker that dies stops renewing, the lease expires, and another takes the pipeline over.
 *
 * Each grant also draws a fencing token from a counter that only grows. The runner writes
 * its token into every commit, and a commit is refused once a higher token has committed, so
 * a holder that stalled past its lease (a long GC pause, a frozen VM) cannot write after its
 * successor, even if it never learns it lost the lease.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Takes the lease when free: returns the fencing token, or null. KEYS: lease, fence. ARGV: owner, ttl. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return nil end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token`;

/** Extends the lease if still held with this value. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface LeaseOptions {
  /** Key prefix (default `strata`): `<prefix>:<scope>:<name>:lease` and `:fence`. */
  prefix?: string;
  /** What is leased (default `pipeline`; `tracker`: one run of a tracker at a time). */
  scope?: 'pipeline' | 'tracker';
  /** How long a lease lives without renewal (default 15 s). */
  ttlMs?: number;
  /** Shown as the holder (`host:pid`). */
  owner: string;
}

export interface Lease {
  /** The pipeline's (or tracker's) name. */
  readonly pipeline: string;
  readonly token: number;
  /** Aborted when the lease is lost (a renewal found another holder, or could not reach Redis in time). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export class PipelineLeases {
  private readonly prefix: string;
  private readonly scope: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: LeaseOptions,
  ) {
    this.prefix = options.prefix ?? 'strata';
    this.scope = options.scope ?? 'pipeline';
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  private keys(pipeline: string): [string, string] {
    const key = `${this.prefix}:${this.scope}:${pipeline}`;
    return [`${key}:lease`, `${key}:fence`];
  }

  /** The holder of a pipeline's lease (`owner|token`), if any. */
  async holder(pipeline: string): Promise<{ owner: string; token: number } | undefined> {
    const value = await this.redis.get(this.keys(pipeline)[0]);
    if (!value) return undefined;
    const cut = value.lastIndexOf('|');
    return { owner: value.slice(0, cut).replace(/#[^#]*$/, ''), token: Number(value.slice(cut + 1)) };
  }

  /** Takes the pipeline's lease if nobody holds it, and keeps renewing it until released or lost. */
  async tryAcquire(pipeline: string): Promise<Lease | undefined> {
    const [leaseKey, fenceKey] = this.keys(pipeline);
    // A unique suffix: two runners of one process never mistake each other's lease for their own.
    const owner = `${this.options.owner}#${randomUUID().slice(0, 8)}`;
    const token = (await this.redis.eval(ACQUIRE, 2, leaseKey, fenceKey, owner, this.ttlMs)) as number | null;
    if (token === null) return undefined;
    const value = `${owner}|${token}`;
    const controller = new AbortController();
    let renewedAt = Date.now();
    const renew = async (): Promise<void> => {
      try {
        const ok = (await this.redis.eval(RENEW, 1, leaseKey, value, this.ttlMs)) as number;
        if (ok === 1) renewedAt = Date.now();
        else controller.abort(new Error(`the lease on ${this.scope} ${pipeline} passed to another worker`));
      } catch (e) {
        // Redis unreachable: the lease may lapse; give up before it can have.
        if (Date.now() - renewedAt > this.ttlMs * 0.8)
          controller.abort(
            new Error(`could not renew the lease on ${this.scope} ${pipeline}: ${(e as Error).message}`),
          );
      }
    };
    const timer = setInterval(() => void renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
    timer.unref();
    controller.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    return {
      pipeline,
      token,
      lost: controller.signal,
      release: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, leaseKey, value).catch(() => undefined);
      },
    };
  }
}
