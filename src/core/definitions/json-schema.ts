/**
 * JSON Schemas of the definition files, generated from the zod schemas (the one source of
 * truth), for editors: completion, hovers and inline errors through yaml-language-server.
 * Pure: the CLI and scripts/generate-schemas.ts write the files.
 *
 * A JSON Schema checks the shape only; cross-references (unknown fields, join paths) stay
 * `strata validate`'s. A project's schema narrows the references to the project's real names.
 */
import { z } from 'zod';
import {
  FieldRef,
  InputDefinition,
  InputName,
  PipelineDefinition,
  ProjectConfig,
  SortField,
  SourceDefinition,
  SourceName,
  TrackerDefinition,
} from './schema.js';

export const SCHEMA_KINDS = ['source', 'input', 'tracker', 'pipeline', 'config'] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];

const SCHEMAS: Record<SchemaKind, z.ZodType> = {
  source: SourceDefinition,
  input: InputDefinition,
  tracker: TrackerDefinition,
  pipeline: PipelineDefinition,
  config: ProjectConfig,
};

const TITLES: Record<SchemaKind, string> = {
  source: 'Strata data source definition (definitions/sources/*.yaml)',
  input: 'Strata input definition (definitions/inputs/*.yaml)',
  tracker: 'Strata tracker (trackers/*.yaml)',
  pipeline: 'Strata CDC pipeline (definitions/pipelines/*.yaml)',
  config: 'Strata project configuration (strata.yaml)',
};

/** The files each schema describes, as globs relative to the project folder. */
export const SCHEMA_GLOBS: Record<SchemaKind, string[]> = {
  source: ['definitions/sources/*.yaml', 'definitions/sources/*.yml'],
  input: ['definitions/inputs/*.yaml', 'definitions/inputs/*.yml'],
  tracker: ['trackers/*.yaml', 'trackers/*.yml'],
  pipeline: ['definitions/pipelines/*.yaml', 'definitions/pipelines/*.yml'],
  config: ['strata.yaml'],
};

export const schemaFileName = (kind: SchemaKind): string => `${kind}.schema.json`;

/** The names a project defines, which its schema offers where a definition refers to one. */
export interface ProjectNames {
  /** `source.field` and `source.measure`. */
  fields: readonly string[];
  sources: readonly string[];
  inputs: readonly string[];
}

type JsonSchema = z.core.JSONSchema.BaseSchema;

export function jsonSchemaOf(kind: SchemaKind, names?: ProjectNames): JsonSchema {
  const schema = z.toJSONSchema(SCHEMAS[kind], {
    // Draft 7: what yaml-language-server and most editors support best.
    target: 'draft-7',
    // The shape an author writes (before any transform), which is what an editor checks.
    io: 'input',
    // Refinements have no JSON Schema form; they stay `strata validate`'s to report.
    unrepresentable: 'any',
    ...(names ? { override: (ctx) => narrowReference(ctx.zodSchema, ctx.jsonSchema, names) } : {}),
  });
  return { ...schema, title: TITLES[kind] };
}

/** Every kind's schema, keyed by its file name, in a stable order. */
export function allJsonSchemas(names?: ProjectNames): Record<string, JsonSchema> {
  return Object.fromEntries(SCHEMA_KINDS.map((kind) => [schemaFileName(kind), jsonSchemaOf(kind, names)]));
}

/** The text a schema file holds: stable, so that generated files can be compared and committed. */
export const schemaText = (schema: JsonSchema): string => `${JSON.stringify(schema, null, 2)}\n`;

/**
 * A reference to a name becomes an enum of the project's names. A sort key may also be an
 * output column, so it offers the fields without refusing other names.
 */
function narrowReference(zodSchema: z.core.$ZodType, json: JsonSchema, names: ProjectNames): void {
  const choices =
    zodSchema === FieldRef
      ? names.fields
      : zodSchema === SourceName
        ? names.sources
        : zodSchema === InputName
          ? names.inputs
          : zodSchema === SortField
            ? names.fields
            : undefined;
  if (choices === undefined || choices.length === 0) return;
  if (zodSchema === SortField) {
    json.examples = [...choices];
    return;
  }
  delete json.pattern;
  json.enum = [...choices];
}
