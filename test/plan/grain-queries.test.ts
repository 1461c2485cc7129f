/**
 * What a query reads includes the queries of its measures at another grain: the tables they
 * scan (which trackers' change detection watches) and whether their filters move with today.
 */
import { describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import { readDefinitionFiles } from '../../src/project/load-project.js';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/example-project.js';

const files = readDefinitionFiles(join(REPO_ROOT, 'test', 'tpch')).filter((f) => f.kind === 'source');
const input = (text: string) => ({ path: 'i.yaml', kind: 'input' as const, text: `name: i\n${text}` });

function compile(text: string) {
  const { model, diagnostics } = buildModel([...files, input(text)]);
  expect(diagnostics).toEqual([]);
  return new Compiler(model).compile('i', { dialect: 'duckdb' });
}

describe('measures at another grain', () => {
  it("add the tables their own query reads to the query's tables", () => {
    const compiled = compile(`from: customer
fields: [customer.c_name]
filters:
  - field: customer.c_acctbal
    op: gt
    valueFrom: { measure: customer.avg_acctbal, filters: [{ field: region.r_name, op: equals, value: ASIA }] }
`);
    expect(compiled.tables).toEqual(['tpch.customer', 'tpch.nation', 'tpch.region']);
  });

  it('make the answer move with today when their filters are relative to it', () => {
    const compiled = compile(`from: lineitem
fields: [lineitem.l_orderkey]
filters:
  - field: lineitem.l_quantity
    op: gt
    valueFrom: { measure: lineitem.avg_qty, per: part, filters: [{ field: lineitem.l_shipdate, op: in_last, value: 90 days }] }
`);
    expect(compiled.relativeTo).toBe('today');
    expect(compiled.tables).toEqual(['tpch.lineitem', 'tpch.part']);
  });
});
