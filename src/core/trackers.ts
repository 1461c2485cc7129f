/**
 * Tracker validation (spec §7): the input and its params, the schedule and time zone, each
 * destination's mode, key and `env:` references, checked against the input's real output
 * columns. Pure: cron expressions are parsed, nothing is scheduled.
 */
import { cronProblem, isValidTimeZone } from './cron.js';
import { UNPRIVILEGED } from './access/policy.js';
import type { CompileOptions, Compiler, OutputColumn } from './compile.js';
import { StrataError, error, internalError, type Diagnostic } from './diagnostics.js';
import type { ValuePath } from './definitions/document.js';
import type { DestinationDefinition, Dialect, FileDestination } from './definitions/schema.js';
import type { TrackerModel } from './model/types.js';
import { closest } from './suggest.js';

const ENV_REFERENCE = /^env:[A-Za-z_][A-Za-z0-9_]*$/;

export { cronProblem, isValidTimeZone } from './cron.js';

/** Which destination fields may hold a credential, and must then come from the environment. */
const CREDENTIAL_FIELDS: Partial<Record<DestinationDefinition['type'], string[]>> = { table: ['connection'] };

export function checkTracker(tracker: TrackerModel, compiler: Compiler): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const def = tracker.definition;
  const at = (path: ValuePath, key = false) => tracker.locate(path, { key });
  const input = compiler.model.inputs.get(def.input);
  if (!input) {
    const suggestion = closest(def.input, compiler.model.inputs.keys());
    problems.push(
      error(
        'unknown_input',
        `unknown input '${def.input}'`,
        at(['input']),
        suggestion ? `did you mean ${suggestion}?` : undefined,
      ),
    );
  }
  const declared = input?.definition.params ?? {};
  for (const name of Object.keys(def.params ?? {})) {
    if (input && !declared[name]) {
      const suggestion = closest(name, Object.keys(declared));
      problems.push(
        error(
          'unknown_param',
          `input '${def.input}' has no parameter '${name}'`,
          at(['params', name], true),
          suggestion ? `did you mean ${suggestion}?` : undefined,
        ),
      );
    }
  }
  if (def.timezone !== undefined && !isValidTimeZone(def.timezone)) {
    problems.push(
      error(
        'invalid_timezone',
        `unknown time zone '${def.timezone}'`,
        at(['timezone']),
        'use an IANA name such as America/Los_Angeles or UTC',
      ),
    );
  }
  if (def.schedule !== undefined) {
    const problem = cronProblem(
      def.schedule,
      def.timezone && isValidTimeZone(def.timezone) ? def.timezone : undefined,
    );
    if (problem)
      problems.push(
        error('invalid_schedule', `invalid cron schedule '${def.schedule}': ${problem}`, at(['schedule'])),
      );
  }
  const columns = input && problems.length === 0 ? trackerColumns(tracker, compiler, problems) : undefined;
  def.destinations.forEach((destination, i) =>
    problems.push(...checkDestination(destination, ['destinations', i], at, columns)),
  );
  return problems;
}

/** The output columns the tracker's destinations receive; compile problems become the tracker's. */
function trackerColumns(
  tracker: TrackerModel,
  compiler: Compiler,
  problems: Diagnostic[],
): OutputColumn[] | undefined {
  try {
    return compiler.compile(tracker.definition.input, trackerCompileOptions(tracker, 'duckdb')).columns;
  } catch (e) {
    const where = tracker.locate(['input']);
    if (!(e instanceof StrataError)) {
      problems.push(internalError(`tracker '${tracker.name}'`, e, where));
      return undefined;
    }
    for (const d of e.diagnostics)
      problems.push({
        ...d,
        message: `input '${tracker.definition.input}': ${d.message}`,
        location: d.location ?? where,
      });
    return undefined;
  }
}

/**
 * How a tracker's input compiles: its params and time zone, read as the caller its `runAs`
 * declares (a tracker without one reads as an unprivileged caller, so protected sources stay
 * closed to it).
 */
export function trackerCompileOptions(tracker: TrackerModel, dialect: Dialect): CompileOptions {
  const def = tracker.definition;
  return {
    dialect,
    caller: def.runAs ? { roles: def.runAs.roles, attributes: def.runAs.attributes ?? {} } : UNPRIVILEGED,
    ...(def.params ? { params: def.params } : {}),
    ...(def.timezone ? { timezone: def.timezone } : {}),
  };
}

function checkDestination(
  destination: DestinationDefinition,
  path: ValuePath,
  at: (path: ValuePath, key?: boolean) => ReturnType<TrackerModel['locate']>,
  columns: OutputColumn[] | undefined,
): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const [field, value] of Object.entries(destination)) {
    if (typeof value !== 'string') continue;
    if (value.startsWith('env:') && !ENV_REFERENCE.test(value)) {
      problems.push(
        error(
          'invalid_env_reference',
          `'${value}' is not an env:NAME reference`,
          at([...path, field]),
          'write env: followed by an environment variable name',
        ),
      );
    }
    if (CREDENTIAL_FIELDS[destination.type]?.includes(field) && !value.startsWith('env:')) {
      problems.push(
        error(
          'inline_credential',
          `${field} may hold credentials, so it must come from the environment`,
          at([...path, field]),
          `write ${field}: env:<VARIABLE>`,
        ),
      );
    }
  }
  if (destination.type === 'file') return [...problems, ...checkFileFormat(destination, path, at)];
  const mode = destination.mode ?? 'replace';
  const needsKey = mode === 'upsert' || (destination.type === 'airtable' && mode === 'replace');
  if (needsKey && !destination.key) {
    problems.push(
      error(
        'missing_key',
        `mode ${mode} needs \`key\`: the output columns that identify a row`,
        at([...path, 'mode']),
      ),
    );
  }
  if (destination.onMissing && mode !== 'upsert') {
    problems.push(
      error('invalid_option', '`onMissing` applies to mode upsert only', at([...path, 'onMissing'], true)),
    );
  }
  (destination.key ?? []).forEach((name, j) => {
    if (destination.key!.indexOf(name) !== j) {
      problems.push(error('duplicate_key_column', `key names '${name}' twice`, at([...path, 'key', j])));
      return;
    }
    if (columns && !columns.some((c) => c.name === name)) {
      const suggestion = closest(
        name,
        columns.map((c) => c.name),
      );
      problems.push(
        error(
          'unknown_key_column',
          `key '${name}' is not an output column of the input`,
          at([...path, 'key', j]),
          suggestion
            ? `did you mean ${suggestion}?`
            : `output columns: ${columns.map((c) => c.name).join(', ')}`,
        ),
      );
    }
  });
  return problems;
}

/** The extract format: `format:`, else the file's extension (csv, json or parquet). */
/** A destination's tab, table or file: what it is, never a credential or an env: value. */
export function destinationTarget(d: DestinationDefinition): string {
  switch (d.type) {
    case 'google_sheets':
      return `sheet ${d.sheet}`;
    case 'airtable':
      return `table ${d.table}`;
    case 'table':
      return d.table;
    case 'file':
      return d.path;
  }
}

export function fileFormat(destination: FileDestination): 'csv' | 'json' | 'parquet' | undefined {
  if (destination.format) return destination.format;
  const extension = /\.([A-Za-z0-9]+)$/.exec(destination.path)?.[1]?.toLowerCase();
  return extension === 'csv' || extension === 'json' || extension === 'parquet' ? extension : undefined;
}

function checkFileFormat(
  destination: FileDestination,
  path: ValuePath,
  at: (path: ValuePath, key?: boolean) => ReturnType<TrackerModel['locate']>,
): Diagnostic[] {
  if (fileFormat(destination)) return [];
  return [
    error(
      'unknown_file_format',
      `cannot tell the format of ${destination.path} from its extension`,
      at([...path, 'path']),
      'name it .csv, .json or .parquet, or add format: csv | json | parquet',
    ),
  ];
}

/** `schema.table` as change notices compare it: its last two parts, lower-case (a catalog prefix does not matter). */
export function tableKey(table: string): string {
  return table.split('.').slice(-2).join('.').toLowerCase();
}

/**
 * The tables each `refresh: on_change` tracker's input reads (as `tableKey`s): the trackers a
 * change to those tables makes due. A tracker whose input does not compile is left out (its
 * scheduled run reports why).
 */
export function onChangeTrackerTables(
  trackers: Iterable<TrackerModel>,
  compiler: Compiler,
): Map<TrackerModel, Set<string>> {
  const tables = new Map<TrackerModel, Set<string>>();
  for (const tracker of trackers) {
    if (tracker.definition.refresh !== 'on_change') continue;
    try {
      const compiled = compiler.compile(tracker.definition.input, trackerCompileOptions(tracker, 'duckdb'));
      tables.set(tracker, new Set(compiled.tables.map(tableKey)));
    } catch {
      continue;
    }
  }
  return tables;
}

/** The trackers of `reading` (from onChangeTrackerTables) that read any of `changed`. */
export function trackersReading(
  reading: Map<TrackerModel, Set<string>>,
  changed: readonly string[],
): TrackerModel[] {
  const keys = changed.map(tableKey);
  return [...reading].filter(([, tables]) => keys.some((k) => tables.has(k))).map(([tracker]) => tracker);
}
