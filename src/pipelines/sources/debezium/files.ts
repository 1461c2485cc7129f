/**
 * Newline-delimited files, streamed a line at a time (never a whole file in memory), each
 * line with its number and the byte offset after it, so a restart seeks straight past the
 * last committed line instead of reading the file again.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

export interface FileLine {
  /** 1-based. */
  line: number;
  /** The byte after the line (its newline included). */
  end: number;
  text: string;
}

/** Where to read from: after `line`, which ends at byte `offset` (0, 0: the beginning). */
export interface LineCursor {
  line: number;
  offset: number;
}

const NEWLINE = 0x0a;
const CHUNK_BYTES = 64 * 1024;

/**
 * The lines of `path` after `cursor`. `name` (the path as the definition lists it) is what
 * errors show. A trailing `\r` is dropped, and a UTF-8 byte-order mark at the start of a file.
 */
export async function* readLines(path: string, name: string, cursor: LineCursor): AsyncGenerator<FileLine> {
  if (cursor.offset > 0) await checkResumeOffset(path, name, cursor.offset);
  const stream = createReadStream(path, { start: cursor.offset, highWaterMark: CHUNK_BYTES });
  let line = cursor.line;
  /** The bytes of the line being read that came in earlier chunks, and where it starts in the file. */
  let partial: Buffer[] = [];
  let lineStart = cursor.offset;
  let chunkStart = cursor.offset;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
        const bytes =
          partial.length > 0
            ? Buffer.concat([...partial, chunk.subarray(from, nl)])
            : chunk.subarray(from, nl);
        partial = [];
        line++;
        const end = chunkStart + nl + 1;
        yield { line, end, text: textOf(bytes, lineStart) };
        lineStart = end;
        from = nl + 1;
      }
      if (from < chunk.length) partial.push(chunk.subarray(from));
      chunkStart += chunk.length;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${name}: no such file`);
    throw e;
  } finally {
    stream.destroy();
  }
  // The last line, without a newline after it.
  if (partial.length > 0) {
    line++;
    yield { line, end: chunkStart, text: textOf(Buffer.concat(partial), lineStart) };
  }
}

function textOf(bytes: Buffer, start: number): string {
  let text = bytes.toString('utf8');
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (start === 0 && text.startsWith('\uFEFF')) text = text.slice(1);
  return text;
}

/**
 * A committed offset must still fall just after a line: a file rewritten since would
 * otherwise be read from the middle of a line, or past lines never read.
 */
async function checkResumeOffset(path: string, name: string, offset: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${name}: no such file`);
    throw e;
  }
  try {
    const { size } = await handle.stat();
    if (offset > size)
      throw new Error(
        `${name} is shorter (${size} bytes) than the committed position (byte ${offset}): it changed since; put the changed lines in a new file`,
      );
    if (offset === size) return;
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset - 1);
    if (byte[0] !== NEWLINE)
      throw new Error(
        `${name}: the committed position (byte ${offset}) is not at the end of a line: the file changed since; put the changed lines in a new file`,
      );
  } finally {
    await handle.close();
  }
}
