/** Engines and dialects are listed once, and every command checks them against that list. */
import { describe, expect, it } from 'vitest';
import { dialectOf } from '../../src/cli/commands.js';
import { DIALECTS, ENGINE_DIALECTS, ENGINES, ProjectConfig } from '../../src/core/definitions/schema.js';
import { engineName, UsageError } from '../../src/engines/open-engine.js';

describe('engine and dialect choices', () => {
  it('accepts each engine from a flag or strata.yaml, each with a dialect', () => {
    for (const engine of ENGINES) {
      expect(engineName({ engine }, {})).toBe(engine);
      expect(engineName({}, ProjectConfig.parse({ engine }))).toBe(engine);
      expect(DIALECTS).toContain(ENGINE_DIALECTS[engine]);
    }
    expect(engineName({}, {})).toBe('duckdb');
  });

  it('refuses an unknown engine or dialect as bad usage, naming the choices', () => {
    expect(() => engineName({ engine: 'snowflake' }, {})).toThrow(UsageError);
    expect(() => engineName({ engine: 'snowflake' }, {})).toThrow(`expected ${ENGINES.join(', ')}`);
    expect(() => dialectOf('snowflake', 'trino')).toThrow(UsageError);
    expect(() => dialectOf('snowflake', 'trino')).toThrow(`expected ${DIALECTS.join(', ')}`);
    expect(ProjectConfig.safeParse({ engine: 'snowflake' }).success).toBe(false);
  });
});
