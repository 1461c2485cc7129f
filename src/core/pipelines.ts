/**
 * CDC pipeline definitions (spec §9): what can be checked before anything runs. The raw
 * table each upstream table lands in, the processors' tables, a filter's condition (one
 * expression, the rules of definition SQL), a graphql_enrich operation and its variables,
 * and the columns that flow: a processor may not consume a column an earlier `project` drops,
 * nor may a `project` drop a column a Strata source reads from the raw table. The upstream
 * tables' own columns are only known when the pipeline runs (it checks them then).
 */
import { GraphQLError, Kind, parse, type DocumentNode } from 'graphql';
import { error, type Diagnostic } from './diagnostics.js';
import type { ValuePath } from './definitions/document.js';
import type { PipelineDefinition, ProcessorDefinition } from './definitions/schema.js';
import type { PipelineModel, SemanticModel, SourceModel } from './model/types.js';
import type { Compiler } from './compile.js';
import { allInputUsages, usagesOf } from './impact.js';
import { memberColumns } from './model/columns.js';
import { parseFragment } from './sql/fragments/fragment.js';
import { cronProblem } from './trackers.js';

export interface RawTable {
  namespace: string;
  name: string;
}

/** Where an upstream table's changes land: `<sink namespace>.<table name>` unless mapped. */
export function rawTableOf(pipeline: PipelineDefinition, upstream: string): RawTable {
  const name = pipeline.sink.tables?.[upstream] ?? upstream.slice(upstream.indexOf('.') + 1).toLowerCase();
  return { namespace: pipeline.sink.namespace, name };
}

/** A table a pipeline writes, and the upstream table it holds (none for the pipeline's own tables). */
export interface WrittenTable extends RawTable {
  upstream?: string;
}

/** Every table a pipeline writes: one raw table per upstream table, its heartbeats and its dead letters. */
export function tablesWrittenBy(pipeline: PipelineDefinition): WrittenTable[] {
  const namespace = pipeline.sink.namespace;
  return [
    ...pipeline.source.tables.map((upstream) => ({ ...rawTableOf(pipeline, upstream), upstream })),
    { namespace, name: `${pipeline.name}__heartbeats` },
    { namespace, name: `${pipeline.name}__dead_letters` },
  ];
}

const tableKey = (t: RawTable): string => `${t.namespace}.${t.name}`.toLowerCase();

/** The processors that apply to an upstream table, in order. */
export function processorsFor(pipeline: PipelineDefinition, upstream: string): ProcessorDefinition[] {
  return (pipeline.processors ?? []).filter((p) => !p.tables || p.tables.includes(upstream));
}

/** The Strata sources reading a raw table: the consumers of its columns. */
export function sourcesReading(model: SemanticModel, table: RawTable): SourceModel[] {
  return [...model.sources.values()].filter(
    (s) =>
      s.relation.kind === 'table' &&
      s.relation.path.slice(-2).join('.').toLowerCase() === `${table.namespace}.${table.name}`.toLowerCase(),
  );
}

/**
 * The raw table's key as the Strata sources over it declare it: for streams that carry no key
 * (Debezium Server's NATS sink sends values only). Only plain key fields name their column;
 * undefined when no source declares one that way.
 */
export function declaredKey(model: SemanticModel, table: RawTable): string[] | undefined {
  for (const source of sourcesReading(model, table)) {
    const key = source.primaryKey.map((name) => source.fields.get(name));
    if (key.length > 0 && key.every((field) => field && !field.sql)) return key.map((field) => field!.name);
  }
  return undefined;
}

/** The columns every query of a source reads: its key and its CDC ordering and delete test. */
function structuralColumns(source: SourceModel): Set<string> {
  const columns = new Set([...source.primaryKey, ...(source.cdc?.orderBy ?? [])]);
  source.cdc?.deletedWhen?.columns.forEach((c) => columns.add(c));
  return columns;
}

/** The columns a source reads from its table: its fields' and measures', its key's and its CDC ordering's. */
export function columnsConsumed(source: SourceModel): Set<string> {
  const columns = structuralColumns(source);
  for (const read of memberColumns(source).values()) read.forEach((c) => columns.add(c));
  return columns;
}

export interface ColumnConsumers {
  sources: string[];
  inputs: string[];
  trackers: string[];
}

/**
 * Who reads a column of a raw table: the Strata sources over it, and through the fields and
 * measures that read the column (every member, for a key or ordering column), the inputs and
 * trackers that use them. What a pipeline pause names.
 */
export function consumersOfColumn(compiler: Compiler, table: RawTable, column: string): ColumnConsumers {
  const sources: string[] = [];
  const inputs = new Set<string>();
  const trackers = new Set<string>();
  const usages = allInputUsages(compiler.model);
  for (const source of sourcesReading(compiler.model, table)) {
    const members = memberColumns(source);
    const everything = structuralColumns(source).has(column);
    const reading = [...members].filter(([, columns]) => everything || columns.has(column)).map(([m]) => m);
    if (!everything && reading.length === 0) continue;
    sources.push(source.name);
    for (const member of reading) {
      const usage = usagesOf(compiler.model, `${source.name}.${member}`, usages);
      usage.inputs.forEach((i) => inputs.add(i));
      usage.trackers.forEach((t) => trackers.add(t));
    }
  }
  return { sources: sources.sort(), inputs: [...inputs].sort(), trackers: [...trackers].sort() };
}

export function checkPipeline(pipeline: PipelineModel, model: SemanticModel): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const def = pipeline.definition;
  const at = (path: ValuePath) => pipeline.locate(path);
  if (def.source.type === 'debezium' && !def.source.nats && !def.source.files)
    problems.push(
      error(
        'missing_key',
        'a debezium source reads `nats:` (a JetStream stream) or `files:`',
        at(['source']),
      ),
    );
  checkRawTables(def, at, problems);
  checkTablesOfOtherPipelines(pipeline, model, problems);
  (def.processors ?? []).forEach((processor, i) => {
    (processor.tables ?? []).forEach((table, j) => {
      if (!def.source.tables.includes(table))
        problems.push(
          error(
            'unknown_table',
            `the processor applies to ${table}, which the pipeline does not read`,
            at(['processors', i, 'tables', j]),
          ),
        );
    });
    if (processor.type === 'filter')
      checkFilter(pipeline, processor.where, ['processors', i, 'where'], problems);
    if (processor.type === 'graphql_enrich') checkEnrich(pipeline, processor, i, problems);
  });
  for (const table of def.source.tables) checkColumnFlow(pipeline, model, table, problems);
  if (def.audit?.schedule !== undefined) {
    const problem = cronProblem(def.audit.schedule);
    if (problem)
      problems.push(
        error('invalid_schedule', `invalid audit schedule: ${problem}`, at(['audit', 'schedule'])),
      );
  }
  return problems;
}

function checkRawTables(
  def: PipelineDefinition,
  at: (path: ValuePath) => Diagnostic['location'],
  problems: Diagnostic[],
): void {
  const seen = new Map<string, string>();
  def.source.tables.forEach((table, i) => {
    const raw = rawTableOf(def, table);
    const earlier = seen.get(raw.name);
    if (earlier)
      problems.push(
        error(
          'duplicate_name',
          `${table} and ${earlier} would both land in ${raw.namespace}.${raw.name}`,
          at(['source', 'tables', i]) ?? undefined,
          `name one under sink.tables: { ${table}: <raw table> }`,
        ),
      );
    seen.set(raw.name, table);
  });
}

/**
 * A table another pipeline already writes: reported at the later pipeline (in file order), at
 * its `sink` (or the `sink.tables` entry that names the table). Two pipelines committing to
 * one raw table would each find the other's position there and never commit again.
 */
function checkTablesOfOtherPipelines(
  pipeline: PipelineModel,
  model: SemanticModel,
  problems: Diagnostic[],
): void {
  const mine = tablesWrittenBy(pipeline.definition);
  for (const other of model.pipelines.values()) {
    if (other === pipeline || other.name === pipeline.name) return;
    const theirs = new Map(tablesWrittenBy(other.definition).map((t) => [tableKey(t), t]));
    for (const table of mine) {
      const clash = theirs.get(tableKey(table));
      if (!clash) continue;
      const mapped = table.upstream !== undefined && pipeline.definition.sink.tables?.[table.upstream];
      problems.push(
        error(
          'duplicate_name',
          `${table.upstream ?? `pipeline ${pipeline.name}`} would land in ${table.namespace}.${table.name}, which pipeline '${other.name}' (${other.file}) already writes${clash.upstream ? ` from ${clash.upstream}` : ''}`,
          mapped
            ? pipeline.locate(['sink', 'tables', table.upstream!])
            : pipeline.locate(['sink'], { key: true }),
          'give the pipelines different sink namespaces, or name the table under sink.tables: { <upstream table>: <raw table> }',
        ),
      );
    }
  }
}

function checkFilter(pipeline: PipelineModel, where: string, path: ValuePath, problems: Diagnostic[]): void {
  const parsed = parseFragment(where, 'pipeline_filter');
  if (!parsed.ok) {
    const { problem } = parsed;
    problems.push(
      error(problem.code, problem.message, pipeline.locateWithin(path, problem.offset), problem.hint),
    );
  }
}

function checkEnrich(
  pipeline: PipelineModel,
  processor: Extract<ProcessorDefinition, { type: 'graphql_enrich' }>,
  i: number,
  problems: Diagnostic[],
): void {
  const path = ['processors', i, 'query'];
  let document: DocumentNode;
  try {
    document = parse(processor.query);
  } catch (e) {
    const offset = e instanceof GraphQLError ? (e.positions?.[0] ?? 0) : 0;
    problems.push(error('graphql_syntax', (e as Error).message, pipeline.locateWithin(path, offset)));
    return;
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]!.operation !== 'query') {
    problems.push(
      error('invalid_value', 'the query must be exactly one GraphQL query operation', pipeline.locate(path)),
    );
    return;
  }
  const declared = new Set((operations[0]!.variableDefinitions ?? []).map((v) => v.variable.name.value));
  for (const variable of Object.keys(processor.variables)) {
    if (!declared.has(variable))
      problems.push(
        error(
          'unknown_variable',
          `variable '${variable}' is not declared by the query (it declares ${[...declared].map((v) => `$${v}`).join(', ') || 'none'})`,
          pipeline.locate(['processors', i, 'variables', variable], { key: true }),
        ),
      );
  }
  for (const variable of declared) {
    if (!(variable in processor.variables))
      problems.push(
        error(
          'missing_variable',
          `the query declares $${variable}, which variables: does not map to a column`,
          pipeline.locate(['processors', i, 'variables']),
        ),
      );
  }
}

/** The columns a processor reads from the events it gets. */
function columnsRead(processor: ProcessorDefinition): string[] {
  switch (processor.type) {
    case 'filter': {
      const parsed = parseFragment(processor.where, 'pipeline_filter');
      return parsed.ok ? [...parsed.fragment.columns] : [];
    }
    case 'project':
      return processor.fields;
    case 'graphql_enrich':
      return Object.values(processor.variables);
  }
}

/**
 * Columns through an upstream table's processors: once a `project` has run, only its fields
 * (and what enrichments add) flow on. A later processor, and a Strata source reading the raw
 * table, must find the columns they read.
 */
function checkColumnFlow(
  pipeline: PipelineModel,
  model: SemanticModel,
  upstream: string,
  problems: Diagnostic[],
): void {
  const def = pipeline.definition;
  let known: Set<string> | undefined;
  let projectedAt: number | undefined;
  (def.processors ?? []).forEach((processor, i) => {
    if (processor.tables && !processor.tables.includes(upstream)) return;
    if (known)
      for (const column of columnsRead(processor))
        if (!known.has(column))
          problems.push(
            error(
              'unknown_column',
              `${upstream}: this processor reads '${column}', which the project processor at processors[${projectedAt}] drops`,
              pipeline.locate(['processors', i]),
            ),
          );
    if (processor.type === 'project') {
      known = new Set(processor.fields);
      projectedAt = i;
    }
    if (processor.type === 'graphql_enrich' && known)
      Object.keys(processor.outputs).forEach((c) => known!.add(c));
  });
  if (!known) return;
  const raw = rawTableOf(def, upstream);
  for (const source of sourcesReading(model, raw)) {
    // A project keeps the upstream key, which the source's own key must be (checked as the pipeline runs).
    const key = new Set(source.primaryKey);
    for (const column of columnsConsumed(source)) {
      if (column.startsWith('_') || known.has(column) || key.has(column)) continue;
      problems.push(
        error(
          'unknown_column',
          `source '${source.name}' reads column '${column}' of ${raw.namespace}.${raw.name}, which the project processor drops`,
          pipeline.locate(['processors', projectedAt!, 'fields']),
          `keep ${column} in fields, or stop reading it in ${source.file}`,
        ),
      );
    }
  }
}
