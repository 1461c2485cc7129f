/**
 * YAML text -> plain value, keeping a way back from any path in the value to the
 * line and column of its node, so every later error can point at the file.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Node, type Pair } from 'yaml';
import { error, type Diagnostic, type SourceLocation } from '../diagnostics.js';

export type ValuePath = readonly (string | number)[];

export interface ParsedFile {
  file: string;
  value: unknown;
  /** Where the node at `path` starts; `key: true` points at the map key instead of its value. */
  locate(path: ValuePath, options?: { key?: boolean }): SourceLocation;
  /** Where the character at `offset` of the string at `path` is written (quotes, escapes and block indentation accounted for). */
  locateWithin(path: ValuePath, offset: number): SourceLocation;
  diagnostics: Diagnostic[];
}

export function parseYamlFile(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, version: '1.2' });
  const position = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const diagnostics: Diagnostic[] = [...doc.errors, ...doc.warnings].map((e) =>
    error('yaml_syntax', e.message.split('\n')[0] ?? e.message, position(e.pos[0])),
  );
  const locate = (path: ValuePath, options: { key?: boolean } = {}): SourceLocation =>
    position(find(doc.contents, path, options.key ?? false).offset);
  const locateWithin = (path: ValuePath, offset: number): SourceLocation => {
    const found = find(doc.contents, path, false);
    return position(
      found.complete && isScalar(found.node) ? offsetInScalar(text, found.node, offset) : found.offset,
    );
  };
  const value = diagnostics.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 });
  return { file, value, locate, locateWithin, diagnostics };
}

/**
 * The deepest node found along `path` and its start offset (so a missing key points at its
 * parent); `complete` when the whole path was found.
 */
function find(
  root: Node | null,
  path: ValuePath,
  wantKey: boolean,
): { node: Node | null; offset: number; complete: boolean } {
  let node: Node | null = root;
  let offset = root?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = (node.items as Pair<Node, Node | null>[]).find(
        (p) => isScalar(p.key) && String(p.key.value) === String(step),
      );
      if (!pair) return { node, offset, complete: false };
      if (last && wantKey) return { node: pair.key, offset: pair.key.range?.[0] ?? offset, complete: true };
      node = pair.value;
      offset = node?.range?.[0] ?? pair.key.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step] as Node | undefined;
      if (!item) return { node, offset, complete: false };
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      return { node, offset, complete: false };
    }
  }
  return { node, offset, complete: true };
}

/**
 * The source offset of character `valueOffset` of a scalar's value: past the opening quote,
 * counting `''` and backslash escapes as one character, a line break (and the indentation
 * after it) as one, and skipping a block scalar's header line and indentation.
 */
function offsetInScalar(text: string, node: Scalar, valueOffset: number): number {
  const [start, end] = node.range ?? [0, 0];
  const block = node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED;
  let i = start;
  let indent = 0;
  if (block) {
    i = text.indexOf('\n', start) + 1;
    if (i === 0) return start;
    const firstLine = /^(?:[ \t]*\n)*( *)/.exec(text.slice(i, end))!;
    i += firstLine[0].length;
    indent = firstLine[1]!.length;
  } else if (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) {
    i++;
  }
  for (let v = 0; v < valueOffset && i < end; v++) {
    const c = text[i]!;
    if (c === '\n') {
      i++;
      const limit = block ? i + indent : end;
      while (i < limit && (text[i] === ' ' || text[i] === '\t')) i++;
    } else if (node.type === Scalar.QUOTE_SINGLE && c === "'" && text[i + 1] === "'") {
      i += 2;
    } else if (node.type === Scalar.QUOTE_DOUBLE && c === '\\') {
      const kind = text[i + 1];
      i += kind === 'x' ? 4 : kind === 'u' ? 6 : kind === 'U' ? 10 : 2;
    } else {
      i++;
    }
  }
  return i;
}
