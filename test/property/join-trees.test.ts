/**
 * The compiler against the brute-force oracle of spec §4 (test/reference): random join
 * trees, relationships, data, measures and filters; the generated SQL runs on real DuckDB
 * and PostgreSQL and must give exactly the oracle's rows (so no measure is ever counted
 * twice, no filter multiplies rows, NULL rules hold).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel } from '../../src/core/model/build.js';
import type { Engine } from '../../src/engines/engine.js';
import { collect } from '../../src/engines/engine.js';
import { arbitraryScenario, toCreateTableSql, toInputYaml, toSourceYaml } from '../reference/arbitrary.js';
import { evaluateReference, normalizeValue } from '../reference/evaluate.js';
import type { RefSource, Scenario, Tables, Value } from '../reference/model.js';
import { memoryDuckDb, postgres, uniqueSchema } from '../support/databases.js';

const RUNS = Number(process.env.STRATA_PROPERTY_RUNS ?? 300);

function inSchema(scenario: Scenario, schema: string): Scenario {
  const rename = (table: string) => table.replace(/^t\./, `${schema}.`);
  const sources: RefSource[] = scenario.sources.map((s) => ({ ...s, table: rename(s.table) }));
  const tables: Tables = Object.fromEntries(Object.entries(scenario.tables).map(([k, v]) => [rename(k), v]));
  return { ...scenario, sources, tables };
}

function compile(scenario: Scenario, dialect: 'duckdb' | 'postgres') {
  const files = [
    ...scenario.sources.map((s) => ({
      path: `${s.name}.yaml`,
      kind: 'source' as const,
      text: toSourceYaml(s),
    })),
    { path: 'q.yaml', kind: 'input' as const, text: toInputYaml('q', scenario.input) },
  ];
  const { model, diagnostics } = buildModel(files);
  if (diagnostics.length > 0) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return new Compiler(model).compile('q', { dialect });
}

/** Rows as sorted canonical strings, numbers rounded so float noise does not matter. */
function canonical(rows: Record<string, Value>[], types: Map<string, string>): string[] {
  return rows
    .map((row) =>
      JSON.stringify(
        Object.entries(row).map(([k, v]) => {
          if (typeof v === 'number') return Number(v.toPrecision(9));
          const type = types.get(k);
          return type === 'timestamp' || type === 'date' ? normalizeValue(v, type) : v;
        }),
      ),
    )
    .sort();
}

async function check(
  engine: Engine,
  dialect: 'duckdb' | 'postgres',
  raw: Scenario,
  schema: string,
): Promise<void> {
  const scenario = inSchema(raw, schema);
  for (const source of scenario.sources) {
    for (const statement of toCreateTableSql(source, scenario.tables[source.table] ?? [], dialect))
      await engine.execute(statement);
  }
  const compiled = compile(scenario, dialect);
  const expected = evaluateReference(scenario.sources, scenario.input, scenario.tables);
  const rows = await collect(engine.stream(compiled.sql));
  const actual = rows.map((r) => Object.fromEntries(compiled.columns.map((c, i) => [c.name, r[i] ?? null])));
  const types = new Map(compiled.columns.map((c) => [c.name, c.type]));
  const context = `\n${compiled.sql}\n${toInputYaml('q', scenario.input)}\n${scenario.sources.map(toSourceYaml).join('\n---\n')}\n${JSON.stringify(scenario.tables)}`;
  expect(canonical(actual, types), context).toEqual(canonical(expected, types));
}

describe('random join trees: compiled SQL equals the §4 oracle', () => {
  let duck: Engine;
  let pg: Engine;
  const pgSchema = uniqueSchema('strata_prop');
  beforeAll(async () => {
    duck = await memoryDuckDb();
    pg = await postgres();
  });
  afterAll(async () => {
    await duck.close();
    await pg.execute(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
    await pg.close();
  });

  it('on DuckDB', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario(), (s) => check(duck, 'duckdb', s, 'prop')),
      { numRuns: RUNS },
    );
  });

  it('on PostgreSQL', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario(), (s) => check(pg, 'postgres', s, pgSchema)),
      { numRuns: RUNS },
    );
  });
});
