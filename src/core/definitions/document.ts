/**
 * YAML text -> plain value, keeping a way back from any path in the value to the
 * line and column of its node, so every later error can point at the file.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  type Node,
  type Pair,
} from 'yaml';
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
  const shape = checkShape(doc.contents, text, position);
  const diagnostics: Diagnostic[] = [
    ...[...doc.errors, ...doc.warnings]
      // A document nested too deep is reported once, by checkShape, in words a person can act on.
      .filter((e) => !(shape.tooDeep && /call stack/i.test(e.message)))
      .map((e) => error('yaml_syntax', e.message.split('\n')[0] ?? e.message, position(e.pos[0]))),
    ...shape.diagnostics,
  ];
  const locate = (path: ValuePath, options: { key?: boolean } = {}): SourceLocation =>
    position(find(doc.contents, path, options.key ?? false).offset);
  const locateWithin = (path: ValuePath, offset: number): SourceLocation => {
    const found = find(doc.contents, path, false);
    return position(
      found.complete && isScalar(found.node) ? offsetInScalar(text, found.node, offset) : found.offset,
    );
  };
  let value: unknown;
  if (diagnostics.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    } catch (e) {
      const at = shape.firstAlias !== undefined ? position(shape.firstAlias) : { file, line: 1, col: 1 };
      diagnostics.push(
        error(
          'yaml_aliases',
          /excessive alias/i.test((e as Error).message)
            ? `the file's aliases expand to too many nodes (more than ${MAX_ALIAS_EXPANSIONS} uses of an anchor)`
            : `cannot expand the file's aliases: ${(e as Error).message}`,
          at,
          'write the values out, or use fewer *aliases',
        ),
      );
    }
  }
  return { file, value, locate, locateWithin, diagnostics };
}

/** Definitions are shallow; anything deeper is a mistake or an attack, and would exhaust the stack later. */
export const MAX_NESTING = 64;
const MAX_ALIAS_EXPANSIONS = 100;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/**
 * One iterative walk over the YAML tree (no recursion: it must survive any depth): nodes
 * nested deeper than MAX_NESTING, aliases to anchors never defined before them, and control
 * characters in strings (a NUL in a description reaches Sheets, files and logs).
 */
function checkShape(
  root: Node | null,
  text: string,
  position: (offset: number) => SourceLocation,
): { diagnostics: Diagnostic[]; tooDeep: boolean; firstAlias?: number } {
  const diagnostics: Diagnostic[] = [];
  const anchors = new Set<string>();
  let tooDeep = false;
  let firstAlias: number | undefined;
  const stack: { node: unknown; depth: number }[] = root ? [{ node: root, depth: 0 }] : [];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (node === null || node === undefined) continue;
    const start = (node as Node).range?.[0] ?? 0;
    if (depth > MAX_NESTING) {
      if (!tooDeep)
        diagnostics.push(
          error('too_deep', `the definition is nested more than ${MAX_NESTING} levels deep`, position(start)),
        );
      tooDeep = true;
      continue;
    }
    if (isAlias(node)) {
      firstAlias ??= start;
      if (!anchors.has(node.source))
        diagnostics.push(
          error(
            'yaml_aliases',
            `*${node.source} refers to no anchor (&${node.source}) defined before it`,
            position(start),
          ),
        );
      continue;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.add(anchor);
    if (isScalar(node)) {
      const match = typeof node.value === 'string' ? CONTROL_CHARACTER.exec(node.value) : null;
      if (match)
        diagnostics.push(
          error(
            'control_character',
            `control character U+${match[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} in a string`,
            position(offsetInScalar(text, node, match.index)),
            'remove it; definitions hold printable text',
          ),
        );
    } else if (isMap(node) || isSeq(node)) {
      // Pushed in reverse, so that nodes are visited (and anchors seen) in document order.
      const children = (node.items as unknown[]).flatMap((item) =>
        isPair(item) ? [item.key, item.value] : [item],
      );
      for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i], depth: depth + 1 });
    }
  }
  return { diagnostics, tooDeep, ...(firstAlias !== undefined ? { firstAlias } : {}) };
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
