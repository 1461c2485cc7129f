/**
 * Reads a project folder (the only file-system access the compiler needs) and hands the
 * texts to the core. Paths in diagnostics are shown as the user named the project.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkTrackerAlerts } from '../core/alerts.js';
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
  ['definitions/pipelines', 'pipeline'],
];

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
}

/**
 * Limits that bound what validation can cost (parsing YAML takes about 50 times its size in
 * memory): a definition file larger than MAX_DEFINITION_BYTES is refused unread, and files
 * past MAX_PROJECT_BYTES in all are not read. Real definitions are a few KiB each.
 */
export const MAX_DEFINITION_BYTES = 1024 * 1024;
export const MAX_PROJECT_BYTES = 4 * 1024 * 1024;

export function readDefinitionFiles(dir: string, problems: Diagnostic[] = []): DefinitionFile[] {
  const files: DefinitionFile[] = [];
  let total = 0;
  for (const [folder, kind] of FOLDERS) {
    for (const file of yamlFiles(join(dir, folder))) {
      const path = join(dir, folder, file);
      const read = readDefinitionText(path);
      if (typeof read !== 'string') {
        problems.push(read);
        continue;
      }
      total += Buffer.byteLength(read);
      if (total > MAX_PROJECT_BYTES) {
        problems.push(
          error(
            'project_too_large',
            `the definitions add up to more than ${MAX_PROJECT_BYTES / 1024 / 1024} MiB; ${path} and the files after it were not read`,
            { file: path, line: 1, col: 1 },
          ),
        );
        return files;
      }
      files.push({ path, kind, text: read });
    }
  }
  return files;
}

/**
 * The text of a definition file, or why it cannot be one: not a regular file (a directory,
 * a device, a broken link), too large, or unreadable. Never reads more than the limit.
 */
export function readDefinitionText(path: string, limit = MAX_DEFINITION_BYTES): string | Diagnostic {
  const at = { file: path, line: 1, col: 1 };
  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) {
      const what = stats.isDirectory() ? 'a directory' : 'a device or special file';
      return error('unreadable_file', `${path} is ${what}, not a definition file`, at, 'rename or remove it');
    }
    size = stats.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it is a link to nothing' : (e as Error).message;
    return error('unreadable_file', `cannot read ${path}: ${why}`, at);
  }
  if (size > limit) return tooLarge(path, size, limit);
  // Read at most limit + 1 bytes: the file may grow between stat and read.
  const buffer = Buffer.alloc(Math.min(size, limit) + 1);
  let length: number;
  try {
    const fd = openSync(path, 'r');
    try {
      length = readSync(fd, buffer, 0, buffer.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return error('unreadable_file', `cannot read ${path}: ${(e as Error).message}`, at);
  }
  if (length > limit) return tooLarge(path, length, limit);
  return buffer.subarray(0, length).toString('utf8');
}

function tooLarge(path: string, size: number, limit: number): Diagnostic {
  return error(
    'file_too_large',
    `${path} is ${(size / 1024).toFixed(0)} KiB; a definition file may hold at most ${limit / 1024} KiB`,
    { file: path, line: 1, col: 1 },
    'split it, one source or input per file',
  );
}

export function readConfig(dir: string): { config: ProjectConfig; diagnostics: Diagnostic[] } {
  const path = ['strata.yaml', 'strata.yml'].map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!path) return { config: {}, diagnostics: [] };
  const text = readDefinitionText(path);
  if (typeof text !== 'string') return { config: {}, diagnostics: [text] };
  const parsed = parseYamlFile(path, text);
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
  const files = readDefinitionFiles(dir, diagnostics);
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
  // Against an invalid strata.yaml every channel would look unknown: its own errors say enough.
  const alertProblems =
    configProblems.length > 0
      ? []
      : [...model.trackers.values()].flatMap((t) => checkTrackerAlerts(t, config.alerts));
  return {
    dir,
    config,
    model,
    diagnostics: [...diagnostics, ...configProblems, ...modelProblems, ...alertProblems],
  };
}
