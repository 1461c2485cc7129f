/** The format pieces in isolation: bound serialization, Avro containers, metadata JSON, read SQL. */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  boundFromStat,
  daysFromCivil,
  decodeBound,
  encodeBound,
  parseTimestampText,
  truncateStringBound,
} from '../../src/warehouse/bounds.js';
import { decodeAvroContainer, encodeAvroContainer, type AvroSchemaJson } from '../../src/warehouse/avro.js';
import { parseMetadataJson, stringifyMetadata, newTableMetadata } from '../../src/warehouse/metadata.js';
import { readParquetSql } from '../../src/warehouse/sql.js';
import { sanitizeName, type IcebergSchema } from '../../src/warehouse/schema.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe('binary single-value serialization', () => {
  it('follows the spec byte layouts', () => {
    expect(hex(encodeBound('boolean', true))).toBe('01');
    expect(hex(encodeBound('int', -2))).toBe('feffffff');
    expect(hex(encodeBound('long', 1n))).toBe('0100000000000000');
    expect(hex(encodeBound('float', 1))).toBe('0000803f');
    expect(hex(encodeBound('double', -0))).toBe('0000000000000080');
    expect(hex(encodeBound('date', 19782))).toBe('464d0000');
    expect(hex(encodeBound('string', 'iceberg'))).toBe(Buffer.from('iceberg').toString('hex'));
    // Decimals: unscaled two's complement, big-endian, minimal bytes.
    expect(hex(encodeBound('decimal(9, 2)', '14.20'))).toBe('058c');
    expect(hex(encodeBound('decimal(9, 2)', '-0.01'))).toBe('ff');
    expect(hex(encodeBound('decimal(9, 2)', '1.28'))).toBe('0080');
    expect(hex(encodeBound('decimal(9, 2)', '0'))).toBe('00');
  });

  it('round-trips every supported type', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
        expect(decodeBound('int', encodeBound('int', n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
        expect(decodeBound('long', encodeBound('long', n))).toBe(n);
        expect(decodeBound('timestamptz', encodeBound('timestamptz', n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (n) => {
        expect(decodeBound('double', encodeBound('double', n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), (unscaled) => {
        expect(encodeBound('decimal(38, 0)', unscaled)).toEqual(
          encodeBound('decimal(38, 0)', unscaled.toString()),
        );
        expect(decodeBound('decimal(38, 0)', encodeBound('decimal(38, 0)', unscaled))).toBe(
          unscaled.toString(),
        );
        expect(decodeBound('decimal(38, 6)', encodeBound('decimal(38, 6)', unscaled))).toMatch(
          /^-?\d+\.\d{6}$/,
        );
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(decodeBound('string', encodeBound('string', s))).toBe(s);
      }),
    );
  });
});

describe('bounds from DuckDB statistics', () => {
  it('computes days and microseconds without Date pitfalls', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0100-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (date) => {
          const days = daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
          expect(days).toBe(Math.floor(date.getTime() / 86_400_000));
        },
      ),
    );
    expect(daysFromCivil(1, 1, 1)).toBe(-719162);
    expect(parseTimestampText('2024-02-29 23:59:59.123456')).toBe(1709251199123456n);
    expect(parseTimestampText('2024-02-29 23:59:59.5+02')).toBe(1709243999500000n);
    expect(parseTimestampText('2024-02-29 23:59:59-05:30')).toBe(1709270999000000n);
    expect(parseTimestampText('infinity')).toBeUndefined();
    expect(parseTimestampText('0044-03-15 12:00:00 (BC)')).toBeUndefined();
  });

  it('keeps string bounds valid when truncating', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const bytes = new TextEncoder().encode(s);
        const lower = truncateStringBound(s, 'lower');
        const upper = truncateStringBound(s, 'upper');
        expect(lower).toBeDefined();
        expect(compareBytes(encodeBound('string', lower ?? ''), bytes)).toBeLessThanOrEqual(0);
        if (upper !== undefined)
          expect(compareBytes(encodeBound('string', upper), bytes)).toBeGreaterThanOrEqual(0);
        expect([...(upper ?? '')].length).toBeLessThanOrEqual(16);
      }),
    );
    expect(truncateStringBound('\u{10FFFF}'.repeat(17), 'upper')).toBeUndefined();
  });

  it('orders signed zeros and skips what cannot be bounded', () => {
    expect(hex(boundFromStat('double', '0.0', 'lower') ?? new Uint8Array())).toBe('0000000000000080');
    expect(hex(boundFromStat('double', '-0.0', 'upper') ?? new Uint8Array())).toBe('0000000000000000');
    expect(decodeBound('float', boundFromStat('float', 'inf', 'upper')!)).toBe(Infinity);
    expect(boundFromStat('date', '5877642-06-25 (BC)', 'lower')).toBeUndefined();
    expect(boundFromStat('timestamp', 'infinity', 'upper')).toBeUndefined();
    expect(boundFromStat('string', 'ab\uFFFD', 'upper')).toBeUndefined();
    expect(boundFromStat('decimal(10, 2)', '1.234', 'lower')).toBeUndefined();
    expect(
      decodeBound('timestamp', boundFromStat('timestamp', '2020-01-01 00:00:00.0000001', 'upper')!),
    ).toBe(1577836800000001n);
  });
});

describe('Avro containers', () => {
  const schema: AvroSchemaJson = {
    type: 'record',
    name: 'r',
    fields: [
      { name: 'id', type: 'long', 'field-id': 1 },
      {
        name: 'tags',
        type: ['null', { type: 'array', items: 'int', 'element-id': 3 }],
        default: null,
        'field-id': 2,
      },
    ],
  };

  it('keeps the schema object verbatim and longs beyond 2^53 exact', () => {
    const records = [
      { id: 2n ** 62n + 1n, tags: [1, 2] },
      { id: 7, tags: null },
    ];
    const buffer = encodeAvroContainer(schema, records, { 'format-version': '2' });
    const decoded = decodeAvroContainer<{ id: number | bigint; tags: number[] | null }>(buffer);
    expect(JSON.parse(decoded.metadata['avro.schema'] ?? '')).toEqual(schema);
    expect(decoded.metadata['format-version']).toBe('2');
    expect(decoded.records.map((r) => ({ ...r }))).toEqual(records);
  });
});

describe('metadata JSON', () => {
  it('keeps snapshot ids beyond 2^53 exact', () => {
    const metadata = newTableMetadata({
      location: 'file:///tmp/t',
      schema: { schemaId: 0, fields: [{ id: 1, name: 'a', type: 'int', required: false }] },
      properties: {},
      nowMs: 1,
    });
    const big = 9_123_456_789_012_345_678n;
    const text = stringifyMetadata({ ...metadata, 'current-snapshot-id': big });
    expect(text).toContain('"current-snapshot-id": 9123456789012345678');
    expect(parseMetadataJson(text)['current-snapshot-id']).toBe(big);
    expect(parseMetadataJson(stringifyMetadata(metadata))).toEqual(metadata);
  });
});

describe('readParquetSql', () => {
  let instance: DuckDBInstance;
  let duckdb: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    duckdb = await instance.connect();
  });
  afterAll(() => instance.closeSync());

  it('gives a typed, empty relation for no files', async () => {
    const schema: IcebergSchema = {
      schemaId: 0,
      fields: [
        { id: 1, name: 'Key "1"', type: 'long', required: true },
        { id: 2, name: 'amount', type: 'decimal(9, 3)', required: false },
        { id: 3, name: 'at', type: 'timestamptz', required: false },
      ],
    };
    const reader = await duckdb.runAndReadAll(`DESCRIBE SELECT * FROM (${readParquetSql([], schema)}) AS t`);
    expect(reader.getRowObjectsJson().map((r) => [r.column_name, r.column_type])).toEqual([
      ['Key "1"', 'BIGINT'],
      ['amount', 'DECIMAL(9,3)'],
      ['at', 'TIMESTAMP WITH TIME ZONE'],
    ]);
    const count = await duckdb.runAndReadAll(`SELECT count(*) AS n FROM (${readParquetSql([], schema)})`);
    expect(count.getRowObjectsJson()).toEqual([{ n: '0' }]);
  });

  it('reads by field id: renamed columns keep data, columns unknown to a file read as NULL', async () => {
    const path = join(tmpdir(), `strata-fieldids-${process.pid}-${Date.now()}.parquet`);
    await duckdb.run(
      `COPY (SELECT 1::BIGINT AS old_name, 'x' AS s) TO '${path}' (FORMAT parquet, FIELD_IDS {old_name: 1, s: 2})`,
    );
    const schema: IcebergSchema = {
      schemaId: 1,
      fields: [
        { id: 2, name: 's', type: 'string', required: false },
        { id: 1, name: 'new_name', type: 'long', required: true },
        { id: 3, name: 'added', type: 'date', required: false },
      ],
    };
    // Usable as a view body, as the query engine pins snapshots.
    await duckdb.run(`CREATE OR REPLACE VIEW evolved AS ${readParquetSql([{ path }], schema)}`);
    const reader = await duckdb.runAndReadAll('SELECT * FROM evolved');
    expect(reader.getRowObjectsJson()).toEqual([{ s: 'x', new_name: '1', added: null }]);
    await rm(path, { force: true });
  });

  it('sanitizes Parquet column names as Iceberg writers do', () => {
    expect(sanitizeName('plain_name1')).toBe('plain_name1');
    expect(sanitizeName('1st')).toBe('_1st');
    expect(sanitizeName('a b')).toBe('a_x20b');
    expect(sanitizeName('ü')).toBe('_xFC');
  });
});
