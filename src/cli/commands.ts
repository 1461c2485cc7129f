/** The commands of issue 2: validate, compile, run, demo. */
import { progress } from '../output/progress.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cdcSources, latestViewStatements, trinoMaintenanceStatements } from '../core/cdc.js';
import type { SemanticModel, SourceModel } from '../core/model/types.js';
import { warehouseExists, warehouseLocation, withWarehouse } from '../engines/warehouse-location.js';
import { Compiler, type CompileOptions } from '../core/compile.js';
import { trackerCompileOptions } from '../core/trackers.js';
import { validateModel } from '../core/validate.js';
import { error, StrataError, type Diagnostic } from '../core/diagnostics.js';
import type { Dialect } from '../core/definitions/schema.js';
import { DIALECTS, ENGINE_DIALECTS, type EngineName } from '../core/definitions/schema.js';
import { QueryError } from '../engines/engine.js';
import { engineName, openEngine, UsageError, type EngineChoice } from '../engines/open-engine.js';
import { loadProject, type LoadedProject } from '../project/load-project.js';
import { registerConfiguredSecrets, registerSecrets } from '../engines/secrets.js';
import { OUTPUT_FORMATS, resultWriter, type OutputFormat } from '../output/writers.js';
import {
  diagnosticsAsJson,
  findInput,
  loadValidProject,
  parseCaller,
  parseParams,
  printDiagnostics,
  reportFormat,
  type CallerFlags,
} from './context.js';

export interface ValidateFlags {
  /** `--database` alone: the configured database; `--database FILE`: that one (as other commands). */
  database?: string | boolean;
  engine?: string;
  /** `table` (diagnostics on stderr as path:line:col) or `json` (one report on stdout, for tools). */
  format?: string;
}

/**
 * Checks the definitions; with `--database` (or `--engine`) also on the engine itself: tables
 * exist, every `sql:` compiles, declared types match (docs/definitions.md).
 */
export async function validateCommand(projectDir: string, flags: ValidateFlags = {}): Promise<number> {
  const format = reportFormat(flags.format, 'validate');
  const project = loadProject(projectDir);
  const diagnostics: Diagnostic[] = [...project.diagnostics, ...validateModel(project.model)];
  const onDatabase = flags.database !== undefined && flags.database !== false;
  if (onDatabase || flags.engine !== undefined) diagnostics.push(...(await databaseProblems(project, flags)));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const { sources, inputs, trackers, pipelines } = project.model;
  const counts = {
    sources: sources.size,
    inputs: inputs.size,
    trackers: trackers.size,
    pipelines: pipelines.size,
  };
  if (format === 'json') {
    const report = { ok: errors === 0, errors, counts, diagnostics: diagnosticsAsJson(diagnostics) };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return errors > 0 ? 1 : 0;
  }
  printDiagnostics(diagnostics);
  if (errors > 0) {
    process.stderr.write(`${count(errors, 'error')}\n`);
    return 1;
  }
  process.stdout.write(
    `ok: ${[
      count(counts.sources, 'source'),
      count(counts.inputs, 'input'),
      count(counts.trackers, 'tracker'),
      count(counts.pipelines, 'pipeline'),
    ].join(', ')}\n`,
  );
  return 0;
}

/** The engine's checks; an engine that cannot be reached is one more error, after the files' own. */
async function databaseProblems(project: LoadedProject, flags: ValidateFlags): Promise<Diagnostic[]> {
  try {
    return await checkOnDatabase(project, flags);
  } catch (e) {
    if (!(e instanceof QueryError)) throw e;
    return [error('database_unavailable', `cannot check on the database: ${e.message}`)];
  }
}

/** The engine-side checks of every usable source (sources with definition errors are left out). */
async function checkOnDatabase(project: LoadedProject, flags: ValidateFlags): Promise<Diagnostic[]> {
  registerConfiguredSecrets({ config: project.config });
  // A connection URL given on the command line may hold a password: never print it.
  if (typeof flags.database === 'string') registerSecrets([flags.database]);
  const choice: EngineChoice = {
    ...(flags.engine !== undefined ? { engine: flags.engine } : {}),
    ...(typeof flags.database === 'string' ? { database: flags.database } : {}),
  };
  const engine = await openEngine(project.dir, choice, project.config);
  try {
    const { checkDatabase } = await import('../checks/database.js');
    const { diagnostics, sources, queries } = await checkDatabase(project.model, engine);
    process.stderr.write(
      `checked ${count(sources, 'source')} on ${engine.name} in ${queries} ${queries === 1 ? 'query' : 'queries'}\n`,
    );
    return diagnostics;
  } finally {
    await engine.close();
  }
}

/** `--dialect`, checked against the dialects there are (a usage error otherwise). */
export function dialectOf(value: string | undefined, fallback: Dialect): Dialect {
  if (value === undefined) return fallback;
  if (!(DIALECTS as readonly string[]).includes(value))
    throw new UsageError(`unknown dialect '${value}' (expected ${DIALECTS.join(', ')})`);
  return value as Dialect;
}

function limitOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--limit expects a non-negative integer, got '${value}'`);
  return n;
}

export interface CompileFlags extends EngineChoice, CallerFlags {
  dialect?: string;
  param?: string[];
  all?: boolean;
  views?: boolean;
  out?: string;
  explain?: boolean;
}

function writeStatements(
  statements: { name: string; sql: string }[],
  out: string | undefined,
  header: (name: string) => string,
): void {
  if (out) {
    mkdirSync(out, { recursive: true });
    for (const s of statements) writeFileSync(join(out, `${s.name}.sql`), `${s.sql}\n`);
    process.stderr.write(`wrote ${statements.length} files to ${out}\n`);
  } else {
    process.stdout.write(statements.map((s) => `${header(s.name)}\n${s.sql};\n`).join('\n'));
  }
}

export function compileCommand(projectDir: string, input: string | undefined, flags: CompileFlags): number {
  const project = loadValidProject(projectDir);
  const compiler = new Compiler(project.model);
  const dialect = dialectOf(
    flags.dialect,
    project.config.dialect ?? dialectForEngine(engineName(flags, project.config)),
  );
  if (flags.views) {
    if (input || flags.all)
      throw new UsageError(
        '--views compiles the latest views of every CDC source: give no input and no --all',
      );
    const views = latestViewStatements(project.model, dialect).map((v) => ({
      name: `${v.source}_latest`,
      sql: v.sql,
    }));
    writeStatements(views, flags.out, (name) => `-- view: ${name}`);
    return 0;
  }
  if (flags.all) {
    if (input) throw new UsageError('give an input or --all, not both');
    const problems: Diagnostic[] = [];
    const outputs: { name: string; sql: string }[] = [];
    for (const model of project.model.inputs.values()) {
      try {
        outputs.push({ name: model.name, sql: compiler.compile(model, { dialect, validateOnly: true }).sql });
      } catch (e) {
        if (e instanceof StrataError) problems.push(...e.diagnostics);
        else throw e;
      }
    }
    for (const tracker of project.model.trackers.values()) {
      try {
        const sql = compiler.compile(tracker.definition.input, {
          ...trackerCompileOptions(tracker, dialect),
          validateOnly: true,
        }).sql;
        outputs.push({ name: `tracker.${tracker.name}`, sql });
      } catch (e) {
        if (!(e instanceof StrataError)) throw e;
      }
    }
    if (problems.length > 0) throw new StrataError(problems);
    writeStatements(outputs, flags.out, (name) =>
      name.startsWith('tracker.') ? `-- tracker: ${name.slice(8)}` : `-- input: ${name}`,
    );
    return 0;
  }
  if (!input) throw new UsageError('compile needs an input name (or --all)');
  const caller = parseCaller(flags);
  const options = { dialect, params: parseParams(flags.param), ...(caller ? { caller } : {}) };
  const model = findInput(project, input);
  if (flags.explain) {
    const { before, after } = compiler.explain(model, options);
    process.stdout.write(`-- plan before the passes\n${before}\n\n-- plan after the passes\n${after}\n\n`);
  }
  process.stdout.write(`${compiler.compile(model, options).sql}\n`);
  return 0;
}

function dialectForEngine(engine: EngineName): Dialect {
  return ENGINE_DIALECTS[engine];
}

export interface RunFlags extends EngineChoice, CallerFlags {
  format?: string;
  param?: string[];
  limit?: string;
  /** `--no-escape-formulas` sets it false. */
  escapeFormulas?: boolean;
}

export async function runCommand(projectDir: string, input: string, flags: RunFlags): Promise<number> {
  const format = (flags.format ?? 'table') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format))
    throw new UsageError(`unknown format '${flags.format}' (expected ${OUTPUT_FORMATS.join(', ')})`);
  const project = loadValidProject(projectDir);
  const compiler = new Compiler(project.model);
  const limit = limitOf(flags.limit);
  const caller = parseCaller(flags);
  const options: CompileOptions = {
    dialect: dialectForEngine(engineName(flags, project.config)),
    params: parseParams(flags.param),
    ...(limit !== undefined ? { limit } : {}),
    ...(caller ? { caller } : {}),
  };
  const compiled = compiler.compile(findInput(project, input), options);
  const engine = await openEngine(projectDir, flags, project.config);
  try {
    const writer = resultWriter(format, compiled.columns, (text) => process.stdout.write(text), {
      escapeFormulas: flags.escapeFormulas ?? true,
    });
    for await (const rows of engine.stream(compiled.sql)) writer.write(rows);
    writer.end();
  } finally {
    await engine.close();
  }
  return 0;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export interface DemoFlags extends EngineChoice {
  source?: 'postgres';
  upstream?: string;
}

export async function demoCommand(projectDir: string, flags: DemoFlags): Promise<number> {
  const project = loadProject(projectDir);
  if (engineName(flags, project.config) !== 'duckdb') {
    throw new StrataError([
      error('unsupported', 'strata demo builds the embedded warehouse; use --engine duckdb'),
    ]);
  }
  if (flags.database) {
    const { buildDemoDatabase } = await import('../demo/load-duckdb.js');
    const { tables, rows } = await buildDemoDatabase(flags.database);
    process.stderr.write(`demo database: ${tables} tables, ${rows} rows in ${flags.database}\n`);
    return 0;
  }
  const { buildDemoWarehouse } = await import('../demo/build-warehouse.js');
  const shown = progress('demo');
  const summary = await withWarehouse(projectDir, project.config, (warehouse, duckdb) =>
    buildDemoWarehouse(warehouse, duckdb, {
      onTable: (done, total, table) => shown.step(done, total, table),
    }),
  );
  shown.done();
  const root = warehouseLocation(projectDir, project.config).root;
  process.stderr.write(
    `demo warehouse: ${summary.tables} Iceberg tables, ${summary.rows} rows, ${summary.snapshots} snapshots in ${root}\n`,
  );
  if (flags.source === 'postgres') await seedUpstream(flags.upstream ?? process.env.STUDIO_DB_URL);
  return 0;
}

async function seedUpstream(url: string | undefined): Promise<void> {
  if (!url) throw new UsageError('--source postgres needs the database: --upstream <url> or STUDIO_DB_URL');
  registerSecrets([url]);
  const { seedStudioUpstream, STUDIO_SCHEMA } = await import('../demo/postgres-upstream.js');
  const { rows, added } = await seedStudioUpstream(url);
  process.stderr.write(
    `upstream: ${STUDIO_SCHEMA}.talent holds ${rows} rows (${added} added); replicate it with \`strata pipeline run studio\`\n`,
  );
}

export interface CompactFlags extends EngineChoice {
  dryRun?: boolean;
  retention?: string;
}

/** The CDC sources to compact: all of them, or those named (by source or by `namespace.table`). */
function sourcesToCompact(model: SemanticModel, names: readonly string[]): SourceModel[] {
  const all = cdcSources(model);
  if (names.length === 0) return all;
  return names.map((name) => {
    const found = all.find(
      (s) => s.name === name || (s.relation.kind === 'table' && s.relation.path.join('.') === name),
    );
    if (!found)
      throw new UsageError(
        `'${name}' is not a CDC source or the raw table of one (${all.map((s) => s.name).join(', ') || 'none'})`,
      );
    return found;
  });
}

/** What `maintenance.tables` settings are looked up by: the source's table path and the source. */
function settingsTarget(source: SourceModel) {
  const path = source.relation.kind === 'table' ? source.relation.path : [];
  const [namespace = '', name = ''] = path.slice(-2);
  return { id: { namespace, name }, table: path.slice(-2).join('.'), source };
}

export async function compactCommand(
  projectDir: string,
  tables: string[],
  flags: CompactFlags,
): Promise<number> {
  const project = loadValidProject(projectDir);
  const sources = sourcesToCompact(project.model, tables);
  const engine = engineName(flags, project.config);
  if (engine === 'trino' || flags.dryRun) {
    const { settingsFor } = await import('../cdc/maintenance.js');
    const statements = sources.flatMap((s) => {
      const { tombstoneRetentionMs } = settingsFor(settingsTarget(s), project.config);
      const since = new Date(Date.now() - tombstoneRetentionMs)
        .toISOString()
        .replace('T', ' ')
        .replace('Z', '');
      return trinoMaintenanceStatements(s, flags.retention, { since });
    });
    if (flags.dryRun || engine !== 'trino') {
      process.stdout.write(statements.map((s) => `${s};\n`).join('\n'));
      return 0;
    }
    const trino = await openEngine(projectDir, flags, project.config);
    try {
      for (const statement of statements) await trino.execute(statement);
    } finally {
      await trino.close();
    }
    process.stderr.write(`ran ${statements.length} maintenance statements on Trino\n`);
    return 0;
  }
  if (engine !== 'duckdb')
    throw new UsageError(`strata compact works on the embedded warehouse or Trino, not ${engine}`);
  if (!warehouseExists(warehouseLocation(projectDir, project.config))) {
    throw new UsageError('no warehouse yet: build the demo with `strata demo`');
  }
  const { compactSource } = await import('../cdc/compaction.js');
  const { settingsFor } = await import('../cdc/maintenance.js');
  const results = await withWarehouse(projectDir, project.config, async (warehouse) => {
    const done = [];
    const shown = progress('compact');
    for (const [i, source] of sources.entries()) {
      shown.step(i + 1, sources.length, source.name);
      const { tombstoneRetentionMs } = settingsFor(settingsTarget(source), project.config);
      done.push(await compactSource(warehouse, source, { tombstoneRetentionMs }));
    }
    shown.done();
    return done;
  });
  for (const r of results) {
    process.stdout.write(
      r.committed
        ? `${r.table}: ${plural(r.filesBefore, 'file')}, ${plural(r.rowsBefore, 'row')} -> ${plural(r.filesAfter, 'file')}, ${plural(r.rowsAfter, 'row')}\n`
        : `${r.table}: already compact (${plural(r.filesBefore, 'file')}, ${plural(r.rowsBefore, 'row')})\n`,
    );
  }
  const { announceTableChanges } = await import('../trackers/change-trigger.js');
  await announceTableChanges(
    projectDir,
    project.config,
    results.filter((r) => r.committed).map((r) => r.table),
  );
  return 0;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
