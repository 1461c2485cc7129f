/**
 * Access policies against a reference computed without the compiler (issue 8): random join
 * trees, data and inputs (test/reference), random row filters on random sources, and a
 * random caller per source (filtered, unrestricted, both, or neither). The compiled query,
 * run on DuckDB and PostgreSQL, must give exactly what the §4 oracle gives on the rows each
 * source shows the caller (its rows, or for a CDC source its latest rows, that pass the
 * filter); and a query is refused exactly when it reads a source the caller may not read.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/core/access/policy.js';
import { StrataError } from '../../src/core/diagnostics.js';
import type { Engine } from '../../src/engines/engine.js';
import { collect } from '../../src/engines/engine.js';
import { arbitraryScenario, toCreateTableSql, toInputYaml, toSourceYaml } from '../reference/arbitrary.js';
import { evaluateReference, readSourceRows, sourcesRead } from '../reference/evaluate.js';
import type { RefSource, Scenario, Tables, Value } from '../reference/model.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { canonical, compile, inSchema } from './harness.js';

const RUNS = Number(process.env.STRATA_PROPERTY_RUNS ?? 150);
/**
 * Measures at another grain (valueFrom: { measure }, per) in the inputs (on by default;
 * STRATA_ACCESS_GRAIN=0 leaves them out): a query reads the measure's own source and a groupBy
 * source, so a caller who may not read them is refused (the compiler once let a caller who may
 * not read `orders` compile `{ field: orders.n, per: customer, op: gt, value: 1 }`).
 */
const GRAIN = process.env.STRATA_ACCESS_GRAIN !== '0';

/** How the caller stands to one protected source. */
type Standing = 'filtered' | 'unrestricted' | 'both' | 'none';

interface RowPolicy {
  field: string;
  value: Value;
  standing: Standing;
}

type Policies = Map<string, RowPolicy>;

const FILTERABLE = new Set(['string', 'integer', 'boolean']);

/** A row filter `field = {user.<attr>}` on some sources, and the caller's standing toward each. */
function arbitraryPolicies(scenario: Scenario): fc.Arbitrary<Policies> {
  const choices = scenario.sources.map((source) => {
    const fields = source.fields.filter((f) => FILTERABLE.has(f.type));
    if (fields.length === 0) return fc.constant(undefined);
    // Values of every raw row, older CDC versions included: a row filter that only an older
    // version passes must hide the key.
    const values = (scenario.tables[source.table] ?? [])
      .flatMap((row) => fields.map((f) => [f.name, row[f.name] ?? null] as const))
      .filter(([, v]) => v !== null);
    return fc.option(
      fc
        .record({
          pick: fc.nat(),
          standing: fc.constantFrom<Standing>('filtered', 'filtered', 'unrestricted', 'both', 'none'),
          absent: fc.boolean(),
        })
        .map(({ pick, standing, absent }): RowPolicy => {
          if (values.length > 0 && !absent) {
            const [field, value] = values[pick % values.length]!;
            return { field, value, standing };
          }
          // A value no row holds: the caller then sees none of the source's rows.
          const field = fields[pick % fields.length]!;
          const value =
            field.type === 'string' ? 'absent-value' : field.type === 'integer' ? 987_654 : pick % 2 === 0;
          return { field: field.name, value, standing };
        }),
      { freq: 2 },
    );
  });
  return fc.tuple(...choices).map((picked) => {
    const policies: Policies = new Map();
    picked.forEach((p, i) => {
      if (p) policies.set(scenario.sources[i]!.name, p);
    });
    return policies;
  });
}

const attribute = (source: string) => `a_${source}`;

function policyYaml(policies: Policies) {
  return (source: RefSource): string => {
    const policy = policies.get(source.name);
    if (!policy) return '';
    return `access:\n  roles: [full_${source.name}]\n  rowFilters:\n    - { role: only_${source.name}, filter: "${policy.field} = {user.${attribute(source.name)}}" }\n`;
  };
}

function callerOf(policies: Policies): Caller {
  const roles: string[] = [];
  const attributes: Record<string, string | number | boolean> = {};
  for (const [source, p] of policies) {
    if (p.standing === 'filtered' || p.standing === 'both') roles.push(`only_${source}`);
    if (p.standing === 'unrestricted' || p.standing === 'both') roles.push(`full_${source}`);
    if (p.value !== null) attributes[attribute(source)] = p.value;
  }
  return { roles, attributes };
}

/** The rows each source shows the caller, as tables the oracle reads (CDC: latest rows, filtered). */
function visibleTables(scenario: Scenario, policies: Policies): Tables {
  const tables: Tables = { ...scenario.tables };
  for (const source of scenario.sources) {
    const policy = policies.get(source.name);
    if (!policy || policy.standing !== 'filtered') continue;
    tables[source.table] = readSourceRows(source, scenario.tables)
      .map((r) => r.values)
      .filter((row) => row[policy.field] !== null && row[policy.field] === policy.value);
  }
  return tables;
}

async function check(
  engine: Engine,
  dialect: 'duckdb' | 'postgres' | 'mysql',
  raw: Scenario,
  policies: Policies,
  schema: string,
): Promise<void> {
  const scenario = inSchema(raw, schema);
  for (const source of scenario.sources)
    for (const statement of toCreateTableSql(source, scenario.tables[source.table] ?? [], dialect))
      await engine.execute(statement);
  const read = sourcesRead(scenario.sources, scenario.input);
  const denied = [...read].filter((s) => policies.get(s)?.standing === 'none');
  const context = () =>
    `\n${toInputYaml('q', scenario.input)}\n${scenario.sources.map((s) => toSourceYaml(s, scenario.sources) + policyYaml(policies)(s)).join('\n---\n')}\n${JSON.stringify(callerOf(policies))}\n${JSON.stringify(scenario.tables)}`;
  let compiled;
  try {
    compiled = compile(scenario, dialect, { sourceSuffix: policyYaml(policies), caller: callerOf(policies) });
  } catch (e) {
    if (!(e instanceof StrataError)) throw e;
    expect(
      denied.length,
      `refused though every source is readable: ${e.message}${context()}`,
    ).toBeGreaterThan(0);
    expect(
      e.diagnostics.every((d) => d.code === 'access_denied'),
      e.message,
    ).toBe(true);
    return;
  }
  expect(denied, `a source the caller may not read was read${context()}`).toEqual([]);
  const expected = evaluateReference(scenario.sources, scenario.input, visibleTables(scenario, policies));
  const rows = await collect(engine.stream(compiled.sql));
  const actual = rows.map((r) => Object.fromEntries(compiled.columns.map((c, i) => [c.name, r[i] ?? null])));
  const types = new Map(compiled.columns.map((c) => [c.name, c.type]));
  expect(canonical(actual, types), `${compiled.sql}${context()}`).toEqual(canonical(expected, types));
}

const scenarioWithPolicies = arbitraryScenario({ grain: GRAIN }).chain((scenario) =>
  arbitraryPolicies(scenario).map((policies) => ({ scenario, policies })),
);

describe('row filters and source access against a reference without the compiler', () => {
  let duck: Engine;
  let pg: Engine;
  let maria: Engine;
  const pgSchema = uniqueSchema('strata_acl_prop');
  const mariaSchema = uniqueSchema('strata_acl_prop');
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

  it('on DuckDB', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioWithPolicies, ({ scenario, policies }) =>
        check(duck, 'duckdb', scenario, policies, 'prop'),
      ),
      { numRuns: RUNS },
    );
  });

  it('on PostgreSQL', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioWithPolicies, ({ scenario, policies }) =>
        check(pg, 'postgres', scenario, policies, pgSchema),
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('on MariaDB', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioWithPolicies, ({ scenario, policies }) =>
        check(maria, 'mysql', scenario, policies, mariaSchema),
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});
