/**
 * Lineage for review: which inputs and trackers use a field or measure (`strata impact`).
 * An input uses `source.member` when a selected field, a filter or a sort refers to it,
 * directly or through a derived measure.
 */
import type { Compiler } from './compile.js';
import { resolveInput } from './plan/resolve.js';
import type { MeasureUse, QuerySpec } from './plan/spec.js';

function measureRefs(use: MeasureUse): string[] {
  const own = `${use.measure.source}.${use.measure.name}`;
  return [own, ...(use.parts ?? []).flatMap(measureRefs)];
}

/** Every `source.member` a resolved query refers to. */
export function referencedMembers(spec: QuerySpec): Set<string> {
  const refs = new Set<string>();
  for (const c of [...spec.columns, ...spec.hidden]) {
    if (c.kind === 'dimension') refs.add(`${c.field.source}.${c.field.name}`);
    else measureRefs(c.use).forEach((r) => refs.add(r));
  }
  for (const atom of [...spec.where, ...spec.having].flat()) {
    if (atom.target.kind === 'field') refs.add(`${atom.target.field.source}.${atom.target.field.name}`);
    else measureRefs(atom.target.use).forEach((r) => refs.add(r));
  }
  return refs;
}

export function usagesOf(compiler: Compiler, ref: string): { inputs: string[]; trackers: string[] } {
  const inputs = [...compiler.model.inputs.values()]
    .filter((input) => {
      const { spec } = resolveInput(compiler.model, input, { validateOnly: true });
      return spec !== undefined && referencedMembers(spec).has(ref);
    })
    .map((i) => i.name)
    .sort();
  const trackers = [...compiler.model.trackers.values()]
    .filter((t) => inputs.includes(t.definition.input))
    .map((t) => t.name)
    .sort();
  return { inputs, trackers };
}
