/**
 * Avro object container files for manifests and manifest lists.
 *
 * Records are encoded by avsc types built from the schema objects; the container framing is
 * written here so that (1) the header carries the schema object verbatim — Iceberg readers
 * need its `field-id` / `element-id` attributes, which avsc's own encoder drops when given a
 * custom type — and (2) longs can be 64-bit: snapshot ids written by other engines exceed
 * 2^53, so longs decode to a number when safe and to a bigint otherwise.
 */
import { inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import avro from 'avsc';

/** A JSON Avro schema (objects carry Iceberg's id attributes). */
export type AvroSchemaJson = string | AvroSchemaJson[] | { [key: string]: AvroSchemaJsonValue };
type AvroSchemaJsonValue = AvroSchemaJson | number | boolean | null;

type AvscSchema = Parameters<typeof avro.Type.forSchema>[0];

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const RECORDS_PER_BLOCK = 4096;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type Long = number | bigint;

function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new TypeError(`not a long: ${String(value)}`);
}

/** Longs as numbers when they fit a double exactly, bigints otherwise. */
const LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): Long => {
    const n = buf.readBigInt64LE(0);
    return n <= SAFE && n >= -SAFE ? Number(n) : n;
  },
  toBuffer: (value: Long): Buffer => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(toBigInt(value), 0);
    return buf;
  },
  fromJSON: (value: unknown): Long => (typeof value === 'bigint' ? value : Number(value)),
  toJSON: (value: Long): number => Number(value),
  isValid: (value: unknown): boolean =>
    typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)),
  compare: (a: Long, b: Long): number => {
    const x = toBigInt(a);
    const y = toBigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
});

function isPlainLong(schema: unknown): boolean {
  if (schema === 'long') return true;
  if (typeof schema !== 'object' || schema === null) return false;
  const object = schema as Record<string, unknown>;
  return object.type === 'long' && object.logicalType === undefined;
}

/** Compiled types by schema text: building an avsc type costs far more than decoding a manifest. */
const typeCache = new Map<string, avro.Type>();

function typeFor(schema: AvroSchemaJson, text = JSON.stringify(schema)): avro.Type {
  let type = typeCache.get(text);
  if (!type) {
    type = avro.Type.forSchema(schema as AvscSchema, {
      typeHook: (s: unknown) => (isPlainLong(s) ? LONG : undefined),
    });
    if (typeCache.size > 64) typeCache.clear();
    typeCache.set(text, type);
  }
  return type;
}

const HEADER_META = avro.Type.forSchema({ type: 'map', values: 'bytes' });
const PLAIN_LONG = avro.Type.forSchema('long');

/**
 * Encodes records as an uncompressed Avro container. Uncompressed (`null` codec) because some
 * readers (icebird) cannot inflate Avro's raw-deflate blocks; manifests are small anyway.
 */
export function encodeAvroContainer(
  schema: AvroSchemaJson,
  records: readonly object[],
  metadata: Record<string, string>,
): Buffer {
  const schemaText = JSON.stringify(schema);
  const type = typeFor(schema, schemaText);
  const sync = randomBytes(16);
  const meta: Record<string, Buffer> = {
    'avro.schema': Buffer.from(schemaText),
    'avro.codec': Buffer.from('null'),
  };
  for (const [key, value] of Object.entries(metadata)) meta[key] = Buffer.from(value);
  const parts: Buffer[] = [MAGIC, HEADER_META.toBuffer(meta), sync];
  for (let start = 0; start < records.length; start += RECORDS_PER_BLOCK) {
    const block = records.slice(start, start + RECORDS_PER_BLOCK).map((r) => type.toBuffer(r));
    const data = Buffer.concat(block);
    parts.push(PLAIN_LONG.toBuffer(block.length), PLAIN_LONG.toBuffer(data.length), data, sync);
  }
  return Buffer.concat(parts);
}

export interface AvroContainer<T> {
  metadata: Record<string, string>;
  records: T[];
}

function decompress(codec: string, data: Buffer): Buffer {
  if (codec === 'null') return data;
  if (codec === 'deflate') return inflateRawSync(data);
  throw new Error(`unsupported Avro codec ${codec}`);
}

/** Decodes an Avro container; records are returned as decoded (the caller vouches for their shape). */
export function decodeAvroContainer<T>(buf: Buffer, source = 'avro file'): AvroContainer<T> {
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new Error(`${source} is not an Avro container file`);
  const header = HEADER_META.decode(buf, 4);
  const rawMeta = header.value as Record<string, Buffer>;
  let pos = header.offset + 16;
  const sync = buf.subarray(header.offset, pos);
  const metadata = Object.fromEntries(Object.entries(rawMeta).map(([k, v]) => [k, v.toString('utf8')]));
  const schemaText = metadata['avro.schema'];
  if (!schemaText) throw new Error(`${source} has no avro.schema`);
  const type = typeFor(JSON.parse(schemaText) as AvroSchemaJson, schemaText);
  const codec = metadata['avro.codec'] ?? 'null';
  const records: T[] = [];
  while (pos < buf.length) {
    const count = PLAIN_LONG.decode(buf, pos);
    const size = PLAIN_LONG.decode(buf, count.offset);
    const start = size.offset;
    const end = start + (size.value as number);
    const data = decompress(codec, buf.subarray(start, end));
    let offset = 0;
    for (let i = 0; i < (count.value as number); i++) {
      const decoded = type.decode(data, offset);
      if (decoded.offset < 0) throw new Error(`${source}: truncated Avro block`);
      records.push(decoded.value as T);
      offset = decoded.offset;
    }
    if (!buf.subarray(end, end + 16).equals(sync)) throw new Error(`${source}: Avro sync marker mismatch`);
    pos = end + 16;
  }
  return { metadata, records };
}
