/** `strata schema`: the JSON Schemas of the definition files, for editors (docs/definitions.md). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  allJsonSchemas,
  jsonSchemaOf,
  SCHEMA_KINDS,
  schemaText,
  type ProjectNames,
  type SchemaKind,
} from '../core/definitions/json-schema.js';
import { projectNames } from '../core/definitions/project-names.js';
import { allReferencePages } from '../core/definitions/reference-doc.js';
import { UsageError } from '../engines/open-engine.js';
import { loadProject } from '../project/load-project.js';

export interface SchemaFlags {
  /** Narrow field, source and input references to the project's names. */
  projectNames?: boolean;
  out?: string;
}

/** `strata schema <kind>` prints one schema; `--out DIR` writes every kind's file into DIR. */
export function schemaCommand(projectDir: string, kind: string | undefined, flags: SchemaFlags): number {
  // A project that does not validate still names most of its fields: offer what parsed.
  const names: ProjectNames | undefined = flags.projectNames
    ? projectNames(loadProject(projectDir).model)
    : undefined;
  if (flags.out !== undefined) {
    if (kind !== undefined) throw new UsageError('--out writes every kind of schema: give no kind');
    writeSchemaFiles(flags.out, names);
    process.stderr.write(`wrote ${SCHEMA_KINDS.length} schemas to ${flags.out}\n`);
    return 0;
  }
  if (kind === undefined) throw new UsageError(`give a kind (${SCHEMA_KINDS.join(', ')}) or --out DIR`);
  process.stdout.write(schemaText(jsonSchemaOf(schemaKindOf(kind), names)));
  return 0;
}

export function writeSchemaFiles(dir: string, names?: ProjectNames): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of Object.entries(allJsonSchemas(names)))
    writeFileSync(join(dir, file), schemaText(schema));
}

/** docs/reference/*.md: the key-by-key reference of every kind, from the same schemas. */
export function writeReferencePages(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(allReferencePages())) writeFileSync(join(dir, file), text);
}

function schemaKindOf(kind: string): SchemaKind {
  if (!(SCHEMA_KINDS as readonly string[]).includes(kind))
    throw new UsageError(`unknown schema kind '${kind}' (expected ${SCHEMA_KINDS.join(', ')})`);
  return kind as SchemaKind;
}
