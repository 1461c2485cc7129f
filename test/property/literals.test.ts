/**
 * No value can change a query's structure: every string, number, date and timestamp a
 * filter carries comes back from the engine unchanged, and a filter on any string matches
 * exactly the rows holding it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import { DIALECTS } from '../../src/core/definitions/schema.js';
import { dialectFor } from '../../src/core/sql/dialects/index.js';
import type { TypedValue } from '../../src/core/values/typed-value.js';
import type { Engine } from '../../src/engines/engine.js';
import { collect } from '../../src/engines/engine.js';
import { arbitraryScenario, toInputYaml, toSourceYaml } from '../reference/arbitrary.js';
import { memoryDuckDb, mysql, postgres, toMySqlDdl, uniqueSchema } from '../support/databases.js';

const text = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => !s.includes('\u0000') && s.isWellFormed());
const tricky = fc.oneof(
  text,
  fc.constantFrom(
    "'",
    "''",
    "\\'",
    "'; DROP TABLE t; --",
    '%',
    '_',
    '!',
    '!%',
    '\\',
    '$$',
    "E'\\x41'",
    '"',
    '\n',
    '🎬',
  ),
);
const day = fc
  .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const instant = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** JSON is YAML 1.2 flow syntax; escape what YAML does not accept raw. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

function yamlFlow(value: object): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const engines: [string, () => Promise<Engine>][] = [
  ['duckdb', memoryDuckDb],
  ['postgres', postgres],
  ['mysql', mysql],
];

describe.each(engines)('literals round-trip on %s', (name, open) => {
  let engine: Engine;
  const schema = uniqueSchema('lit');
  beforeAll(async () => {
    engine = await open();
    await engine.execute(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    await engine.execute(`DROP SCHEMA ${schema}${name === 'mysql' ? '' : ' CASCADE'}`);
    await engine.close();
  });

  const roundTrip = async (value: TypedValue): Promise<unknown> => {
    const literal = dialectFor(engine.dialect).literal(value);
    return (await engine.query(`SELECT ${literal} AS v`)).rows[0]![0];
  };

  it('strings', async () => {
    await fc.assert(
      fc.asyncProperty(tricky, async (s) => {
        expect(await roundTrip({ type: 'string', value: s })).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('numbers', async () => {
    const numbers = fc.oneof(
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }),
    );
    await fc.assert(
      fc.asyncProperty(numbers, async (n) => {
        const back = (await roundTrip({
          type: Number.isInteger(n) ? 'integer' : 'number',
          value: n,
        })) as number;
        expect(Object.is(n, -0) ? 0 : n).toBeCloseTo(
          back,
          Math.abs(n) < 1 ? 12 : -Math.ceil(Math.log10(Math.abs(n))) + 12,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('dates and timestamps', async () => {
    await fc.assert(
      fc.asyncProperty(day, async (d) => {
        expect(await roundTrip({ type: 'date', value: d })).toBe(d);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(instant, async (t) => {
        expect(await roundTrip({ type: 'timestamp', value: t.replace('T', ' ').replace('Z', '') })).toBe(t);
      }),
      { numRuns: 200 },
    );
  });

  it('a filter on any string matches exactly the rows holding it', async () => {
    const source = `name: t\ntable: ${schema}.t\nfields:\n  - { name: s, type: string }\n`;
    await fc.assert(
      fc.asyncProperty(tricky, async (value) => {
        await engine.execute(`DROP TABLE IF EXISTS ${schema}.t`);
        const table = `CREATE TABLE ${schema}.t (s VARCHAR)`;
        await engine.execute(name === 'mysql' ? toMySqlDdl(table) : table);
        const lit = dialectFor(engine.dialect).literal;
        const d = dialectFor(engine.dialect);
        await engine.execute(
          `INSERT INTO ${schema}.t VALUES (${lit.call(d, { type: 'string', value })}), (${lit.call(d, { type: 'string', value: `${value}x` })}), ('other')`,
        );
        // Written in the YAML (definitions hold printable text only), and given as a parameter.
        const written = (op: string) =>
          `name: q\nfrom: t\nfields: [t.s]\nfilters:\n  - ${yamlFlow({ field: 't.s', op, value })}\n`;
        const parameter = (op: string) =>
          `name: q\nfrom: t\nfields: [t.s]\nfilters:\n  - { field: t.s, op: ${op}, param: v }\nparams:\n  v: { type: string }\n`;
        const ways = CONTROL.test(value) ? [parameter] : [written, parameter];
        for (const [op, expected, input] of ways.flatMap((way) =>
          (
            [
              ['equals', [value]],
              ['starts_with', [value, `${value}x`]],
            ] as const
          ).map(([op, expected]) => [op, expected, way] as const),
        )) {
          const { model, diagnostics } = buildModel([
            { path: 't.yaml', kind: 'source', text: source },
            { path: 'q.yaml', kind: 'input', text: input(op) },
          ]);
          expect(diagnostics).toEqual([]);
          const params = input === parameter ? { params: { v: value } } : {};
          const sql = new Compiler(model).compile('q', { dialect: engine.dialect, ...params }).sql;
          const rows = (await collect(engine.stream(sql))).map((r) => r[0]);
          // 'other' starts with '', 'o', 'OT'...: starts_with is case-insensitive.
          const alsoOther = op === 'starts_with' && 'other'.startsWith(value.toLowerCase());
          const want = alsoOther ? [...expected, 'other'] : expected;
          expect(rows.sort()).toEqual([...want].sort());
        }
      }),
      { numRuns: name === 'duckdb' ? 150 : 80 },
    );
  });
});

describe('generator invariants', () => {
  it('compiling twice, with fresh compilers, gives identical SQL in every dialect', () => {
    fc.assert(
      fc.property(arbitraryScenario(), (scenario) => {
        const files = [
          ...scenario.sources.map((s) => ({
            path: `${s.name}.yaml`,
            kind: 'source' as const,
            text: toSourceYaml(s, scenario.sources),
          })),
          { path: 'q.yaml', kind: 'input' as const, text: toInputYaml('q', scenario.input) },
        ];
        for (const dialect of DIALECTS) {
          const first = new Compiler(buildModel(files).model).compile('q', { dialect }).sql;
          const again = new Compiler(buildModel(files).model).compile('q', { dialect }).sql;
          expect(again).toBe(first);
        }
      }),
      { numRuns: 200 },
    );
  });
});
