/** The names a project defines, as its JSON Schema offers them (see json-schema.ts). */
import type { SemanticModel } from '../model/types.js';
import type { ProjectNames } from './json-schema.js';

export function projectNames(model: SemanticModel): ProjectNames {
  const sources = [...model.sources.values()];
  return {
    fields: sources
      .flatMap((s) => [...s.fields.keys(), ...s.measures.keys()].map((member) => `${s.name}.${member}`))
      .sort(),
    sources: sources.map((s) => s.name).sort(),
    inputs: [...model.inputs.keys()].sort(),
  };
}
