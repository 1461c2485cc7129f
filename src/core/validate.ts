/**
 * Validation of a whole project beyond its files' shapes: every input resolved and planned,
 * every tracker checked against its input's real columns, every pipeline's columns and SQL. Reports everything it finds and
 * never throws (see Compiler.check and checkTracker).
 */
import { Compiler } from './compile.js';
import type { Diagnostic } from './diagnostics.js';
import type { SemanticModel } from './model/types.js';
import { checkPipeline } from './pipelines.js';
import { checkTracker } from './trackers.js';

/** The problems of the model's inputs and trackers; uses of a broken source stay quiet (its own errors say it). */
export function validateModel(model: SemanticModel, compiler = new Compiler(model)): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const input of model.inputs.values())
    diagnostics.push(...compiler.check(input, { validateOnly: true }));
  for (const tracker of model.trackers.values()) diagnostics.push(...checkTracker(tracker, compiler));
  for (const pipeline of model.pipelines.values()) diagnostics.push(...checkPipeline(pipeline, model));
  return diagnostics.filter((d) => d.code !== 'broken_dependency');
}
