/** The pure parts of import and generate: type mapping, append compatibility, names, key guesses. */
import { describe, expect, it } from 'vitest';
import {
  canAppendInto,
  fieldTypeForIceberg,
  fieldTypeForSqlType,
  icebergTypeForDuckDb,
} from '../../src/core/import/column-types.js';
import { guessPrimaryKey, singular, strataName, titleCase } from '../../src/core/import/draft-source.js';

describe('column types', () => {
  it('maps DuckDB types to Iceberg types, rendering the rest as text', () => {
    expect(icebergTypeForDuckDb('BIGINT')).toEqual({ type: 'long', asText: false });
    expect(icebergTypeForDuckDb('DECIMAL(18,3)')).toEqual({ type: 'decimal(18, 3)', asText: false });
    expect(icebergTypeForDuckDb('TIMESTAMP WITH TIME ZONE')).toEqual({ type: 'timestamptz', asText: false });
    expect(icebergTypeForDuckDb('HUGEINT')).toEqual({ type: 'decimal(38, 0)', asText: false });
    expect(icebergTypeForDuckDb('STRUCT(a INTEGER)')).toEqual({ type: 'string', asText: true });
    expect(icebergTypeForDuckDb('UUID')).toEqual({ type: 'string', asText: true });
  });

  it('appends only what cannot round or reinterpret values', () => {
    expect(canAppendInto('long', 'int')).toBe(true);
    expect(canAppendInto('int', 'long')).toBe(true); // checked cast: overflow fails the import
    expect(canAppendInto('double', 'long')).toBe(true);
    expect(canAppendInto('decimal(12, 2)', 'decimal(10, 2)')).toBe(true);
    expect(canAppendInto('decimal(10, 2)', 'decimal(10, 3)')).toBe(false);
    expect(canAppendInto('decimal(10, 2)', 'double')).toBe(false);
    expect(canAppendInto('date', 'string')).toBe(false);
    expect(canAppendInto('string', 'long')).toBe(false);
  });

  it('gives Strata field types for Iceberg and information_schema types', () => {
    expect(fieldTypeForIceberg('long')).toBe('integer');
    expect(fieldTypeForIceberg('decimal(10, 2)')).toBe('decimal');
    expect(fieldTypeForIceberg('timestamptz')).toBe('timestamp');
    expect(fieldTypeForSqlType('character varying')).toBe('string');
    expect(fieldTypeForSqlType('bigint')).toBe('integer');
    expect(fieldTypeForSqlType('numeric')).toBe('decimal');
    expect(fieldTypeForSqlType('double precision')).toBe('number');
    expect(fieldTypeForSqlType('timestamp without time zone')).toBe('timestamp');
    expect(fieldTypeForSqlType('datetime')).toBe('timestamp');
    expect(fieldTypeForSqlType('jsonb')).toBe('string');
  });
});

describe('drafted names', () => {
  it('makes valid Strata names and labels', () => {
    expect(strataName('OrderID')).toBe('order_id');
    expect(strataName('Unit Price ($)')).toBe('unit_price');
    expect(strataName('2nd_try')).toBe('c_2nd_try');
    expect(titleCase('ordered_on')).toBe('Ordered On');
    expect(singular('categories')).toBe('category');
    expect(singular('boxes')).toBe('box');
    expect(singular('orders')).toBe('order');
  });

  it('guesses id, then <table>_id, then <singular>_id, skipping a column known not unique', () => {
    const cols = (...names: string[]) => names.map((name) => ({ name, type: 'integer' as const }));
    expect(guessPrimaryKey('orders', cols('order_id', 'id'))).toBe('id');
    expect(guessPrimaryKey('orders', cols('order_id', 'customer_id'))).toBe('order_id');
    expect(guessPrimaryKey('orders', cols('id', 'order_id'), (c) => c !== 'id')).toBe('order_id');
    expect(guessPrimaryKey('orders', cols('customer_id'))).toBeUndefined();
  });
});
