/** Shared by the property test and its regressions: run a scenario on an engine and compare with the oracle. */
import { expect } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel } from '../../src/core/model/build.js';
import type { Caller } from '../../src/core/access/policy.js';
import type { Engine } from '../../src/engines/engine.js';
import { collect } from '../../src/engines/engine.js';
import { toCreateTableSql, toInputYaml, toSourceYaml } from '../reference/arbitrary.js';
import { evaluateReference, normalizeValue } from '../reference/evaluate.js';
import type { RefSource, Scenario, Tables, Value } from '../reference/model.js';

export function inSchema(scenario: Scenario, schema: string): Scenario {
  const rename = (table: string) => table.replace(/^t\./, `${schema}.`);
  const sources: RefSource[] = scenario.sources.map((s) => ({ ...s, table: rename(s.table) }));
  const tables: Tables = Object.fromEntries(Object.entries(scenario.tables).map(([k, v]) => [rename(k), v]));
  return { ...scenario, sources, tables };
}

export interface CompileExtras {
  /** YAML appended to a source's definition (access policies). */
  sourceSuffix?: (source: RefSource) => string;
  caller?: Caller;
}

export function compile(
  scenario: Scenario,
  dialect: 'duckdb' | 'postgres' | 'mysql',
  extras: CompileExtras = {},
) {
  const files = [
    ...scenario.sources.map((s) => ({
      path: `${s.name}.yaml`,
      kind: 'source' as const,
      text: toSourceYaml(s, scenario.sources) + (extras.sourceSuffix?.(s) ?? ''),
    })),
    { path: 'q.yaml', kind: 'input' as const, text: toInputYaml('q', scenario.input) },
  ];
  const { model, diagnostics } = buildModel(files);
  if (diagnostics.length > 0) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return new Compiler(model).compile('q', { dialect, ...(extras.caller ? { caller: extras.caller } : {}) });
}

/** Rows as sorted canonical strings, numbers rounded so float noise does not matter. */
export function canonical(rows: Record<string, Value>[], types: Map<string, string>): string[] {
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

export async function check(
  engine: Engine,
  dialect: 'duckdb' | 'postgres' | 'mysql',
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
  const context = `\n${compiled.sql}\n${toInputYaml('q', scenario.input)}\n${scenario.sources.map((s) => toSourceYaml(s, scenario.sources)).join('\n---\n')}\n${JSON.stringify(scenario.tables)}`;
  expect(canonical(actual, types), context).toEqual(canonical(expected, types));
}
