/**
 * Where a Debezium source is: a line of one of its files, or a JetStream stream sequence.
 * Both become one `seq` (the raw rows' `_seq`), strictly increasing over the whole source:
 *
 * - a file line: `seq = fileIndex * 2^32 + line`, the file's index in `files` (0-based, fewer
 *   than 2^16 files) and the line's number (1-based, fewer than 2^32 lines a file). Every
 *   file line is below 2^48, and a later file's lines above an earlier one's.
 * - a stream message: `seq = base + streamSequence`. `base` is 0 for a stream-only source,
 *   so `_seq` is the stream sequence itself; it is 2^48 when the files come first, so the
 *   stream continues above them. The base is chosen when the stream is first read and
 *   carried in every stream position after, so a definition that later gains or loses
 *   `files` keeps the committed `_seq` increasing. JetStream sequences stay below 2^53
 *   (the client reads them as numbers): every seq is below 2^54, far inside a BIGINT.
 *
 * `resume` is the position as JSON: `{"file","index","line","offset"}` (`offset` the byte
 * after the line, so a restart seeks rather than reads the file again) or
 * `{"stream","seq","base"}`.
 */
import type { Position } from '../../events.js';

const LINE_BITS = 32n;
export const MAX_FILES = 2 ** 16;
export const MAX_LINE = 2 ** 32 - 1;
/** Where the stream's sequences start when files come before it. */
export const STREAM_BASE_AFTER_FILES = 2 ** 48;

export interface FilePosition {
  kind: 'file';
  /** The path as the definition lists it. */
  file: string;
  index: number;
  /** The last line read (1-based). */
  line: number;
  /** The byte after that line. */
  offset: number;
}

export interface StreamPosition {
  kind: 'stream';
  stream: string;
  /** The JetStream stream sequence of the last message read. */
  seq: number;
  base: number;
}

export type DebeziumPosition = FilePosition | StreamPosition;

export function filePosition(file: string, index: number, line: number, offset: number): Position {
  if (line > MAX_LINE) throw new Error(`${file}: more than ${MAX_LINE} lines; split the file`);
  return {
    seq: (BigInt(index) << LINE_BITS) + BigInt(line),
    resume: JSON.stringify({ file, index, line, offset }),
  };
}

export function streamPosition(stream: string, seq: number, base: number): Position {
  return { seq: BigInt(base) + BigInt(seq), resume: JSON.stringify({ stream, seq, base }) };
}

/** A resume string this source wrote; throws on anything else (another source's position). */
export function parsePosition(resume: string): DebeziumPosition {
  let value: unknown;
  try {
    value = JSON.parse(resume);
  } catch {
    value = undefined;
  }
  if (isRecord(value)) {
    const { file, index, line, offset, stream, seq, base } = value;
    if (typeof file === 'string' && isCount(index) && isCount(line) && isCount(offset))
      return { kind: 'file', file, index, line, offset };
    if (typeof stream === 'string' && isCount(seq) && isCount(base))
      return { kind: 'stream', stream, seq, base };
  }
  throw new Error(`cannot resume from ${JSON.stringify(resume)}: it is not a position of a debezium source`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
