/**
 * `strata init [dir]`: a project skeleton that validates and runs at once. Its sample source
 * reads inline rows (a VALUES list), so `strata run` works before the user has any data; the
 * embedded warehouse's catalog is created empty, ready for `strata import`.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  allJsonSchemas,
  schemaFileName,
  schemaText,
  SCHEMA_GLOBS,
  SCHEMA_KINDS,
} from '../core/definitions/json-schema.js';
import { UsageError } from '../engines/open-engine.js';
import { openCatalog, warehouseLocation } from '../engines/warehouse-location.js';

export interface InitFlags {
  /** Write into a folder that is not empty; files that exist are kept, never overwritten. */
  force?: boolean;
}

/** Where init puts the JSON Schemas, relative to the project: committed, so every clone has them. */
export const PROJECT_SCHEMA_DIR = 'schemas';
export const SAMPLE_INPUT = 'sample_orders_by_status';

const FOLDERS = ['definitions/sources', 'definitions/inputs', 'definitions/pipelines', 'trackers'];

export async function initCommand(dir: string, flags: InitFlags): Promise<number> {
  refuseNonEmpty(dir, flags.force ?? false);
  mkdirSync(dir, { recursive: true });
  for (const folder of FOLDERS) mkdirSync(join(dir, folder), { recursive: true });
  const written: string[] = [];
  const kept: string[] = [];
  for (const [path, text] of Object.entries(skeletonFiles())) {
    const target = join(dir, path);
    if (existsSync(target)) {
      kept.push(path);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    written.push(path);
  }
  writeMissingSchemas(join(dir, PROJECT_SCHEMA_DIR), written, kept);
  await createEmptyWarehouse(dir);
  process.stdout.write(nextSteps(dir, written, kept));
  return 0;
}

/** The generic schemas, except files already there (perhaps narrowed by `strata schema --project-names`). */
function writeMissingSchemas(schemaDir: string, written: string[], kept: string[]): void {
  mkdirSync(schemaDir, { recursive: true });
  for (const [file, schema] of Object.entries(allJsonSchemas())) {
    const path = `${PROJECT_SCHEMA_DIR}/${file}`;
    if (existsSync(join(schemaDir, file))) {
      kept.push(path);
      continue;
    }
    writeFileSync(join(schemaDir, file), schemaText(schema));
    written.push(path);
  }
}

function refuseNonEmpty(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} exists and is not a folder`);
  if (!force && readdirSync(dir).length > 0)
    throw new UsageError(
      `${dir} is not empty: use --force to add the skeleton anyway (existing files are kept)`,
    );
}

/**
 * The embedded engine reads the project's Iceberg warehouse and refuses to start without one;
 * an empty catalog lets the sample run now and `strata import` add tables later.
 */
async function createEmptyWarehouse(dir: string): Promise<void> {
  const catalog = await openCatalog(warehouseLocation(dir, {}));
  await catalog.close();
}

function nextSteps(dir: string, written: string[], kept: string[]): string {
  const project = dir === '.' ? '' : ` --project ${dir}`;
  return [
    `created a Strata project in ${dir}`,
    ...written.map((f) => `  + ${f}`),
    ...kept.map((f) => `  = ${f} (exists, kept)`),
    '',
    `editor schemas are in ${join(dir, PROJECT_SCHEMA_DIR)}; \`strata schema --project-names --out ${join(dir, PROJECT_SCHEMA_DIR)}${project}\` adds your names to them`,
    '',
    'next:',
    `  strata validate${project}`,
    `  strata run ${SAMPLE_INPUT}${project}`,
    '',
  ].join('\n');
}

/** Every file of the skeleton but the schemas, by path relative to the project. */
export function skeletonFiles(): Record<string, string> {
  return {
    'strata.yaml': STRATA_YAML,
    '.gitignore': '# local state: the embedded warehouse, run history\n.strata/\n',
    'definitions/sources/sample_order.yaml': SAMPLE_SOURCE,
    [`definitions/inputs/${SAMPLE_INPUT}.yaml`]: SAMPLE_INPUT_YAML,
    'definitions/pipelines/.gitkeep': '',
    'trackers/.gitkeep': '',
    '.vscode/settings.json': `${JSON.stringify(vscodeSettings(), null, 2)}\n`,
    '.vscode/extensions.json': `${JSON.stringify({ recommendations: ['redhat.vscode-yaml'] }, null, 2)}\n`,
  };
}

/** yaml-language-server's `yaml.schemas`: schema file -> the globs of the files it describes. */
export function vscodeSettings(): { 'yaml.schemas': Record<string, string[]> } {
  return {
    'yaml.schemas': Object.fromEntries(
      SCHEMA_KINDS.map((kind) => [`./${PROJECT_SCHEMA_DIR}/${schemaFileName(kind)}`, SCHEMA_GLOBS[kind]]),
    ),
  };
}

const STRATA_YAML = `# yaml-language-server: $schema=./schemas/config.schema.json
# Strata project configuration. Everything here is optional (docs/configuration.md).

# The engine queries run on: duckdb (embedded, the default) | postgres | trino | mysql.
# The embedded engine reads the project's Iceberg warehouse (.strata/, filled by
# \`strata import\`), plus the tables of duckdb.database when set.
engine: duckdb

# dialect: duckdb                  # default dialect of \`strata compile\`

# duckdb:
#   database: data.duckdb          # an existing DuckDB file, readable beside the warehouse

# warehouse:                       # the embedded Iceberg warehouse
#   root: .strata/warehouse        # data and metadata files
#   path: .strata/catalog.db       # the SQL catalog (sqlite)

# postgres:                        # with engine: postgres
#   connection: env:DATABASE_URL   # credentials always come from the environment
#   schema: public

# trino:                           # with engine: trino
#   server: http://trino:8080
#   catalog: iceberg
#   schema: analytics
#   user: strata
`;

const SAMPLE_SOURCE = `# yaml-language-server: $schema=../../schemas/source.schema.json
# A sample source over inline rows, so that \`strata run\` works before you have data.
# A real source reads a table instead of \`sql:\`, for example \`table: app.orders\`
# (\`strata import\` loads files into tables; \`strata generate source\` drafts the YAML).
name: sample_order
description: Sample orders, inline (replace with your own tables).
owner: you@example.com
sql: >-
  SELECT * FROM (VALUES
    (1, 'Ada', 'open', DATE '2026-01-05', 120.50),
    (2, 'Grace', 'shipped', DATE '2026-01-07', 80.00),
    (3, 'Ada', 'shipped', DATE '2026-02-11', 42.25),
    (4, 'Linus', 'cancelled', DATE '2026-02-14', 15.00)
  ) AS t(order_id, customer, status, order_date, amount)
primaryKey: order_id
fields:
  - name: order_id
    type: integer
  - name: customer
    type: string
  - name: status
    type: string
  - name: order_date
    type: date
    format: yyyy-mm-dd
  - name: amount
    type: decimal
    format: "#,##0.00"
measures:
  - name: order_count
    aggregate: count
  - name: total_amount
    aggregate: sum
    sql: amount
    format: "#,##0.00"
`;

const SAMPLE_INPUT_YAML = `# yaml-language-server: $schema=../../schemas/input.schema.json
# A sample input: \`strata run ${SAMPLE_INPUT}\` prints it, \`strata compile\` its SQL.
name: ${SAMPLE_INPUT}
description: Orders and amounts per status.
from: sample_order
fields:
  - sample_order.status
  - sample_order.order_count
  - sample_order.total_amount
filters:
  - { field: sample_order.status, op: not_equals, value: cancelled }
sort:
  - { field: sample_order.total_amount, direction: desc }
`;
