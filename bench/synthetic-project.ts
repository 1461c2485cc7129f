/**
 * Synthetic projects for the compile benchmark: N sources of 20 fields and 5 measures,
 * joined in a graph (a random spanning tree plus extra cross joins), and inputs over 1-4
 * sources with dimensions, measures, filters and sorts. Deterministic for a seed.
 */
import { prng } from '../test/support/prng.js';

const FIELD_TYPES = ['string', 'integer', 'decimal', 'date', 'timestamp', 'boolean'] as const;

export interface SyntheticFile {
  path: string;
  kind: 'source' | 'input';
  text: string;
}

const sourceName = (i: number) => `s${i}`;
const fieldType = (f: number) => FIELD_TYPES[f % FIELD_TYPES.length]!;

/** Sources whose shortest join path from `root` is unique (ties would need `via`). */
function uniquelyReachable(root: number, neighbours: number[][]): Set<number> {
  const distance = new Map([[root, 0]]);
  const paths = new Map([[root, 1]]);
  let frontier = [root];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const node of frontier) {
      for (const other of neighbours[node]!) {
        const d = distance.get(other);
        if (d === undefined) {
          distance.set(other, distance.get(node)! + 1);
          paths.set(other, paths.get(node)!);
          next.push(other);
        } else if (d === distance.get(node)! + 1) paths.set(other, paths.get(other)! + paths.get(node)!);
      }
    }
    frontier = next;
  }
  return new Set([...paths].filter(([, n]) => n === 1).map(([node]) => node));
}

export function syntheticProject(sourceCount: number, inputCount: number, seed = 42): SyntheticFile[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const neighbours: number[][] = Array.from({ length: sourceCount }, () => []);
  const joins: string[][] = Array.from({ length: sourceCount }, () => []);
  const addJoin = (child: number, parent: number) => {
    neighbours[child]!.push(parent);
    neighbours[parent]!.push(child);
    joins[child]!.push(
      `  - { to: ${sourceName(parent)}, relationship: many_to_one, on: { p${parent}_id: id } }`,
    );
  };
  for (let i = 1; i < sourceCount; i++) addJoin(i, Math.floor(random() * i));
  for (let k = 0; k < sourceCount / 10; k++) {
    const a = 1 + Math.floor(random() * (sourceCount - 1));
    const b = Math.floor(random() * a);
    if (!neighbours[a]!.includes(b)) addJoin(a, b);
  }
  const files: SyntheticFile[] = [];
  for (let i = 0; i < sourceCount; i++) {
    const fkFields = neighbours[i]!.filter(
      (p) => p < i && joins[i]!.some((j) => j.includes(`to: ${sourceName(p)},`)),
    ).map((p) => `  - { name: p${p}_id, type: integer }`);
    const fields = Array.from(
      { length: 20 - 1 - fkFields.length },
      (_, f) => `  - { name: f${f}, type: ${fieldType(f)}${f % 7 === 3 ? `, format: "#,##0.00"` : ''} }`,
    );
    const measures = [
      `  - { name: row_count, aggregate: count }`,
      `  - { name: total_f1, aggregate: sum, sql: f1 }`,
      `  - { name: avg_f2, aggregate: avg, sql: f2 }`,
      `  - { name: flagged, aggregate: count, filter: "f5" }`,
      `  - { name: per_row, expression: "{total_f1} / NULLIF({row_count}, 0)" }`,
    ];
    const text = [
      `name: ${sourceName(i)}`,
      `description: Synthetic source ${i}.`,
      `table: bench.t${i}`,
      `primaryKey: id`,
      `fields:`,
      `  - { name: id, type: integer }`,
      ...fkFields,
      ...fields,
      `measures:`,
      ...measures,
      ...(joins[i]!.length > 0 ? ['joins:', ...joins[i]!] : []),
    ].join('\n');
    files.push({ path: `definitions/sources/${sourceName(i)}.yaml`, kind: 'source', text: `${text}\n` });
  }
  for (let q = 0; q < inputCount; q++) {
    const root = Math.floor(random() * sourceCount);
    const reachable = uniquelyReachable(root, neighbours);
    const used = [root];
    const want = 1 + Math.floor(random() * 4);
    for (let attempt = 0; used.length < want && attempt < 20; attempt++) {
      const next = pick(neighbours[pick(used)]!);
      if (next !== undefined && !used.includes(next) && reachable.has(next)) used.push(next);
    }
    const fields = used.flatMap((s, k) => [
      `  - ${sourceName(s)}.f${k % 2 === 0 ? 0 : 4}`,
      ...(k === used.length - 1 && random() < 0.7 ? [`  - ${sourceName(s)}.total_f1`] : []),
    ]);
    const distinct = [...new Set(fields)];
    const names = new Map<string, number>();
    const selected = distinct.map((line) => {
      const field = line.split('.')[1]!;
      const seen = names.get(field) ?? 0;
      names.set(field, seen + 1);
      return seen === 0 ? line : `  - { field: ${line.slice(4)}, as: ${field}_${seen} }`;
    });
    const filterSource = sourceName(pick(used));
    const text = [
      `name: q${q}`,
      `from: ${sourceName(root)}`,
      'fields:',
      ...selected,
      'filters:',
      `  - { field: ${filterSource}.f1, op: gt, value: ${Math.floor(random() * 100)} }`,
      `  - { field: ${filterSource}.f0, op: in, values: [a, b, "c'd"] }`,
      'limit: 1000',
    ].join('\n');
    files.push({ path: `definitions/inputs/q${q}.yaml`, kind: 'input', text: `${text}\n` });
  }
  return files;
}
