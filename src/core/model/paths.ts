/**
 * Join paths: the shortest path from the input's root to each source it needs, with ties
 * reported (not guessed) and `via: [...]` to pick one.
 */
import type { JoinEdge, SemanticModel } from './types.js';

export type PathResult =
  | { ok: true; edges: JoinEdge[] }
  | { ok: false; reason: 'unreachable' }
  | { ok: false; reason: 'tie'; alternatives: string[][] }
  | { ok: false; reason: 'revisits'; source: string };

interface Search {
  distance: Map<string, number>;
  predecessors: Map<string, JoinEdge[]>;
}

/** Breadth-first search from one source, keeping every predecessor at shortest distance. */
export class JoinPathFinder {
  private readonly searches = new Map<string, Search>();
  private toOneFinder?: JoinPathFinder;

  constructor(
    private readonly model: Pick<SemanticModel, 'joins'>,
    /** The joins a path may follow (every join by default). */
    private readonly follows: (edge: JoinEdge) => boolean = () => true,
  ) {}

  /** Paths along many-to-one and one-to-one joins only: each row has at most one row at the end. */
  toOne(): JoinPathFinder {
    this.toOneFinder ??= new JoinPathFinder(this.model, (edge) => edge.relationship !== 'one_to_many');
    return this.toOneFinder;
  }

  private search(from: string): Search {
    let s = this.searches.get(from);
    if (s) return s;
    const distance = new Map<string, number>([[from, 0]]);
    const predecessors = new Map<string, JoinEdge[]>();
    let frontier = [from];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const node of frontier) {
        const d = distance.get(node)!;
        for (const edge of this.model.joins.get(node) ?? []) {
          if (!this.follows(edge)) continue;
          const seen = distance.get(edge.to);
          if (seen === undefined) {
            distance.set(edge.to, d + 1);
            predecessors.set(edge.to, [edge]);
            next.push(edge.to);
          } else if (seen === d + 1) {
            predecessors.get(edge.to)!.push(edge);
          }
        }
      }
      frontier = next;
    }
    s = { distance, predecessors };
    this.searches.set(from, s);
    return s;
  }

  /** The unique shortest path `from` -> `to` through each `via` source in order. */
  path(from: string, to: string, via: readonly string[] = []): PathResult {
    const stops = [from, ...via, to];
    const edges: JoinEdge[] = [];
    for (let i = 0; i + 1 < stops.length; i++) {
      const segment = this.segment(stops[i]!, stops[i + 1]!);
      if (!segment.ok) return segment;
      edges.push(...segment.edges);
    }
    const visited = new Set([from]);
    for (const edge of edges) {
      if (visited.has(edge.to)) return { ok: false, reason: 'revisits', source: edge.to };
      visited.add(edge.to);
    }
    return { ok: true, edges };
  }

  private segment(from: string, to: string): PathResult {
    if (from === to) return { ok: true, edges: [] };
    const { predecessors } = this.search(from);
    if (!predecessors.has(to)) return { ok: false, reason: 'unreachable' };
    const edges: JoinEdge[] = [];
    let node = to;
    while (node !== from) {
      const preds = predecessors.get(node)!;
      if (preds.length > 1) {
        return { ok: false, reason: 'tie', alternatives: this.enumerate(from, to, 3) };
      }
      edges.unshift(preds[0]!);
      node = preds[0]!.from;
    }
    return { ok: true, edges };
  }

  /** Up to `limit` shortest paths, as the lists of sources strictly between the ends. */
  private enumerate(from: string, to: string, limit: number): string[][] {
    const { predecessors } = this.search(from);
    const results: string[][] = [];
    const walk = (node: string, suffix: string[]): void => {
      if (results.length >= limit) return;
      if (node === from) {
        results.push(suffix.slice(0, -1));
        return;
      }
      for (const edge of predecessors.get(node) ?? []) walk(edge.from, [node, ...suffix]);
    };
    walk(to, []);
    return results;
  }
}
