import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../../src/engines/engine.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { CASES } from './cases.js';
import { loadFixtureData, runCase } from './harness.js';

const engines: [string, () => Promise<Engine>][] = [
  ['duckdb', memoryDuckDb],
  ['postgres', postgres],
  ['mysql', mysql],
];

describe.each(engines)('§4 semantics on %s', (name, open) => {
  let engine: Engine;
  const schema = uniqueSchema('sem');
  beforeAll(async () => {
    engine = await open();
    await loadFixtureData(engine, schema);
  });
  afterAll(async () => {
    if (name === 'postgres') await engine.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    if (name === 'mysql') await engine.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await engine.close();
  });
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => runCase(engine, schema, c));
});
