/**
 * One Debezium JSON change event into pipeline events (spec §9). Debezium's JSON comes in
 * several shapes, all read here:
 *
 * - with the schema envelope (`{schema, payload}`, Kafka Connect's JsonConverter with
 *   `schemas.enable=true`) or without it (the payload alone: `{before, after, source, op,
 *   ts_ms}`);
 * - alone (what Debezium Server's NATS sink publishes: the value) or wrapped with its record
 *   key as `{key, value}` (the key's fields are the table's primary key);
 * - tombstones (a null value, an empty message) that exist for Kafka's log compaction, and
 *   heartbeats (a value holding only `ts_ms`).
 *
 * With a schema, Debezium's logical types are turned into Strata's values (dates, ISO
 * timestamps, exact decimal strings) and the table's columns are known, so a SchemaEvent
 * goes before the table's first change (and before any change whose columns differ).
 * Without one, values pass as JSON gives them and the runner infers the columns.
 */
import type {
  ChangeOp,
  ColumnSchema,
  ColumnType,
  PipelineEvent,
  Position,
  RowValues,
  TableSchema,
} from '../../events.js';

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}
type Value = RowValues[string];

/** What Debezium writes for a value it could not read (an unchanged TOAST column). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';
/** The same, for a `bytes` column (JSON carries bytes as base64). */
const UNAVAILABLE_BYTES = Buffer.from(UNAVAILABLE_VALUE).toString('base64');

/** A malformed event: the caller adds where it was (file:line, stream sequence). */
export class DebeziumFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DebeziumFormatError';
  }
}

/** A Kafka Connect schema, as JsonConverter writes it. */
export interface ConnectSchema {
  type: string;
  field?: string;
  /** The logical type (`io.debezium.time.Date`, `org.apache.kafka.connect.data.Decimal`). */
  name?: string;
  parameters?: Record<string, string>;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
}

/** One Debezium message, understood. */
export type DebeziumRecord =
  | { kind: 'skip'; reason: string }
  | { kind: 'heartbeat'; ts: string }
  | { kind: 'truncate'; table: string; ts: string }
  | {
      kind: 'change';
      table: string;
      op: ChangeOp;
      ts: string;
      row: RowValues;
      /** The row's columns, when the event has the schema envelope. */
      columns?: ColumnSchema[];
      /** The primary key, when the event comes with its record key. */
      key?: string[];
    };

// ---------------------------------------------------------------- logical types

const DATE = new Set(['io.debezium.time.Date', 'org.apache.kafka.connect.data.Date']);
const TIMESTAMP_MS = new Set(['io.debezium.time.Timestamp', 'org.apache.kafka.connect.data.Timestamp']);
const TIMESTAMP_US = 'io.debezium.time.MicroTimestamp';
const TIMESTAMP_NS = 'io.debezium.time.NanoTimestamp';
/** Timestamps Debezium already writes as ISO-8601 text. */
const TIMESTAMP_TEXT = new Set(['io.debezium.time.ZonedTimestamp', 'io.debezium.time.IsoTimestamp']);
const DATE_TEXT = 'io.debezium.time.IsoDate';
const TIME_MS = new Set(['io.debezium.time.Time', 'org.apache.kafka.connect.data.Time']);
const TIME_US = 'io.debezium.time.MicroTime';
const TIME_NS = 'io.debezium.time.NanoTime';
const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';
const HEARTBEAT = 'io.debezium.connector.common.Heartbeat';

const INTEGER_TYPES = new Set(['int8', 'int16', 'int32', 'int64']);
const FLOAT_TYPES = new Set(['float32', 'float64']);

/** The Strata column type of a Debezium field. */
export function columnType(schema: ConnectSchema): ColumnType {
  const name = schema.name;
  if (name !== undefined) {
    if (DATE.has(name) || name === DATE_TEXT) return 'date';
    if (TIMESTAMP_MS.has(name) || name === TIMESTAMP_US || name === TIMESTAMP_NS || TIMESTAMP_TEXT.has(name))
      return 'timestamp';
    if (name === DECIMAL || name === VARIABLE_SCALE_DECIMAL) return 'decimal';
    // Times of day (and any other logical type on an integer) are written as text.
    if (TIME_MS.has(name) || name === TIME_US || name === TIME_NS) return 'string';
  }
  if (INTEGER_TYPES.has(schema.type)) return 'integer';
  if (FLOAT_TYPES.has(schema.type)) return 'number';
  if (schema.type === 'boolean') return 'boolean';
  return 'string';
}

/** A field's JSON value as a Strata value, by its schema (without one, as JSON gives it). */
export function convertValue(value: Json, schema: ConnectSchema | undefined): Value {
  if (value === null) return null;
  if (schema === undefined) return plain(value);
  const name = schema.name;
  if (name !== undefined) {
    if (DATE.has(name)) return dateFromDays(integer(value, name));
    if (TIMESTAMP_MS.has(name)) return isoFromEpoch(integer(value, name), 1n, 3);
    if (name === TIMESTAMP_US) return isoFromEpoch(integer(value, name), 1_000n, 6);
    if (name === TIMESTAMP_NS) return isoFromEpoch(integer(value, name), 1_000_000n, 9);
    if (TIME_MS.has(name)) return timeOfDay(integer(value, name), 1_000n, 3);
    if (name === TIME_US) return timeOfDay(integer(value, name), 1_000_000n, 6);
    if (name === TIME_NS) return timeOfDay(integer(value, name), 1_000_000_000n, 9);
    if (name === DECIMAL) return decimal(value, scaleParameter(schema));
    if (name === VARIABLE_SCALE_DECIMAL) return variableScaleDecimal(value);
  }
  if (schema.type === 'struct' || schema.type === 'array' || schema.type === 'map')
    return JSON.stringify(value);
  return plain(value);
}

function plain(value: Json): Value {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : value;
}

function integer(value: Json, type: string): bigint {
  // Integers beyond 2^53 arrive as their digits (see parseJson).
  if (
    (typeof value === 'number' && Number.isInteger(value)) ||
    (typeof value === 'string' && /^-?\d+$/.test(value))
  )
    return BigInt(value);
  throw new DebeziumFormatError(`${JSON.stringify(value)} is not a ${type} (an integer)`);
}

const MS_PER_DAY = 86_400_000;

function dateFromDays(days: bigint): string {
  return checkedIso(Number(days) * MS_PER_DAY, `${days} days`).slice(0, 10);
}

/** An instant `value` units after the epoch (units per ms given) as ISO UTC, keeping sub-ms digits. */
function isoFromEpoch(value: bigint, unitsPerMs: bigint, digits: 3 | 6 | 9): string {
  let ms = value / unitsPerMs;
  let rest = value % unitsPerMs;
  // Before 1970: BigInt division truncates toward zero, the fraction must count up from the floor.
  if (rest < 0n) {
    ms -= 1n;
    rest += unitsPerMs;
  }
  const iso = checkedIso(Number(ms), `${value}`);
  if (rest === 0n) return iso;
  return `${iso.slice(0, -1)}${fraction(rest, digits - 3)}Z`;
}

function checkedIso(ms: number, what: string): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime()))
    throw new DebeziumFormatError(`${what} is out of the range of a timestamp`);
  return date.toISOString();
}

/** `rest` as `digits` fractional digits, trailing zeros dropped. */
function fraction(rest: bigint, digits: number): string {
  return rest.toString().padStart(digits, '0').replace(/0+$/, '');
}

/** A time of day `value` units after midnight: `HH:MM:SS` and the fraction when it has one. */
function timeOfDay(value: bigint, unitsPerSecond: bigint, digits: number): string {
  if (value < 0n) throw new DebeziumFormatError(`${value} is not a time of day`);
  const seconds = value / unitsPerSecond;
  const pad = (n: bigint) => n.toString().padStart(2, '0');
  const clock = `${pad(seconds / 3600n)}:${pad((seconds / 60n) % 60n)}:${pad(seconds % 60n)}`;
  const rest = fraction(value % unitsPerSecond, digits);
  return rest ? `${clock}.${rest}` : clock;
}

function scaleParameter(schema: ConnectSchema): number {
  const scale = Number(schema.parameters?.scale ?? '0');
  if (!Number.isInteger(scale))
    throw new DebeziumFormatError(`decimal field ${schema.field} has scale ${scale}`);
  return scale;
}

/** Connect's Decimal: the unscaled value as big-endian two's-complement bytes, base64. */
function decimal(value: Json, scale: number): string {
  // `decimal.format=NUMERIC` writes a JSON number instead.
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw new DebeziumFormatError(`${JSON.stringify(value)} is not a Decimal (base64 bytes)`);
  const bytes = Buffer.from(value, 'base64');
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes.length > 0 && (bytes[0]! & 0x80) !== 0) unscaled -= 1n << BigInt(bytes.length * 8);
  return scaled(unscaled, scale);
}

/** Debezium's numeric without a fixed scale: `{scale, value}`, value as Decimal bytes. */
function variableScaleDecimal(value: Json): string {
  if (!isObject(value) || typeof value.scale !== 'number' || !Number.isInteger(value.scale))
    throw new DebeziumFormatError(`${JSON.stringify(value)} is not a VariableScaleDecimal ({scale, value})`);
  return decimal(value.value ?? null, value.scale);
}

function scaled(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function isUnavailable(value: Json, schema: ConnectSchema | undefined): boolean {
  if (value === UNAVAILABLE_VALUE) return true;
  if (value === UNAVAILABLE_BYTES && schema?.type === 'bytes') return true;
  // An unchanged TOAST array comes as an array of the placeholder.
  return Array.isArray(value) && value.length === 1 && isUnavailable(value[0]!, schema?.items);
}

// ------------------------------------------------------------------- parsing

/**
 * JSON.parse, with integers beyond 2^53 kept as their digits (a string) rather than rounded:
 * a BIGINT key or a NanoTimestamp would otherwise lose its last digits.
 */
export function parseJson(text: string): Json {
  return JSON.parse(/\d{16}/.test(text) ? quoteUnsafeIntegers(text) : text) as Json;
}

function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, over escapes.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < text.length && /[-+.eE0-9]/.test(text[i]!)) i++;
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copied, start)}"${token}"`;
        copied = i;
      }
    } else i++;
  }
  return out + text.slice(copied);
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `schema` as a ConnectSchema, checked as far as this module reads it. */
function connectSchema(value: Json | undefined, where: string): ConnectSchema {
  if (!isObject(value) || typeof value.type !== 'string')
    throw new DebeziumFormatError(`${where}: a schema needs a type`);
  const schema: ConnectSchema = { type: value.type };
  if (typeof value.field === 'string') schema.field = value.field;
  if (typeof value.name === 'string') schema.name = value.name;
  if (isObject(value.parameters))
    schema.parameters = Object.fromEntries(Object.entries(value.parameters).map(([k, v]) => [k, String(v)]));
  if (value.fields !== undefined) {
    if (!Array.isArray(value.fields)) throw new DebeziumFormatError(`${where}: fields is not a list`);
    schema.fields = value.fields.map((f, i) => connectSchema(f, `${where}.fields[${i}]`));
  }
  if (value.items !== undefined) schema.items = connectSchema(value.items, `${where}.items`);
  return schema;
}

/** A message with or without the schema envelope: its payload and schema (if any). */
function unwrapEnvelope(value: Json): { payload: Json; schema?: ConnectSchema } {
  if (isObject(value) && 'payload' in value && 'schema' in value) {
    const { schema, payload } = value;
    return schema === null || schema === undefined
      ? { payload: payload ?? null }
      : { payload: payload ?? null, schema: connectSchema(schema, 'schema') };
  }
  return { payload: value };
}

/** `{key, value}`: a record written with its key (a payload has `op` or `source`, never both keys alone). */
function isKeyedRecord(value: JsonObject): boolean {
  return (
    'value' in value && 'key' in value && !('payload' in value) && !('op' in value) && !('source' in value)
  );
}

const OPS = new Set(['c', 'u', 'd', 'r']);

/** One Debezium message (a line, a stream message's payload), for the pipeline's `tables`. */
export function parseDebezium(text: string, tables: ReadonlySet<string>): DebeziumRecord {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'skip', reason: 'tombstone' };
  let json: Json;
  try {
    json = parseJson(trimmed);
  } catch (e) {
    throw new DebeziumFormatError(`not JSON (${(e as Error).message})`);
  }
  if (json === null) return { kind: 'skip', reason: 'tombstone' };
  if (!isObject(json)) throw new DebeziumFormatError('a Debezium event is a JSON object');
  const keyed = isKeyedRecord(json);
  const value = unwrapEnvelope(keyed ? (json.value ?? null) : json);
  if (value.payload === null) return { kind: 'skip', reason: 'tombstone' };
  if (!isObject(value.payload)) throw new DebeziumFormatError('the payload is not a JSON object');
  const key = keyed && json.key !== null && json.key !== undefined ? unwrapEnvelope(json.key) : undefined;
  return parsePayload(value.payload, value.schema, key, tables);
}

function parsePayload(
  payload: JsonObject,
  schema: ConnectSchema | undefined,
  key: { payload: Json; schema?: ConnectSchema } | undefined,
  tables: ReadonlySet<string>,
): DebeziumRecord {
  if (isHeartbeat(payload, schema)) return { kind: 'heartbeat', ts: epochMs(payload.ts_ms ?? null, 'ts_ms') };
  const op = payload.op;
  if (op === undefined || op === null) {
    // What else a Debezium connector writes to its topics: DDL history, transaction markers.
    if ('ddl' in payload || 'tableChanges' in payload) return { kind: 'skip', reason: 'schema change' };
    if ('status' in payload && 'id' in payload) return { kind: 'skip', reason: 'transaction metadata' };
    throw new DebeziumFormatError('no op: not a Debezium change event');
  }
  if (typeof op !== 'string') throw new DebeziumFormatError(`op ${JSON.stringify(op)} is not a string`);
  // A logical decoding message (pg_logical_emit_message) belongs to no table.
  if (op === 'm') return { kind: 'skip', reason: 'message' };
  if (op !== 't' && !OPS.has(op)) throw new DebeziumFormatError(`unknown op ${JSON.stringify(op)}`);
  const table = tableOf(payload.source);
  if (!tables.has(table)) return { kind: 'skip', reason: `${table} is not read by the pipeline` };
  const ts = timestampOf(payload);
  if (op === 't') return { kind: 'truncate', table, ts };

  const rowField = op === 'd' ? 'before' : 'after';
  const fields = rowFields(schema);
  const keyFields = key ? keyColumns(key) : undefined;
  let image = payload[rowField];
  let imageFields = fields;
  // A delete without its before image (REPLICA IDENTITY NOTHING) still names its key.
  if ((image === null || image === undefined) && op === 'd' && key && isObject(key.payload)) {
    image = key.payload;
    imageFields = fieldsOf(key.schema);
  }
  if (!isObject(image)) throw new DebeziumFormatError(`op ${op} without ${rowField}`);
  const change: DebeziumRecord = {
    kind: 'change',
    table,
    op: op as ChangeOp,
    ts,
    row: rowOf(image, imageFields),
  };
  if (fields) change.columns = [...fields.values()].map((f) => ({ name: f.field!, type: columnType(f) }));
  if (keyFields && keyFields.length > 0) change.key = keyFields;
  return change;
}

function isHeartbeat(payload: JsonObject, schema: ConnectSchema | undefined): boolean {
  if (schema?.name === HEARTBEAT) return true;
  const keys = Object.keys(payload);
  return keys.length === 1 && keys[0] === 'ts_ms';
}

/** `schema.table` upstream; MySQL has no schema, its database stands in. */
function tableOf(source: Json | undefined): string {
  if (!isObject(source)) throw new DebeziumFormatError('no source block');
  const table = source.table;
  const schema = typeof source.schema === 'string' && source.schema !== '' ? source.schema : source.db;
  if (typeof table !== 'string' || table === '') throw new DebeziumFormatError('source.table is missing');
  if (typeof schema !== 'string' || schema === '')
    throw new DebeziumFormatError('source.schema (or source.db) is missing');
  return `${schema}.${table}`;
}

/** When the connector saw the change (`ts_ms`), else when the database made it (`source.ts_ms`). */
function timestampOf(payload: JsonObject): string {
  if (payload.ts_ms !== undefined && payload.ts_ms !== null) return epochMs(payload.ts_ms, 'ts_ms');
  const source = payload.source;
  if (isObject(source) && source.ts_ms !== undefined && source.ts_ms !== null)
    return epochMs(source.ts_ms, 'source.ts_ms');
  throw new DebeziumFormatError('neither ts_ms nor source.ts_ms');
}

function epochMs(value: Json, what: string): string {
  return isoFromEpoch(integer(value, what), 1n, 3);
}

/** The fields of the envelope's row (`after`, else `before`), by name. */
function rowFields(schema: ConnectSchema | undefined): Map<string, ConnectSchema> | undefined {
  if (!schema) return undefined;
  const envelope = schema.fields ?? [];
  const row = envelope.find((f) => f.field === 'after') ?? envelope.find((f) => f.field === 'before');
  if (!row) throw new DebeziumFormatError('the schema has no before or after field');
  return fieldsOf(row);
}

function fieldsOf(struct: ConnectSchema | undefined): Map<string, ConnectSchema> | undefined {
  if (!struct?.fields) return undefined;
  const fields = new Map<string, ConnectSchema>();
  for (const field of struct.fields) {
    if (field.field === undefined) throw new DebeziumFormatError('a field of the schema has no name');
    fields.set(field.field, field);
  }
  return fields;
}

/** The key's columns: its schema's fields in order, else its payload's. */
function keyColumns(key: { payload: Json; schema?: ConnectSchema }): string[] {
  const fields = fieldsOf(key.schema);
  if (fields) return [...fields.keys()];
  return isObject(key.payload) ? Object.keys(key.payload) : [];
}

function rowOf(image: JsonObject, fields: Map<string, ConnectSchema> | undefined): RowValues {
  const row: RowValues = {};
  for (const [name, value] of Object.entries(image)) {
    const field = fields?.get(name);
    // Left out, never null: the runner fills it from the raw table.
    if (isUnavailable(value, field)) continue;
    try {
      row[name] = convertValue(value, field);
    } catch (e) {
      if (e instanceof DebeziumFormatError) throw new DebeziumFormatError(`column ${name}: ${e.message}`);
      throw e;
    }
  }
  return row;
}

// ------------------------------------------------------------------- decoder

/**
 * Turns Debezium messages into pipeline events for one session of a source: remembers the
 * schema it last emitted per table, so a SchemaEvent goes before a table's first change of
 * the session and before any change whose columns or key differ.
 */
export class DebeziumDecoder {
  private readonly emitted = new Map<string, string>();
  /** The key a table's records last came with: records without one keep it. */
  private readonly keys = new Map<string, string[]>();
  private readonly tables: ReadonlySet<string>;

  constructor(tables: Iterable<string>) {
    this.tables = new Set(tables);
  }

  /** The events of one message at `position`; throws a DebeziumFormatError when it is malformed. */
  decode(text: string, position: Position): PipelineEvent[] {
    const record = parseDebezium(text, this.tables);
    switch (record.kind) {
      case 'skip':
        return [];
      case 'heartbeat':
        return [{ kind: 'heartbeat', ts: record.ts, position }];
      case 'truncate':
        return [{ kind: 'truncate', table: record.table, ts: record.ts, position }];
      case 'change': {
        const change: PipelineEvent = {
          kind: 'change',
          table: record.table,
          op: record.op,
          ts: record.ts,
          position,
          row: record.row,
        };
        const schema = this.schemaChange(record);
        // The schema shares the change's position: it describes the stream from that change on.
        return schema ? [{ kind: 'schema', schema, position }, change] : [change];
      }
    }
  }

  private schemaChange(record: Extract<DebeziumRecord, { kind: 'change' }>): TableSchema | undefined {
    if (record.key) this.keys.set(record.table, record.key);
    if (!record.columns) return undefined;
    const schema: TableSchema = {
      table: record.table,
      columns: record.columns,
      primaryKey: record.key ?? this.keys.get(record.table) ?? [],
    };
    const text = JSON.stringify(schema);
    if (this.emitted.get(record.table) === text) return undefined;
    this.emitted.set(record.table, text);
    return schema;
  }
}
