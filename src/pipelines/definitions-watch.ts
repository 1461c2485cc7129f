/**
 * The project as a long-running process sees it: reloaded from disk on every scan, so pipelines
 * follow definition changes without a restart; while the definitions have errors, the last
 * good project stays in force (a half-saved file never stops or reshapes running pipelines),
 * and the errors are logged once each time they change.
 */
import { Compiler } from '../core/compile.js';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { formatDiagnostic, type Diagnostic } from '../core/diagnostics.js';
import type { SemanticModel } from '../core/model/types.js';
import { checkPipeline } from '../core/pipelines.js';
import { registerConfiguredSecrets } from '../engines/secrets.js';
import { loadProject } from '../project/load-project.js';

export interface PipelineProject {
  config: ProjectConfig;
  model: SemanticModel;
  compiler: Compiler;
}

export interface DefinitionsLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** The errors that keep a project from replacing the last good one: its files', and every pipeline's. */
export function pipelineProjectErrors(project: {
  model: SemanticModel;
  diagnostics: Diagnostic[];
}): Diagnostic[] {
  const errors = project.diagnostics.filter((d) => d.severity === 'error');
  for (const pipeline of project.model.pipelines.values())
    errors.push(...checkPipeline(pipeline, project.model).filter((d) => d.severity === 'error'));
  return errors;
}

export class DefinitionsWatch {
  private good: PipelineProject | undefined;
  private reported = '';

  constructor(
    private readonly projectDir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: DefinitionsLog,
  ) {}

  /** The last good project (undefined until the definitions were valid once). */
  get current(): PipelineProject | undefined {
    return this.good;
  }

  /** Reads the project again; returns the project in force. */
  reload(): PipelineProject | undefined {
    const project = loadProject(this.projectDir);
    // Registered even from invalid definitions: a failing pipeline may quote any of them.
    registerConfiguredSecrets(
      {
        config: project.config,
        trackers: project.model.trackers.values(),
        pipelines: project.model.pipelines.values(),
      },
      this.env,
    );
    const errors = pipelineProjectErrors(project);
    this.report(errors);
    if (errors.length === 0)
      this.good = { config: project.config, model: project.model, compiler: new Compiler(project.model) };
    return this.good;
  }

  private report(errors: readonly Diagnostic[]): void {
    const lines = errors.map(formatDiagnostic);
    const key = lines.join('\n');
    if (key === this.reported) return;
    this.reported = key;
    if (lines.length === 0) this.log.info({}, 'pipeline definitions are valid again');
    else
      this.log.warn(
        { problems: lines, keeping: this.good ? 'the last valid definitions' : 'nothing (none valid yet)' },
        'invalid definitions: pipelines keep running as last defined',
      );
  }
}

/** JSON with object keys sorted: equal definitions give equal text, whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
