/**
 * A throw-away project with one CDC source over an Iceberg raw table in its embedded
 * warehouse, and an independent reading of which files a table's metadata references (plain
 * JSON.parse and avsc's file decoder, none of the warehouse's own reading code).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { Compiler } from '../../src/core/compile.js';
import { collect } from '../../src/engines/engine.js';
import { openEngine } from '../../src/engines/open-engine.js';
import { openWritableWarehouse, type WritableWarehouse } from '../../src/engines/warehouse-location.js';
import { loadProject } from '../../src/project/load-project.js';
import { fromUri } from '../../src/warehouse/files.js';

export const TABLE = { namespace: 'raw', name: 'thing_changes' };
export const TABLE_NAME = 'raw.thing_changes';

export const RAW_COLUMNS = [
  { name: 'id', type: 'long' as const },
  { name: 'val', type: 'string' as const },
  { name: '_op', type: 'string' as const },
  { name: '_op_ts', type: 'timestamp' as const },
  { name: '_seq', type: 'long' as const },
];

export interface Change {
  id: number;
  val: string | null;
  _op: 'c' | 'u' | 'd' | 'r';
  _op_ts: string;
  _seq: number;
}

const SOURCE = `name: thing
table: raw.thing_changes
primaryKey: id
cdc:
  orderBy: [_op_ts, _seq]
  deletedWhen: "_op = 'd'"
fields:
  - { name: id, type: integer }
  - { name: val, type: string }
`;
const INPUT = 'name: things\nfrom: thing\nfields: [thing.id, thing.val]\n';

export interface CdcProject {
  dir: string;
  root: string;
  writeConfig(config: Record<string, unknown>): void;
  /** A writable warehouse of the project (closed by the caller). */
  open(): Promise<WritableWarehouse>;
  /** The `things` input's rows on the embedded engine, as sorted JSON lines. */
  answers(): Promise<string[]>;
  cleanup(): void;
}

export function createCdcProject(config: Record<string, unknown> = {}): CdcProject {
  const dir = mkdtempSync(join(tmpdir(), 'strata-maint-'));
  mkdirSync(join(dir, 'definitions', 'sources'), { recursive: true });
  mkdirSync(join(dir, 'definitions', 'inputs'), { recursive: true });
  writeFileSync(join(dir, 'definitions', 'sources', 'thing.yaml'), SOURCE);
  writeFileSync(join(dir, 'definitions', 'inputs', 'things.yaml'), INPUT);
  const writeConfig = (c: Record<string, unknown>) =>
    writeFileSync(join(dir, 'strata.yaml'), `${JSON.stringify(c, null, 1)}\n`);
  writeConfig(config);
  const project = () => loadProject(dir);
  return {
    dir,
    root: join(dir, '.strata', 'warehouse'),
    writeConfig,
    open: () => openWritableWarehouse(dir, project().config),
    answers: async () => {
      const { model, config: cfg } = project();
      const sql = new Compiler(model).compile('things', { dialect: 'duckdb' }).sql;
      const engine = await openEngine(dir, {}, cfg);
      try {
        return (await collect(engine.stream(sql))).map((r) => JSON.stringify(r)).sort();
      } finally {
        await engine.close();
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every regular file under `dir`. */
export function allFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

function avroRecords(path: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const records: Record<string, unknown>[] = [];
    avro
      .createFileDecoder(path)
      .on('data', (r: Record<string, unknown>) => records.push(r))
      .on('end', () => resolve(records))
      .on('error', reject);
  });
}

/**
 * The files a table's current metadata file references, found independently: the metadata
 * file itself and those in its metadata log; for every snapshot its manifest list, the
 * manifests listed there and every data file they name (any entry status).
 */
export async function referencedFiles(metadataLocation: string): Promise<Set<string>> {
  const path = fromUri(metadataLocation);
  const metadata = JSON.parse(readFileSync(path, 'utf8')) as {
    'metadata-log': { 'metadata-file': string }[];
    snapshots: { 'manifest-list': string }[];
  };
  const referenced = new Set<string>([path]);
  for (const entry of metadata['metadata-log']) referenced.add(fromUri(entry['metadata-file']));
  for (const snapshot of metadata.snapshots) {
    const list = fromUri(snapshot['manifest-list']);
    referenced.add(list);
    for (const manifest of await avroRecords(list)) {
      const manifestPath = fromUri(String(manifest.manifest_path));
      referenced.add(manifestPath);
      for (const entry of await avroRecords(manifestPath)) {
        const file = entry.data_file as { file_path: string };
        referenced.add(fromUri(file.file_path));
      }
    }
  }
  return referenced;
}
