/** The keys a strict object schema allows at a path: used for "did you mean" on unknown keys. */
import type { z } from 'zod';
import type { ValuePath } from './document.js';

type AnySchema = z.core.$ZodType;

interface Def {
  type: string;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  options?: AnySchema[];
  innerType?: AnySchema;
  valueType?: AnySchema;
  in?: AnySchema;
  getter?: () => AnySchema;
}

const defOf = (schema: AnySchema): Def => schema._zod.def as unknown as Def;

function unwrap(schema: AnySchema): AnySchema[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return def.innerType ? unwrap(def.innerType) : [];
    case 'union':
      return (def.options ?? []).flatMap(unwrap);
    case 'pipe':
      return def.in ? unwrap(def.in) : [];
    case 'lazy':
      return def.getter ? unwrap(def.getter()) : [];
    default:
      return [schema];
  }
}

export function keysAt(schema: AnySchema, path: ValuePath): string[] {
  let candidates = unwrap(schema);
  for (const step of path) {
    candidates = candidates.flatMap((candidate) => {
      const def = defOf(candidate);
      if (def.type === 'object' && typeof step === 'string' && def.shape?.[step])
        return unwrap(def.shape[step]);
      if (def.type === 'array' && typeof step === 'number' && def.element) return unwrap(def.element);
      if (def.type === 'record' && def.valueType) return unwrap(def.valueType);
      return [];
    });
  }
  return [...new Set(candidates.flatMap((c) => Object.keys(defOf(c).shape ?? {})))];
}
