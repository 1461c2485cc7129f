/**
 * Debezium JSON into pipeline events: the envelope with and without its schema, with and
 * without the record key, PostgreSQL and MySQL connector messages, logical types, unchanged
 * TOAST values, tombstones, truncates, heartbeats, and malformed messages.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineEvent, Position } from '../../src/pipelines/events.js';
import {
  DebeziumDecoder,
  DebeziumFormatError,
  UNAVAILABLE_VALUE,
  columnType,
  convertValue,
  parseDebezium,
} from '../../src/pipelines/sources/debezium/envelope.js';
import { decimalBytes, fixture, pgChange, pgHeartbeat, pgTombstone } from './fixtures/debezium/envelopes.js';

const AT: Position = { seq: 7n, resume: 'p7' };
const TABLES = ['public.talent', 'inventory.customers'];

const TALENT_COLUMNS = [
  { name: 'talent_id', type: 'integer' },
  { name: 'name', type: 'string' },
  { name: 'agency', type: 'string' },
  { name: 'bio', type: 'string' },
  { name: 'fee', type: 'decimal' },
  { name: 'born', type: 'date' },
  { name: 'updated_at', type: 'timestamp' },
  { name: 'signed_at', type: 'timestamp' },
  { name: 'active', type: 'boolean' },
  { name: 'rating', type: 'number' },
  { name: 'tags', type: 'string' },
];

function decode(text: string, decoder = new DebeziumDecoder(TABLES)): PipelineEvent[] {
  return decoder.decode(text, AT);
}

describe('Debezium envelopes', () => {
  it('a PostgreSQL create with the schema envelope: the schema first, then the row with logical types converted', () => {
    expect(decode(fixture('pg-talent-create.json'))).toEqual([
      {
        kind: 'schema',
        schema: { table: 'public.talent', columns: TALENT_COLUMNS, primaryKey: [] },
        position: AT,
      },
      {
        kind: 'change',
        table: 'public.talent',
        op: 'c',
        ts: '2026-01-01T10:00:00.200Z',
        position: AT,
        row: {
          talent_id: 1,
          name: 'Ada',
          agency: 'CAA',
          bio: "Ada's long biography",
          fee: '1234.56',
          born: '1990-05-17',
          updated_at: '2026-01-01T10:00:00.123456Z',
          signed_at: '2025-12-31T23:59:59.5Z',
          active: true,
          rating: 4.5,
          tags: '{"genres": ["drama"]}',
        },
      },
    ]);
  });

  it('emits a schema once per session, again when the columns or the key change, and again in a new session', () => {
    const decoder = new DebeziumDecoder(TABLES);
    const create = pgChange({ op: 'c', after: { talent_id: 1, name: 'Ada' }, tsMs: 1_767_261_600_000 });
    expect(decode(create, decoder).map((e) => e.kind)).toEqual(['schema', 'change']);
    const update = pgChange({ op: 'u', after: { talent_id: 1, name: 'Ada L.' }, tsMs: 1_767_261_601_000 });
    expect(decode(update, decoder).map((e) => e.kind)).toEqual(['change']);

    // The record key makes the key known: a schema again, with it.
    const keyed = pgChange({ op: 'u', after: { talent_id: 1 }, tsMs: 1_767_261_602_000, keyed: true });
    const events = decode(keyed, decoder);
    expect(events[0]).toMatchObject({ kind: 'schema', schema: { primaryKey: ['talent_id'] } });
    // A record without its key keeps the key this session saw: nothing changed, no schema.
    expect(decode(update, decoder).map((e) => e.kind)).toEqual(['change']);

    // A column added upstream.
    const added = JSON.parse(create) as {
      schema: { fields: { field: string; fields: { field: string; type: string; optional: boolean }[] }[] };
      payload: { after: Record<string, unknown> };
    };
    for (const f of added.schema.fields.filter((f) => f.field === 'before' || f.field === 'after'))
      f.fields.push({ type: 'string', optional: true, field: 'phone' });
    added.payload.after.phone = '555';
    const withPhone = decode(JSON.stringify(added), decoder);
    expect(withPhone[0]).toMatchObject({ kind: 'schema', schema: { primaryKey: ['talent_id'] } });
    expect(withPhone[0]!.kind === 'schema' && withPhone[0]!.schema.columns.at(-1)).toEqual({
      name: 'phone',
      type: 'string',
    });
    expect(withPhone[1]).toMatchObject({ kind: 'change', row: { phone: '555' } });

    expect(decode(update).map((e) => e.kind)).toEqual(['schema', 'change']);
  });

  it('a record with its key: the key is the primary key', () => {
    const keyed = pgChange({
      op: 'r',
      after: { talent_id: 3, name: 'Cy' },
      tsMs: 1_767_261_600_000,
      keyed: true,
    });
    const [schema, change] = decode(keyed);
    expect(schema).toEqual({
      kind: 'schema',
      schema: { table: 'public.talent', columns: TALENT_COLUMNS, primaryKey: ['talent_id'] },
      position: AT,
    });
    expect(change).toMatchObject({ kind: 'change', op: 'r', row: { talent_id: 3, name: 'Cy', fee: null } });
  });

  it('an unchanged TOAST value is absent from the row, never null', () => {
    const update = pgChange({
      op: 'u',
      after: { talent_id: 1, name: 'Ada', bio: UNAVAILABLE_VALUE },
      tsMs: 1_767_261_600_000,
    });
    const change = decode(update)[1]!;
    expect(change.kind === 'change' && change.row).toEqual({
      talent_id: 1,
      name: 'Ada',
      agency: null,
      fee: null,
      born: null,
      updated_at: null,
      signed_at: null,
      active: null,
      rating: null,
      tags: null,
    });
    // In a bytea column it comes base64-encoded; in an array, as an array of it.
    const bytes = { type: 'bytes', field: 'photo' };
    const parsed = parseDebezium(
      JSON.stringify({
        schema: {
          type: 'struct',
          fields: [
            {
              type: 'struct',
              field: 'after',
              fields: [
                { type: 'int32', field: 'id' },
                bytes,
                { type: 'array', field: 'aliases', items: { type: 'string' } },
              ],
            },
          ],
        },
        payload: {
          after: {
            id: 1,
            photo: Buffer.from(UNAVAILABLE_VALUE).toString('base64'),
            aliases: [UNAVAILABLE_VALUE],
          },
          source: { schema: 'public', table: 'talent' },
          op: 'u',
          ts_ms: 0,
        },
      }),
      new Set(TABLES),
    );
    expect(parsed).toMatchObject({ kind: 'change', row: { id: 1 } });
    expect(parsed.kind === 'change' && Object.keys(parsed.row)).toEqual(['id']);
  });

  it('a delete carries the before row; without one (REPLICA IDENTITY NOTHING), its key', () => {
    const deleted = pgChange({
      op: 'd',
      before: { talent_id: 2, name: 'Bo', agency: 'WME' },
      tsMs: 1_767_261_600_000,
    });
    expect(decode(deleted)[1]).toEqual({
      kind: 'change',
      table: 'public.talent',
      op: 'd',
      ts: '2026-01-01T10:00:00.000Z',
      position: AT,
      row: expect.objectContaining({ talent_id: 2, name: 'Bo', agency: 'WME' }),
    });
    const keyOnly = JSON.parse(pgChange({ op: 'd', before: { talent_id: 2 }, tsMs: 0, keyed: true })) as {
      value: { payload: { before: unknown } };
    };
    keyOnly.value.payload.before = null;
    expect(decode(JSON.stringify(keyOnly))[1]).toMatchObject({ op: 'd', row: { talent_id: 2 } });
  });

  it('a truncate becomes a TruncateEvent (no schema: it has no key to tell)', () => {
    const truncate = pgChange({ op: 't', tsMs: 1_767_261_600_000, keyed: true });
    expect(decode(truncate)).toEqual([
      { kind: 'truncate', table: 'public.talent', ts: '2026-01-01T10:00:00.000Z', position: AT },
    ]);
  });

  it('tombstones, other tables, DDL history, transaction markers and logical messages are skipped', () => {
    expect(decode(pgTombstone(2))).toEqual([]);
    expect(decode('')).toEqual([]);
    expect(decode('   ')).toEqual([]);
    expect(decode('null')).toEqual([]);
    expect(decode('{"schema":null,"payload":null}')).toEqual([]);
    expect(decode(pgChange({ op: 'c', after: { talent_id: 1 }, tsMs: 0, table: 'audit_log' }))).toEqual([]);
    expect(
      decode(
        JSON.stringify({
          source: { server: 'shop' },
          databaseName: 'inventory',
          ddl: 'ALTER TABLE customers ADD COLUMN phone VARCHAR(20)',
          tableChanges: [],
        }),
      ),
    ).toEqual([]);
    expect(
      decode(
        JSON.stringify({ status: 'END', id: '571:53195832', event_count: 2, data_collections: [], ts_ms: 1 }),
      ),
    ).toEqual([]);
    expect(
      decode(
        JSON.stringify({
          op: 'm',
          ts_ms: 1,
          source: { schema: '', table: '', db: 'studio' },
          message: { prefix: 'x', content: 'eA==' },
        }),
      ),
    ).toEqual([]);
  });

  it('heartbeats, with and without the schema envelope', () => {
    expect(decode(pgHeartbeat(1_767_261_660_000))).toEqual([
      { kind: 'heartbeat', ts: '2026-01-01T10:01:00.000Z', position: AT },
    ]);
    expect(decode('{"ts_ms":1767261660000}')).toEqual([
      { kind: 'heartbeat', ts: '2026-01-01T10:01:00.000Z', position: AT },
    ]);
  });

  it('a MySQL update without the schema envelope: table from source.db, values as JSON gives them, no schema', () => {
    expect(decode(fixture('mysql-customers-update.json'))).toEqual([
      {
        kind: 'change',
        table: 'inventory.customers',
        op: 'u',
        ts: '2024-02-29T13:46:40.123Z',
        position: AT,
        row: {
          id: 1004,
          first_name: 'Anne Marie',
          last_name: 'Kretchmar',
          email: 'annek@noanswer.org',
          balance: 'JxA=',
          registered: 1709214330250,
        },
      },
    ]);
  });

  it('a MySQL create with the schema: DATETIME(3) as io.debezium.time.Timestamp, DECIMAL, TIME; ts from source.ts_ms when ts_ms is absent', () => {
    const message = {
      schema: {
        type: 'struct',
        name: 'shop.inventory.orders.Envelope',
        fields: [
          {
            type: 'struct',
            field: 'after',
            optional: true,
            name: 'shop.inventory.orders.Value',
            fields: [
              { type: 'int64', optional: false, field: 'order_id' },
              {
                type: 'int64',
                optional: false,
                name: 'io.debezium.time.Timestamp',
                version: 1,
                field: 'placed',
              },
              {
                type: 'bytes',
                optional: false,
                name: 'org.apache.kafka.connect.data.Decimal',
                version: 1,
                parameters: { scale: '2', 'connect.decimal.precision': '12' },
                field: 'total',
              },
              {
                type: 'int64',
                optional: true,
                name: 'io.debezium.time.MicroTime',
                version: 1,
                field: 'slot',
              },
              { type: 'int16', optional: true, field: 'flags' },
            ],
          },
          {
            type: 'struct',
            field: 'source',
            fields: [
              { type: 'string', field: 'db' },
              { type: 'string', field: 'table' },
            ],
          },
          { type: 'string', optional: false, field: 'op' },
        ],
      },
      payload: {
        before: null,
        after: {
          order_id: 'BIGINT',
          placed: 1709214330250,
          total: decimalBytes(-123456n),
          slot: 45296789000,
          flags: 3,
        },
        source: {
          version: '2.7.3.Final',
          connector: 'mysql',
          name: 'shop',
          ts_ms: 1709214400000,
          db: 'inventory',
          table: 'orders',
        },
        op: 'c',
      },
    };
    // As the connector writes it: a JSON number beyond 2^53 (a JS literal would round it here).
    const text = JSON.stringify(message).replace('"BIGINT"', '12345678901234567');
    const events = new DebeziumDecoder(['inventory.orders']).decode(text, AT);
    expect(events).toEqual([
      {
        kind: 'schema',
        schema: {
          table: 'inventory.orders',
          columns: [
            { name: 'order_id', type: 'integer' },
            { name: 'placed', type: 'timestamp' },
            { name: 'total', type: 'decimal' },
            { name: 'slot', type: 'string' },
            { name: 'flags', type: 'integer' },
          ],
          primaryKey: [],
        },
        position: AT,
      },
      {
        kind: 'change',
        table: 'inventory.orders',
        op: 'c',
        ts: '2024-02-29T13:46:40.000Z',
        position: AT,
        // A BIGINT beyond 2^53 keeps every digit.
        row: {
          order_id: '12345678901234567',
          placed: '2024-02-29T13:45:30.250Z',
          total: '-1234.56',
          slot: '12:34:56.789',
          flags: 3,
        },
      },
    ]);
  });

  it('logical types', () => {
    const named = (name: string, type = 'int64', parameters?: Record<string, string>) => ({
      type,
      name,
      ...(parameters ? { parameters } : {}),
    });
    expect(convertValue(19782, named('io.debezium.time.Date', 'int32'))).toBe('2024-02-29');
    expect(convertValue(-1, named('io.debezium.time.Date', 'int32'))).toBe('1969-12-31');
    expect(convertValue(1709214330250, named('io.debezium.time.Timestamp'))).toBe('2024-02-29T13:45:30.250Z');
    expect(convertValue(1709214330250000, named('io.debezium.time.MicroTimestamp'))).toBe(
      '2024-02-29T13:45:30.250Z',
    );
    expect(convertValue(-1, named('io.debezium.time.MicroTimestamp'))).toBe('1969-12-31T23:59:59.999999Z');
    // Nanoseconds since the epoch exceed 2^53: parsed as their digits.
    const nano = parseDebezium(
      '{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"int64","name":"io.debezium.time.NanoTimestamp","field":"t"}]}]},"payload":{"after":{"t":1709214330250123456},"source":{"schema":"public","table":"talent"},"op":"c","ts_ms":0}}',
      new Set(TABLES),
    );
    expect(nano.kind === 'change' && nano.row.t).toBe('2024-02-29T13:45:30.250123456Z');
    expect(
      convertValue('2024-02-29T13:45:30+01:00', named('io.debezium.time.ZonedTimestamp', 'string')),
    ).toBe('2024-02-29T13:45:30+01:00');
    expect(convertValue(45296789, named('io.debezium.time.Time', 'int32'))).toBe('12:34:56.789');
    expect(convertValue(45296000000, named('io.debezium.time.MicroTime'))).toBe('12:34:56');
    expect(convertValue(45296000000001, named('io.debezium.time.NanoTime'))).toBe('12:34:56.000000001');
    const decimal = (scale: string) => named('org.apache.kafka.connect.data.Decimal', 'bytes', { scale });
    expect(convertValue('AeJA', decimal('2'))).toBe('1234.56');
    expect(convertValue('zg==', decimal('2'))).toBe('-0.50');
    expect(convertValue('AQ==', decimal('3'))).toBe('0.001');
    expect(convertValue('A+g=', decimal('0'))).toBe('1000');
    expect(convertValue(decimalBytes(12345678901234567890123n), decimal('10'))).toBe(
      '1234567890123.4567890123',
    );
    expect(
      convertValue({ scale: 3, value: 'AeJA' }, named('io.debezium.data.VariableScaleDecimal', 'struct')),
    ).toBe('123.456');
    expect(convertValue({ x: 1, y: [2] }, { type: 'struct' })).toBe('{"x":1,"y":[2]}');
    expect(convertValue(['a', 'b'], { type: 'array' })).toBe('["a","b"]');
    expect(convertValue('x', { type: 'string', name: 'io.debezium.data.Enum' })).toBe('x');
    expect(convertValue({ a: 1 }, undefined)).toBe('{"a":1}');
  });

  it('maps Debezium types to column types', () => {
    const types = [
      [{ type: 'int8' }, 'integer'],
      [{ type: 'int16' }, 'integer'],
      [{ type: 'int32' }, 'integer'],
      [{ type: 'int64' }, 'integer'],
      [{ type: 'float32' }, 'number'],
      [{ type: 'float64' }, 'number'],
      [{ type: 'boolean' }, 'boolean'],
      [{ type: 'string' }, 'string'],
      [{ type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal' }, 'decimal'],
      [{ type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' }, 'decimal'],
      [{ type: 'int32', name: 'io.debezium.time.Date' }, 'date'],
      [{ type: 'int64', name: 'io.debezium.time.Timestamp' }, 'timestamp'],
      [{ type: 'int64', name: 'io.debezium.time.MicroTimestamp' }, 'timestamp'],
      [{ type: 'int64', name: 'io.debezium.time.NanoTimestamp' }, 'timestamp'],
      [{ type: 'string', name: 'io.debezium.time.ZonedTimestamp' }, 'timestamp'],
      [{ type: 'int64', name: 'io.debezium.time.MicroTime' }, 'string'],
      [{ type: 'string', name: 'io.debezium.data.Json' }, 'string'],
      [{ type: 'bytes' }, 'string'],
      [{ type: 'struct' }, 'string'],
      [{ type: 'array' }, 'string'],
    ] as const;
    for (const [schema, type] of types) expect([schema, columnType(schema)]).toEqual([schema, type]);
  });

  it('malformed messages throw, saying what is wrong', () => {
    const wrong = (text: string) => {
      try {
        decode(text);
      } catch (e) {
        expect(e).toBeInstanceOf(DebeziumFormatError);
        return (e as Error).message;
      }
      throw new Error(`no error for ${text}`);
    };
    expect(wrong('{"op": "c", "after": {')).toMatch(/^not JSON \(/);
    expect(wrong('[1, 2]')).toBe('a Debezium event is a JSON object');
    expect(wrong('{"after": {"id": 1}, "ts_ms": 1, "source": {"schema": "public", "table": "talent"}}')).toBe(
      'no op: not a Debezium change event',
    );
    expect(wrong('{"op": "x", "source": {"schema": "public", "table": "talent"}}')).toBe('unknown op "x"');
    expect(wrong('{"op": "c", "after": {"id": 1}, "source": {"schema": "public"}, "ts_ms": 1}')).toBe(
      'source.table is missing',
    );
    expect(wrong('{"op": "c", "source": {"schema": "public", "table": "talent"}, "ts_ms": 1}')).toBe(
      'op c without after',
    );
    expect(wrong('{"op": "c", "after": {"id": 1}, "source": {"schema": "public", "table": "talent"}}')).toBe(
      'neither ts_ms nor source.ts_ms',
    );
    const badDecimal = pgChange({ op: 'c', after: { talent_id: 1, fee: '***' }, tsMs: 0 });
    expect(wrong(badDecimal)).toBe('column fee: "***" is not a Decimal (base64 bytes)');
    const badDate = pgChange({
      op: 'c',
      after: { talent_id: 1, born: 'soon' as unknown as number },
      tsMs: 0,
    });
    expect(wrong(badDate)).toBe('column born: "soon" is not a io.debezium.time.Date (an integer)');
  });
});
