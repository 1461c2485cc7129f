/**
 * The compiler against the brute-force oracle of spec §4 (test/reference): random join
 * trees, relationships, data, measures and filters; the generated SQL runs on real DuckDB
 * PostgreSQL and MariaDB and must give exactly the oracle's rows (so no measure is ever counted
 * twice, no filter multiplies rows, NULL rules hold). Counterexamples found once are kept
 * in regressions/ and replayed every run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../../src/engines/engine.js';
import { arbitraryScenario } from '../reference/arbitrary.js';
import type { Scenario } from '../reference/model.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { check } from './harness.js';

const RUNS = Number(process.env.STRATA_PROPERTY_RUNS ?? 300);
const CHUNKS = 4;
const REGRESSIONS = new URL('./regressions/', import.meta.url);
const regressions = readdirSync(REGRESSIONS)
  .filter((f) => f.endsWith('.json'))
  .map(
    (f) =>
      [
        f.replace('.json', ''),
        JSON.parse(readFileSync(new URL(f, REGRESSIONS), 'utf8')) as Scenario,
      ] as const,
  );

describe('random join trees: compiled SQL equals the §4 oracle', () => {
  let duck: Engine;
  let pg: Engine;
  let maria: Engine;
  const pgSchema = uniqueSchema('strata_prop');
  const mariaSchema = uniqueSchema('strata_prop');
  beforeAll(async () => {
    duck = await memoryDuckDb();
    pg = await postgres();
    maria = await mysql();
  });
  afterAll(async () => {
    await duck.close();
    await pg.execute(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
    await pg.close();
    await maria.execute(`DROP DATABASE IF EXISTS ${mariaSchema}`);
    await maria.close();
  });

  it.each(regressions)('regression %s on DuckDB, PostgreSQL and MariaDB', async (_name, scenario) => {
    await check(duck, 'duckdb', scenario, 'prop');
    await check(pg, 'postgres', scenario, pgSchema);
    await check(maria, 'mysql', scenario, mariaSchema);
  });

  // The runs go in chunks, each drawing its own scenarios: the same number of scenarios per
  // engine, and each test far from its timeout on a busy machine (MariaDB took over 60 s for
  // 300 in one test while another process held the other core).
  const chunks = Array.from({ length: CHUNKS }, (_, i) => [
    `${i + 1}/${CHUNKS}`,
    Math.floor(RUNS / CHUNKS) + (i < RUNS % CHUNKS ? 1 : 0),
  ]) as [string, number][];

  it.each(chunks)('on DuckDB, runs %s', async (_chunk, numRuns) => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario(), (s) => check(duck, 'duckdb', s, 'prop')),
      { numRuns },
    );
  });

  it.each(chunks)('on PostgreSQL, runs %s', async (_chunk, numRuns) => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario(), (s) => check(pg, 'postgres', s, pgSchema)),
      { numRuns },
    );
  });

  it.each(chunks)('on MariaDB, runs %s', async (_chunk, numRuns) => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario(), (s) => check(maria, 'mysql', s, mariaSchema)),
      { numRuns },
    );
  });
});
