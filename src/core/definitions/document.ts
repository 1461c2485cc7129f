/**
 * YAML text -> plain value, keeping a way back from any path in the value to the
 * line and column of its node, so every later error can point at the file.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { error, type Diagnostic, type SourceLocation } from '../diagnostics.js';

export type ValuePath = readonly (string | number)[];

export interface ParsedFile {
  file: string;
  value: unknown;
  /** Where the node at `path` starts; `key: true` points at the map key instead of its value. */
  locate(path: ValuePath, options?: { key?: boolean }): SourceLocation;
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
    position(offsetOf(doc.contents, path, options.key ?? false));
  const value = diagnostics.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 });
  return { file, value, locate, diagnostics };
}

/** The start offset of the deepest node found along `path` (so a missing key points at its parent). */
function offsetOf(root: Node | null, path: ValuePath, wantKey: boolean): number {
  let node: Node | null = root;
  let offset = root?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const step = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = (node.items as Pair<Node, Node | null>[]).find(
        (p) => isScalar(p.key) && String(p.key.value) === String(step),
      );
      if (!pair) break;
      if (last && wantKey) return pair.key.range?.[0] ?? offset;
      node = pair.value;
      offset = node?.range?.[0] ?? pair.key.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset;
}
