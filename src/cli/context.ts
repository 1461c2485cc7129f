/** What every command shares: loading the project, parsing --param, reporting errors. */
import { closest } from '../core/suggest.js';
import { existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Caller } from '../core/access/policy.js';
import { resolve } from 'node:path';
import { compareDiagnostics, formatDiagnostic, StrataError, type Diagnostic } from '../core/diagnostics.js';
import { buildModel } from '../core/model/build.js';
import type { InputModel } from '../core/model/types.js';
import { QueryError } from '../engines/engine.js';
import { UsageError } from '../engines/open-engine.js';
import { ImportError } from '../import/import-error.js';
import { redact, registerConfiguredSecrets } from '../engines/secrets.js';
import {
  loadProject,
  readDefinitionFiles,
  readDefinitionText,
  type LoadedProject,
} from '../project/load-project.js';

export interface GlobalOptions {
  project: string;
  verbose?: boolean;
}

/** Diagnostic codes that mean the command was called wrongly rather than the project being invalid. */
const USAGE_CODES = new Set(['unknown_input', 'missing_param', 'unknown_param', 'invalid_param']);

export function loadValidProject(dir: string): LoadedProject {
  const project = loadProject(dir);
  registerConfiguredSecrets({
    config: project.config,
    trackers: project.model.trackers.values(),
    pipelines: project.model.pipelines.values(),
  });
  const errors = project.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new StrataError(errors);
  return project;
}

/** `<input>` is a name, or a path to an input file (which may live outside the project). */
export function findInput(project: LoadedProject, nameOrPath: string): InputModel {
  const looksLikePath =
    nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml') || nameOrPath.includes('/');
  if (!looksLikePath) {
    const input = project.model.inputs.get(nameOrPath);
    if (!input) {
      const suggestion = closest(nameOrPath, project.model.inputs.keys());
      throw new UsageError(
        `unknown input '${nameOrPath}' (${suggestion ? `did you mean ${suggestion}? ` : ''}see definitions/inputs/)`,
      );
    }
    return input;
  }
  if (!existsSync(nameOrPath)) throw new UsageError(`input file ${nameOrPath} does not exist`);
  const target = resolve(nameOrPath);
  const files = readDefinitionFiles(project.dir).filter(
    (f) => f.kind === 'source' || resolve(f.path) !== target,
  );
  const { model, diagnostics } = buildModel([
    ...files,
    { path: nameOrPath, kind: 'input', text: definitionText(nameOrPath) },
  ]);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new StrataError(errors);
  const input = [...model.inputs.values()].find((i) => i.file === nameOrPath);
  if (!input) throw new UsageError(`${nameOrPath} holds no input definition`);
  return input;
}

/** A definition file's text, or its problem (a directory, a device, too large) as an error. */
function definitionText(path: string): string {
  const text = readDefinitionText(path);
  if (typeof text !== 'string') throw new StrataError([text]);
  return text;
}

export interface CallerFlags {
  /** `--as role1,role2` */
  as?: string;
  /** `--attr name=value`, repeated */
  attr?: string[];
}

/**
 * `--as` and `--attr` as a caller; undefined without `--as` (the CLI is then a trusted local
 * user). Attribute values are read as YAML scalars: `42` is a number, `true` a boolean.
 */
export function parseCaller(flags: CallerFlags): Caller | undefined {
  const attributes: Record<string, string | number | boolean> = {};
  for (const pair of flags.attr ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--attr expects name=value, got '${pair}'`);
    attributes[pair.slice(0, eq)] = scalarOf(pair.slice(eq + 1));
  }
  if (flags.as === undefined) {
    if ((flags.attr ?? []).length > 0)
      throw new UsageError('--attr describes the caller of --as: give --as too');
    return undefined;
  }
  const roles = flags.as
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  return { roles, attributes };
}

function scalarOf(text: string): string | number | boolean {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    return text;
  }
  return typeof value === 'number' || typeof value === 'boolean' ? value : text;
}

export function parseParams(pairs: readonly string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param expects name=value, got '${pair}'`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

export function collectRepeated(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A report command's `--format`: `table` (for people, the default) or `json` (for tools). */
export type ReportFormat = 'table' | 'json';

export function reportFormat(value: string | undefined, command: string): ReportFormat {
  const format = value ?? 'table';
  if (format !== 'table' && format !== 'json')
    throw new UsageError(`unknown format '${format}' for ${command} (expected table, json)`);
  return format;
}

/** Diagnostics as JSON objects: flat positions, sorted as printed, secrets redacted. */
export function diagnosticsAsJson(diagnostics: readonly Diagnostic[]): Record<string, unknown>[] {
  return [...diagnostics].sort(compareDiagnostics).map((d) => ({
    severity: d.severity,
    code: d.code,
    message: redact(d.message),
    ...(d.location ? { file: d.location.file, line: d.location.line, col: d.location.col } : {}),
    ...(d.hint ? { hint: redact(d.hint) } : {}),
  }));
}

export function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of [...diagnostics].sort(compareDiagnostics))
    process.stderr.write(`${redact(formatDiagnostic(d))}\n`);
}

/** Runs a command body and turns failures into one clear line each and the spec's exit codes. */
export async function runCommand(options: GlobalOptions, body: () => Promise<number | void>): Promise<void> {
  registerConfiguredSecrets({});
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (e) {
    process.exitCode = reportFailure(e, options.verbose ?? false);
  }
}

function reportFailure(e: unknown, verbose: boolean): number {
  if (e instanceof StrataError) {
    printDiagnostics(e.diagnostics);
    return e.diagnostics.every((d) => USAGE_CODES.has(d.code)) ? 2 : 1;
  }
  const usage = e instanceof UsageError;
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`error: ${redact(message)}\n`);
  if (verbose && e instanceof Error && e.stack) process.stderr.write(`${redact(e.stack)}\n`);
  else if (
    !usage &&
    !(e instanceof QueryError) &&
    !(e instanceof ImportError) &&
    e instanceof Error &&
    !verbose
  ) {
    process.stderr.write('(run with --verbose for details)\n');
  }
  return usage ? 2 : 1;
}
