import type { Knex } from 'knex';

/**
 * knex prints its own warnings (with stack traces) on stdout, e.g. "Acquire connection error"
 * before the same error is thrown: the thrown error is reported, once, by whoever catches it.
 */
export const QUIET_KNEX_LOG: Knex.Config['log'] = {
  warn: () => undefined,
  error: () => undefined,
  deprecate: () => undefined,
  debug: () => undefined,
};
