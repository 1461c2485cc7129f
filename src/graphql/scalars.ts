/**
 * The typed API's scalars: values keep their types end to end (spec §6). Dates are
 * `YYYY-MM-DD`, timestamps ISO-8601 UTC, decimals strings (no float rounding on the way to
 * the client), integers `Long` (64-bit: GraphQL's Int stops at 2^31), any JSON for rows.
 */
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

function stringLiteral(ast: ValueNode, name: string): string {
  if (ast.kind !== Kind.STRING) throw new GraphQLError(`${name} is written as a string`);
  return ast.value;
}

function checked(value: unknown, pattern: RegExp, name: string, example: string): string {
  if (typeof value !== 'string' || !pattern.test(value))
    throw new GraphQLError(`${name} must look like ${example}, got ${JSON.stringify(value)}`);
  return value;
}

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'A calendar date, `YYYY-MM-DD`.',
  serialize: (value) => checked(value, DATE, 'Date', '2026-01-31'),
  parseValue: (value) => checked(value, DATE, 'Date', '2026-01-31'),
  parseLiteral: (ast) => checked(stringLiteral(ast, 'Date'), DATE, 'Date', '2026-01-31'),
});

export const TimestampScalar = new GraphQLScalarType<string, string>({
  name: 'Timestamp',
  description: 'An instant, ISO-8601 in UTC: `2026-01-31T12:00:00.000Z`.',
  serialize: (value) => checked(value, TIMESTAMP, 'Timestamp', '2026-01-31T12:00:00.000Z'),
  parseValue: (value) => checked(value, TIMESTAMP, 'Timestamp', '2026-01-31T12:00:00Z'),
  parseLiteral: (ast) =>
    checked(stringLiteral(ast, 'Timestamp'), TIMESTAMP, 'Timestamp', '2026-01-31T12:00:00Z'),
});

/** A decimal number as a string: exact, whatever the client's number type. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number, as a string: `"1234.50"`.',
  serialize: (value) => {
    const text = typeof value === 'number' ? decimalText(value) : String(value);
    return checked(text, DECIMAL, 'Decimal', '"1234.50"');
  },
  parseValue: (value) =>
    checked(typeof value === 'number' ? decimalText(value) : value, DECIMAL, 'Decimal', '"1234.50"'),
  parseLiteral: (ast) => {
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT || ast.kind === Kind.STRING)
      return checked(ast.value, DECIMAL, 'Decimal', '"1234.50"');
    throw new GraphQLError('Decimal is written as a number or a string');
  },
});

/** Numbers print without exponent, so the text is a plain decimal. */
function decimalText(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  const text = String(n);
  return /e/i.test(text) ? n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** A 64-bit integer: a JSON number (exact up to 2^53, as every JSON reader sees it). */
export const LongScalar = new GraphQLScalarType<number, number>({
  name: 'Long',
  description: 'A 64-bit integer (GraphQL Int is 32-bit), as a JSON number.',
  serialize: (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw new GraphQLError(`Long: not an integer: ${String(value)}`);
    return value;
  },
  parseValue: (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw new GraphQLError(`Long must be an integer, got ${JSON.stringify(value)}`);
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw new GraphQLError('Long is written as an integer');
    return Number(ast.value);
  },
});

/** Any JSON value: rows of the generic API, params, filter values. */
export const JsonScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function literal(ast, variables): unknown {
    switch (ast.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return ast.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(ast.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return ast.values.map((v) => literal(v, variables));
      case Kind.OBJECT:
        return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
      case Kind.VARIABLE:
        return variables?.[ast.name.value];
      default:
        throw new GraphQLError(`not a JSON value: ${ast.kind}`);
    }
  },
});
