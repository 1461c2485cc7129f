/**
 * Keeps several requests in flight so the rate limiter, not the round-trip time, sets the pace:
 * with 5 requests/s allowed and ~300 ms per request, one request at a time would use a third
 * of the allowance. `submit` waits only when `concurrency` tasks are already running (the
 * limiter decides when each actually goes out). After the first failure nothing new starts;
 * `drain` waits for the running tasks and rethrows that failure.
 */
export class Pipeline {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly concurrency: number) {}

  async submit(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.concurrency && !this.failure) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
    if (this.failure) throw this.failure.error;
  }
}
