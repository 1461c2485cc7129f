/**
 * Reads a project folder (the only file-system access the compiler needs) and hands the
 * texts to the core. Paths in diagnostics are shown as the user named the project.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { error, type Diagnostic } from '../core/diagnostics.js';
import { parseYamlFile } from '../core/definitions/document.js';
import { issuesToDiagnostics } from '../core/definitions/issues.js';
import { keysAt } from '../core/definitions/schema-keys.js';
import { ProjectConfig } from '../core/definitions/schema.js';
import { buildModel, type DefinitionFile, type DefinitionKind } from '../core/model/build.js';
import type { SemanticModel } from '../core/model/types.js';

export interface LoadedProject {
  dir: string;
  config: ProjectConfig;
  model: SemanticModel;
  diagnostics: Diagnostic[];
}

const FOLDERS: readonly [string, DefinitionKind][] = [
  ['definitions/sources', 'source'],
  ['definitions/inputs', 'input'],
  ['trackers', 'tracker'],
];

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
}

export function readDefinitionFiles(dir: string): DefinitionFile[] {
  return FOLDERS.flatMap(([folder, kind]) =>
    yamlFiles(join(dir, folder)).map((file) => {
      const path = join(dir, folder, file);
      return { path, kind, text: readFileSync(path, 'utf8') };
    }),
  );
}

export function readConfig(dir: string): { config: ProjectConfig; diagnostics: Diagnostic[] } {
  const path = ['strata.yaml', 'strata.yml'].map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!path) return { config: {}, diagnostics: [] };
  const parsed = parseYamlFile(path, readFileSync(path, 'utf8'));
  if (parsed.diagnostics.length > 0) return { config: {}, diagnostics: parsed.diagnostics };
  const result = ProjectConfig.safeParse(parsed.value ?? {});
  if (!result.success)
    return {
      config: {},
      diagnostics: issuesToDiagnostics(parsed, result.error.issues, (p) => keysAt(ProjectConfig, p)),
    };
  return { config: result.data, diagnostics: [] };
}

export function loadProject(dir: string): LoadedProject {
  const diagnostics: Diagnostic[] = [];
  if (!existsSync(dir)) diagnostics.push(error('no_project', `project folder ${dir} does not exist`));
  const { config, diagnostics: configProblems } = readConfig(dir);
  const files = readDefinitionFiles(dir);
  if (files.length === 0 && diagnostics.length === 0) {
    diagnostics.push(
      error(
        'no_definitions',
        `no definitions found under ${join(dir, 'definitions')}`,
        undefined,
        'put sources in definitions/sources/*.yaml and inputs in definitions/inputs/*.yaml',
      ),
    );
  }
  const { model, diagnostics: modelProblems } = buildModel(files);
  return { dir, config, model, diagnostics: [...diagnostics, ...configProblems, ...modelProblems] };
}
