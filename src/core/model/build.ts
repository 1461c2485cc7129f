/**
 * Definition files -> the semantic model, with every problem of the project reported
 * (not only the first), each at the file, line and column of the node at fault.
 */
import type { z } from 'zod';
import { error, internalError, type Diagnostic, type SourceLocation } from '../diagnostics.js';
import { parseYamlFile, type ParsedFile, type ValuePath } from '../definitions/document.js';
import { issuesToDiagnostics } from '../definitions/issues.js';
import { keysAt } from '../definitions/schema-keys.js';
import {
  InputDefinition,
  PipelineDefinition,
  SourceDefinition,
  TrackerDefinition,
  type FieldDefinition,
  type FieldType,
  type MeasureDefinition,
} from '../definitions/schema.js';
import { didYouMean } from '../suggest.js';
import type {
  AccessModel,
  DialectFragment,
  FieldLookup,
  FieldModel,
  InputModel,
  JoinEdge,
  MeasureModel,
  MeasureRef,
  PipelineModel,
  SemanticModel,
  SourceModel,
  TrackerModel,
} from './types.js';
import { reverseRelationship } from './types.js';
import { bareColumnOf, FragmentReader } from './fragments.js';
import { fieldColumns } from './columns.js';
import { JoinPathFinder } from './paths.js';
import type { SqlFragment } from '../sql/fragments/fragment.js';

export type DefinitionKind = 'source' | 'input' | 'tracker' | 'pipeline';

export interface DefinitionFile {
  /** Path as shown in diagnostics (relative to the project). */
  path: string;
  kind: DefinitionKind;
  text: string;
}

export interface BuildResult {
  model: SemanticModel;
  diagnostics: Diagnostic[];
}

interface Parsed<T> {
  parsed: ParsedFile;
  definition: T;
}

function parseWith<T>(
  file: DefinitionFile,
  schema: z.ZodType<T>,
  diagnostics: Diagnostic[],
  broken?: Set<string>,
): Parsed<T> | undefined {
  try {
    return parseChecked(file, schema, diagnostics, broken);
  } catch (e) {
    // Never fatal: one file that trips the parser must not hide the rest of the project.
    diagnostics.push(internalError(file.path, e, { file: file.path, line: 1, col: 1 }));
    return undefined;
  }
}

function parseChecked<T>(
  file: DefinitionFile,
  schema: z.ZodType<T>,
  diagnostics: Diagnostic[],
  broken?: Set<string>,
): Parsed<T> | undefined {
  const parsed = parseYamlFile(file.path, file.text);
  const nameOf = (value: unknown) =>
    value && typeof value === 'object' && 'name' in value && typeof value.name === 'string'
      ? value.name
      : undefined;
  if (parsed.diagnostics.length > 0) {
    diagnostics.push(...parsed.diagnostics);
    const guessed = /^name:\s*([a-z][a-z0-9_]*)\s*$/m.exec(file.text)?.[1];
    if (guessed) broken?.add(guessed);
    return undefined;
  }
  if (parsed.value === null || parsed.value === undefined) {
    diagnostics.push(error('empty_file', 'the file is empty', { file: file.path, line: 1, col: 1 }));
    return undefined;
  }
  const result = schema.safeParse(parsed.value);
  if (!result.success) {
    diagnostics.push(...issuesToDiagnostics(parsed, result.error.issues, (path) => keysAt(schema, path)));
    const name = nameOf(parsed.value);
    if (name) broken?.add(name);
    return undefined;
  }
  return { parsed, definition: result.data };
}

export function buildModel(files: readonly DefinitionFile[]): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const sourceFiles: Parsed<SourceDefinition>[] = [];
  const inputFiles: Parsed<InputDefinition>[] = [];
  const trackerFiles: Parsed<TrackerDefinition>[] = [];
  const pipelineFiles: Parsed<PipelineDefinition>[] = [];
  const broken = new Set<string>();
  for (const file of files) {
    if (file.kind === 'source') {
      const p = parseWith(file, SourceDefinition, diagnostics, broken);
      if (p) sourceFiles.push(p);
    } else if (file.kind === 'tracker') {
      const p = parseWith(file, TrackerDefinition, diagnostics);
      if (p) trackerFiles.push(p);
    } else if (file.kind === 'pipeline') {
      const p = parseWith(file, PipelineDefinition, diagnostics);
      if (p) pipelineFiles.push(p);
    } else {
      const p = parseWith(file, InputDefinition, diagnostics);
      if (p) inputFiles.push(p);
    }
  }

  const sources = new Map<string, SourceModel>();
  /**
   * Sources that cannot be compiled (SQL that did not parse, a missing or unknown primary
   * key): checked like the others, then left out of the model.
   */
  const unusable = new Set<string>();
  for (const { parsed, definition } of sourceFiles) {
    if (sources.has(definition.name)) {
      diagnostics.push(
        error(
          'duplicate_name',
          `source '${definition.name}' is already defined in ${sources.get(definition.name)!.file}`,
          parsed.locate(['name']),
        ),
      );
      continue;
    }
    const built = buildSource(parsed, definition, diagnostics);
    sources.set(definition.name, built.source);
    if (built.unusable) unusable.add(definition.name);
  }
  const parsedByName = new Map(sourceFiles.map((s) => [s.definition.name, s]));
  for (const name of sources.keys()) broken.delete(name);
  for (const source of sources.values()) {
    const { parsed, definition } = parsedByName.get(source.name)!;
    checkMeasureReferences(source, sources, parsed, definition, diagnostics, broken);
  }
  const joins = buildJoins(sourceFiles, sources, diagnostics, broken);
  checkFieldLookups(sources, joins, parsedByName, diagnostics, broken);
  checkDerivedCycles(sources, diagnostics);
  // A source that cannot be used is reported once, here; what uses it stays quiet.
  for (const name of unusable) {
    sources.delete(name);
    joins.delete(name);
    broken.add(name);
  }
  for (const [name, edges] of joins)
    joins.set(
      name,
      edges.filter((e) => !unusable.has(e.to)),
    );

  const inputs = new Map<string, InputModel>();
  for (const { parsed, definition } of inputFiles) {
    const existing = inputs.get(definition.name);
    if (existing) {
      diagnostics.push(
        error(
          'duplicate_name',
          `input '${definition.name}' is already defined in ${existing.file}`,
          parsed.locate(['name']),
        ),
      );
      continue;
    }
    inputs.set(definition.name, {
      name: definition.name,
      file: parsed.file,
      definition,
      locate: parsed.locate,
    });
  }
  const trackers = new Map<string, TrackerModel>();
  for (const { parsed, definition } of trackerFiles) {
    const existing = trackers.get(definition.name);
    if (existing) {
      diagnostics.push(
        error(
          'duplicate_name',
          `tracker '${definition.name}' is already defined in ${existing.file}`,
          parsed.locate(['name']),
        ),
      );
      continue;
    }
    trackers.set(definition.name, {
      name: definition.name,
      file: parsed.file,
      definition,
      locate: parsed.locate,
    });
  }
  const pipelines = new Map<string, PipelineModel>();
  for (const { parsed, definition } of pipelineFiles) {
    const existing = pipelines.get(definition.name);
    if (existing) {
      diagnostics.push(
        error(
          'duplicate_name',
          `pipeline '${definition.name}' is already defined in ${existing.file}`,
          parsed.locate(['name']),
        ),
      );
      continue;
    }
    pipelines.set(definition.name, {
      name: definition.name,
      file: parsed.file,
      definition,
      locate: parsed.locate,
      locateWithin: parsed.locateWithin,
    });
  }
  return { model: { sources, joins, inputs, trackers, pipelines, broken }, diagnostics };
}

function buildSource(
  parsed: ParsedFile,
  def: SourceDefinition,
  diagnostics: Diagnostic[],
): { source: SourceModel; unusable: boolean } {
  const sql = new FragmentReader(parsed, diagnostics);
  const fields = new Map<string, FieldModel>();
  def.fields.forEach((f, i) => {
    const loc = parsed.locate(['fields', i, 'name']);
    if (fields.has(f.name)) {
      diagnostics.push(
        error('duplicate_name', `field '${f.name}' is defined twice in source '${def.name}'`, loc),
      );
      return;
    }
    fields.set(f.name, fieldModel(def.name, f, loc, sql, ['fields', i]));
  });
  const measures = new Map<string, MeasureModel>();
  (def.measures ?? []).forEach((m, i) => {
    const loc = parsed.locate(['measures', i, 'name']);
    if (fields.has(m.name) || measures.has(m.name)) {
      diagnostics.push(
        error('duplicate_name', `'${m.name}' is already a field or measure of source '${def.name}'`, loc),
      );
      return;
    }
    measures.set(m.name, measureModel(def.name, m, fields, loc, sql, ['measures', i]));
  });
  const primaryKey =
    def.primaryKey === undefined
      ? []
      : typeof def.primaryKey === 'string'
        ? [def.primaryKey]
        : def.primaryKey;
  let keyProblem = false;
  primaryKey.forEach((key, i) => {
    if (!fields.has(key)) {
      keyProblem = true;
      const path: ValuePath = typeof def.primaryKey === 'string' ? ['primaryKey'] : ['primaryKey', i];
      diagnostics.push(
        unknownMember(
          'unknown_field',
          `primaryKey '${key}' is not a field of source '${def.name}'`,
          key,
          fields.keys(),
          parsed.locate(path),
        ),
      );
    }
  });
  if (measures.size > 0 && primaryKey.length === 0) {
    keyProblem = true;
    diagnostics.push(
      error(
        'missing_primary_key',
        `source '${def.name}' has measures but no primaryKey`,
        parsed.locate(['measures'], { key: true }),
        'add primaryKey: [<field>] so measures count each row once',
      ),
    );
  }
  const query = def.sql !== undefined ? sql.read(['sql'], def.sql, 'source_query') : undefined;
  const deletedWhen =
    def.cdc?.deletedWhen !== undefined
      ? sql.read(['cdc', 'deletedWhen'], def.cdc.deletedWhen, 'deleted_when')
      : undefined;
  const access = def.access ? accessModel(def, sql) : undefined;
  const source: SourceModel = {
    name: def.name,
    file: parsed.file,
    ...(def.description !== undefined ? { description: def.description } : {}),
    ...(def.owner !== undefined ? { owner: def.owner } : {}),
    relation:
      def.table !== undefined
        ? { kind: 'table', path: def.table.split('.') }
        : { kind: 'sql', query: query ?? emptyQuery },
    primaryKey,
    ...(def.cdc ? { cdc: { orderBy: def.cdc.orderBy, ...(deletedWhen ? { deletedWhen } : {}) } } : {}),
    fields,
    measures,
    ...(access ? { access } : {}),
    loc: parsed.locate(['name']),
    locate: parsed.locate,
    locateWithin: parsed.locateWithin,
  };
  return { source, unusable: sql.failed || keyProblem };
}

/** Stands in for a source's SELECT that failed to parse (the source is then left out of the model). */
const emptyQuery = {
  context: 'source_query',
  text: '',
  tokens: [],
  columns: [],
  placeholders: [],
  tables: [],
} as const;

function accessModel(def: SourceDefinition, sql: FragmentReader): AccessModel {
  const access = def.access!;
  const rowFilters: AccessModel['rowFilters'] = [];
  (access.rowFilters ?? []).forEach((r, i) => {
    const filter = sql.read(['access', 'rowFilters', i, 'filter'], r.filter, 'row_filter');
    if (filter) rowFilters.push({ role: r.role, filter });
  });
  return {
    ...(access.roles ? { roles: access.roles } : {}),
    ...(access.fields ? { fields: access.fields } : {}),
    rowFilters,
  };
}

function fieldModel(
  source: string,
  f: FieldDefinition,
  loc: SourceLocation,
  reader: FragmentReader,
  path: ValuePath,
): FieldModel {
  const sql = f.sql !== undefined ? reader.readDialectSql([...path, 'sql'], f.sql, 'field') : undefined;
  return {
    kind: 'field',
    source,
    name: f.name,
    type: f.type,
    ...(f.label !== undefined ? { label: f.label } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.format !== undefined ? { format: f.format } : {}),
    ...(sql ? { sql } : {}),
    loc,
    path,
  };
}

/** A derived measure's `{measure}` / `{source.measure}` references, resolved against its own source. */
function measureRefs(source: string, placeholders: readonly string[]): MeasureRef[] {
  return placeholders.map((p) => {
    const [first, second] = p.split('.') as [string, string | undefined];
    return second !== undefined ? { source: first, measure: second } : { source, measure: first };
  });
}

function measureModel(
  source: string,
  m: MeasureDefinition,
  fields: ReadonlyMap<string, FieldModel>,
  loc: SourceLocation,
  reader: FragmentReader,
  path: ValuePath,
): MeasureModel {
  let definition: MeasureModel['definition'];
  let valueSql: ReturnType<FragmentReader['readDialectSql']>;
  if (m.expression !== undefined) {
    const expression = reader.read([...path, 'expression'], m.expression, 'derived') ?? emptyExpression;
    definition = { kind: 'derived', expression, refs: measureRefs(source, expression.placeholders) };
  } else {
    valueSql = m.sql !== undefined ? reader.readDialectSql([...path, 'sql'], m.sql, 'measure') : undefined;
    const filter =
      m.filter !== undefined
        ? reader.readDialectSql([...path, 'filter'], m.filter, 'measure_filter')
        : undefined;
    const lookups = fieldLookups([valueSql, filter]);
    definition = {
      kind: 'aggregate',
      aggregate: m.aggregate ?? 'count',
      ...(valueSql ? { sql: valueSql } : {}),
      ...(filter ? { filter } : {}),
      ...(lookups.length > 0 ? { lookups } : {}),
    };
  }
  return {
    kind: 'measure',
    source,
    name: m.name,
    type: m.type ?? inferMeasureType(m, fields.get(bareColumnOf(valueSql) ?? '')),
    ...(m.label !== undefined ? { label: m.label } : {}),
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.format !== undefined ? { format: m.format } : {}),
    definition,
    loc,
    path,
  };
}

/** The `{[via.…]source.field}` references of a measure's `sql` and `filter`, each once. */
function fieldLookups(sqls: (DialectFragment | undefined)[]): FieldLookup[] {
  const placeholders = new Set(
    sqls.flatMap((sql) => (sql ? dialectFragments(sql) : [])).flatMap((f) => f.placeholders),
  );
  return [...placeholders].map((placeholder) => {
    const segments = placeholder.split('.');
    const [source, field] = segments.slice(-2) as [string, string];
    return { placeholder, via: segments.slice(0, -2), source, field };
  });
}

/** Each fragment of a definition's SQL, with the path of the string it is written in. */
function dialectFragments(sql: DialectFragment, path: ValuePath = []): (SqlFragment & { path: ValuePath })[] {
  if (sql.kind === 'shared') return [{ ...sql.fragment, path }];
  return Object.entries(sql.fragments).map(([dialect, fragment]) => ({
    ...fragment!,
    path: [...path, dialect],
  }));
}

/**
 * A measure's `{source.field}` references: the source and field exist, and the source is
 * reached from the measure's own by many-to-one joins only (a one-to-many join would count
 * the measure's rows once per related row). Reported where each reference is written.
 */
function checkFieldLookups(
  sources: ReadonlyMap<string, SourceModel>,
  joins: ReadonlyMap<string, readonly JoinEdge[]>,
  parsedByName: ReadonlyMap<string, Parsed<SourceDefinition>>,
  diagnostics: Diagnostic[],
  broken: ReadonlySet<string>,
): void {
  const anyPath = new JoinPathFinder({ joins });
  const toOne = anyPath.toOne();
  for (const source of sources.values()) {
    const { parsed, definition } = parsedByName.get(source.name)!;
    for (const measure of source.measures.values()) {
      const def = measure.definition;
      if (def.kind !== 'aggregate' || !def.lookups) continue;
      inferLookupType(measure, definition, sources);
      const written = (['sql', 'filter'] as const).flatMap((part) =>
        def[part] ? dialectFragments(def[part], [...(measure.path ?? []), part]) : [],
      );
      for (const lookup of def.lookups) {
        const where = written.find((f) => f.placeholders.includes(lookup.placeholder))!;
        const token = where.tokens.find((t) => t.kind === 'placeholder' && t.value === lookup.placeholder);
        const loc = parsed.locateWithin(where.path, token?.start ?? 0);
        const problem = lookupProblem(source, measure, lookup, { sources, broken, anyPath, toOne }, loc);
        if (problem) diagnostics.push(problem);
      }
    }
  }
}

/**
 * A measure whose `sql` is one related field (`sql: "{part.p_type}"`) and declares no type
 * takes it from that field, as one over its own column does (`max` of a text is text).
 */
function inferLookupType(
  measure: MeasureModel,
  source: SourceDefinition,
  sources: ReadonlyMap<string, SourceModel>,
): void {
  const written = source.measures?.find((m) => m.name === measure.name);
  const def = measure.definition;
  if (!written || written.type !== undefined || def.kind !== 'aggregate' || def.sql?.kind !== 'shared')
    return;
  const tokens = def.sql.fragment.tokens;
  const lookup = def.lookups?.find((l) => tokens.length === 1 && l.placeholder === tokens[0]!.value);
  const field = lookup && sources.get(lookup.source)?.fields.get(lookup.field);
  if (field) measure.type = inferMeasureType(written, field);
}

function lookupProblem(
  source: SourceModel,
  measure: MeasureModel,
  lookup: FieldLookup,
  project: {
    sources: ReadonlyMap<string, SourceModel>;
    broken: ReadonlySet<string>;
    anyPath: JoinPathFinder;
    toOne: JoinPathFinder;
  },
  loc: SourceLocation,
): Diagnostic | undefined {
  const { sources, broken, anyPath, toOne } = project;
  const at = `{${lookup.placeholder}} of measure '${source.name}.${measure.name}'`;
  for (const name of [...lookup.via, lookup.source]) {
    if (sources.has(name)) continue;
    if (broken.has(name)) return undefined;
    return unknownMember('unknown_source', `unknown source '${name}' in ${at}`, name, sources.keys(), loc);
  }
  const target = sources.get(lookup.source)!;
  if (!target.fields.has(lookup.field)) {
    const what = target.measures.has(lookup.field)
      ? `'${lookup.source}.${lookup.field}' is a measure, not a field, in ${at}`
      : `'${lookup.source}' has no field '${lookup.field}' (in ${at})`;
    return unknownMember('unknown_field', what, lookup.field, target.fields.keys(), loc);
  }
  const path = toOne.path(source.name, lookup.source, lookup.via);
  if (path.ok) return undefined;
  const shown = [source.name, ...lookup.via, lookup.source].join(' -> ');
  switch (path.reason) {
    case 'unreachable':
      return anyPath.path(source.name, lookup.source, lookup.via).ok
        ? error(
            'fan_out_lookup',
            `${at}: '${lookup.source}' is reached from '${source.name}' (${shown}) only through a one-to-many join, which would count each '${source.name}' row once per related row`,
            loc,
            `a measure reads fields of sources that each '${source.name}' row has at most one of, over many-to-one joins; aggregate '${lookup.source}' with one of its own measures instead`,
          )
        : error(
            'no_join_path',
            `${at}: '${lookup.source}' cannot be reached from '${source.name}' by the declared joins`,
            loc,
            'declare a join between them',
          );
    case 'revisits':
      return error(
        'no_join_path',
        `${at}: the join path ${shown} passes through '${path.source}' twice`,
        loc,
      );
    case 'tie':
      return error(
        'ambiguous_join_path',
        `${at}: '${lookup.source}' is reached from '${source.name}' by more than one shortest many-to-one path (${path.alternatives
          .map((alt) => [source.name, ...alt, lookup.source].join(' -> '))
          .join('; ')})`,
        loc,
        `name the sources it passes through: ${path.alternatives
          .filter((alt) => alt.length > 0)
          .map((alt) => `{${[...alt, lookup.source, lookup.field].join('.')}}`)
          .join(' or ')}`,
      );
  }
}

/** Stands in for a derived expression that failed to parse (its source is left out of the model). */
const emptyExpression = { ...emptyQuery, context: 'derived' } as const;

/** Counts are integers; sum/min/max of a plain field keep its type; anything else is a number. */
function inferMeasureType(m: MeasureDefinition, field: FieldModel | undefined): FieldType {
  if (m.aggregate === 'count' || m.aggregate === 'count_distinct') return 'integer';
  if (field && (m.aggregate === 'min' || m.aggregate === 'max')) return field.type;
  if (field && m.aggregate === 'sum' && ['integer', 'decimal', 'number'].includes(field.type))
    return field.type;
  if (field && m.aggregate === 'avg' && field.type === 'decimal') return 'decimal';
  return 'number';
}

function checkMeasureReferences(
  source: SourceModel,
  sources: ReadonlyMap<string, SourceModel>,
  parsed: ParsedFile,
  def: SourceDefinition,
  diagnostics: Diagnostic[],
  broken: ReadonlySet<string>,
): void {
  (def.measures ?? []).forEach((m, i) => {
    const measure = source.measures.get(m.name);
    if (!measure || measure.definition.kind !== 'derived') return;
    const { expression, refs } = measure.definition;
    refs.forEach((part, r) => {
      const loc = placeholderLocation(parsed, ['measures', i, 'expression'], expression, r);
      const target = sources.get(part.source);
      if (!target && broken.has(part.source)) return;
      if (!target) {
        diagnostics.push(
          unknownMember(
            'unknown_source',
            `unknown source '${part.source}' in expression of measure '${m.name}'`,
            part.source,
            sources.keys(),
            loc,
          ),
        );
      } else if (!target.measures.has(part.measure)) {
        const what = target.fields.has(part.measure)
          ? `'${part.source}.${part.measure}' is a field, not a measure`
          : `unknown measure '${part.source}.${part.measure}'`;
        diagnostics.push(
          unknownMember(
            'unknown_measure',
            `${what} in expression of measure '${m.name}'`,
            part.measure,
            target.measures.keys(),
            loc,
          ),
        );
      }
    });
  });
  checkAccess(source, parsed, def, diagnostics);
}

/**
 * `access:`: the fields it names exist; with `roles` given, the roles named per field are
 * among the source's readers; row filters read only columns the source's fields read.
 */
function checkAccess(
  source: SourceModel,
  parsed: ParsedFile,
  def: SourceDefinition,
  diagnostics: Diagnostic[],
): void {
  const access = def.access;
  if (access?.roles && access.fields) {
    const readers = new Set([...access.roles, ...(access.rowFilters ?? []).map((f) => f.role)]);
    for (const [name, roles] of Object.entries(access.fields)) {
      roles.forEach((role, j) => {
        if (readers.has(role)) return;
        diagnostics.push(
          error(
            'unknown_role',
            `role '${role}' may read '${name}' but not source '${source.name}' (readers: ${[...readers].join(', ')})`,
            parsed.locate(['access', 'fields', name, j]),
            `add ${role} to access.roles, or remove it here`,
          ),
        );
      });
    }
  }
  const known = fieldColumns(source);
  source.access?.rowFilters.forEach(({ filter }, i) => {
    for (const token of filter.tokens) {
      if (token.role !== 'column') continue;
      const column = token.kind === 'quoted' ? token.value : token.value.toLowerCase();
      if (known.has(column)) continue;
      diagnostics.push(
        unknownMember(
          'unknown_column',
          `row filter reads column '${column}', which no field of '${source.name}' reads`,
          column,
          known,
          parsed.locateWithin(['access', 'rowFilters', i, 'filter'], token.start),
        ),
      );
    }
  });
  if (access?.fields) {
    for (const name of Object.keys(access.fields)) {
      if (!source.fields.has(name) && !source.measures.has(name)) {
        diagnostics.push(
          unknownMember(
            'unknown_field',
            `access.fields names '${name}', not a field or measure of '${source.name}'`,
            name,
            [...source.fields.keys(), ...source.measures.keys()],
            parsed.locate(['access', 'fields', name], { key: true }),
          ),
        );
      }
    }
  }
}

/** Where a derived expression's `r`-th distinct reference is written. */
function placeholderLocation(
  parsed: ParsedFile,
  path: ValuePath,
  expression: SqlFragment,
  r: number,
): SourceLocation {
  const token = expression.tokens.find(
    (t) => t.kind === 'placeholder' && t.value === expression.placeholders[r],
  );
  return token ? parsed.locateWithin(path, token.start) : parsed.locate(path);
}

function buildJoins(
  sourceFiles: readonly Parsed<SourceDefinition>[],
  sources: ReadonlyMap<string, SourceModel>,
  diagnostics: Diagnostic[],
  broken: ReadonlySet<string>,
): Map<string, JoinEdge[]> {
  const joins = new Map<string, JoinEdge[]>([...sources.keys()].map((name) => [name, []]));
  const declared = new Map<string, SourceLocation>();
  for (const { parsed, definition } of sourceFiles) {
    const from = sources.get(definition.name);
    if (!from || from.file !== parsed.file) continue;
    (definition.joins ?? []).forEach((join, i) => {
      const loc = parsed.locate(['joins', i, 'to']);
      const to = sources.get(join.to);
      if (!to && broken.has(join.to)) return;
      if (!to) {
        diagnostics.push(
          unknownMember(
            'unknown_source',
            `join to unknown source '${join.to}'`,
            join.to,
            sources.keys(),
            loc,
          ),
        );
        return;
      }
      if (to.name === from.name) {
        diagnostics.push(error('invalid_join', `source '${from.name}' cannot join itself`, loc));
        return;
      }
      const pairKey = [from.name, to.name].sort().join('\u0000');
      const earlier = declared.get(pairKey);
      if (earlier) {
        diagnostics.push(
          error(
            'duplicate_join',
            `the join between '${from.name}' and '${to.name}' is already declared at ${earlier.file}:${earlier.line}:${earlier.col}`,
            loc,
            'declare a join once, on either side; it works both ways',
          ),
        );
        return;
      }
      const on: { from: string; to: string }[] = [];
      let valid = true;
      for (const [mine, theirs] of Object.entries(join.on)) {
        const a = from.fields.get(mine);
        const b = to.fields.get(theirs);
        if (!a) {
          diagnostics.push(
            unknownMember(
              'unknown_field',
              `join field '${mine}' is not a field of '${from.name}'`,
              mine,
              from.fields.keys(),
              parsed.locate(['joins', i, 'on', mine], { key: true }),
            ),
          );
          valid = false;
        }
        if (!b) {
          diagnostics.push(
            unknownMember(
              'unknown_field',
              `join field '${theirs}' is not a field of '${to.name}'`,
              theirs,
              to.fields.keys(),
              parsed.locate(['joins', i, 'on', mine]),
            ),
          );
          valid = false;
        }
        if (a && b && !comparableTypes(a.type, b.type)) {
          diagnostics.push(
            error(
              'join_type_mismatch',
              `cannot join ${from.name}.${mine} (${a.type}) to ${to.name}.${theirs} (${b.type})`,
              parsed.locate(['joins', i, 'on', mine]),
            ),
          );
          valid = false;
        }
        on.push({ from: mine, to: theirs });
      }
      if (!valid) return;
      declared.set(pairKey, loc);
      joins.get(from.name)!.push({ from: from.name, to: to.name, relationship: join.relationship, on, loc });
      joins.get(to.name)!.push({
        from: to.name,
        to: from.name,
        relationship: reverseRelationship(join.relationship),
        on: on.map((p) => ({ from: p.to, to: p.from })),
        loc,
      });
    });
  }
  return joins;
}

const NUMERIC: ReadonlySet<FieldType> = new Set(['integer', 'decimal', 'number']);

export function comparableTypes(a: FieldType, b: FieldType): boolean {
  return a === b || (NUMERIC.has(a) && NUMERIC.has(b));
}

function checkDerivedCycles(sources: ReadonlyMap<string, SourceModel>, diagnostics: Diagnostic[]): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const key = (source: string, measure: string) => `${source}.${measure}`;
  const visit = (measure: MeasureModel, trail: string[]): void => {
    const k = key(measure.source, measure.name);
    const s = state.get(k);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(k)), k].join(' -> ');
      diagnostics.push(error('measure_cycle', `derived measures form a cycle: ${cycle}`, measure.loc));
      return;
    }
    state.set(k, 'visiting');
    if (measure.definition.kind === 'derived') {
      for (const part of measure.definition.refs) {
        const next = sources.get(part.source)?.measures.get(part.measure);
        if (next) visit(next, [...trail, k]);
      }
    }
    state.set(k, 'done');
  };
  for (const source of sources.values()) for (const measure of source.measures.values()) visit(measure, []);
}

export function unknownMember(
  code: string,
  message: string,
  name: string,
  candidates: Iterable<string>,
  loc: SourceLocation,
): Diagnostic {
  return error(code, message, loc, didYouMean(name, candidates));
}
