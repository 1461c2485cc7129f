/** `strata impact` and `strata diff`: what a definition change touches, for pull-request review. */
import { execFileSync } from 'node:child_process';
import { createTwoFilesPatch } from 'diff';
import { Compiler } from '../core/compile.js';
import type { Dialect } from '../core/definitions/schema.js';
import { usagesOf } from '../core/impact.js';
import { buildModel, type DefinitionFile, type DefinitionKind } from '../core/model/build.js';
import type { SemanticModel } from '../core/model/types.js';
import { memberOf } from '../core/model/types.js';
import { closest } from '../core/suggest.js';
import { dialectOf } from './commands.js';
import { trackerCompileOptions } from '../core/trackers.js';
import { UsageError } from '../engines/open-engine.js';
import { loadValidProject } from './context.js';

export function impactCommand(projectDir: string, ref: string): number {
  const project = loadValidProject(projectDir);
  const [sourceName = '', member = ''] = ref.split('.');
  const source = project.model.sources.get(sourceName);
  if (!source || !memberOf(source, member)) {
    const all = [...project.model.sources.values()].flatMap((s) =>
      [...s.fields.keys(), ...s.measures.keys()].map((m) => `${s.name}.${m}`),
    );
    const suggestion = closest(ref, all);
    throw new UsageError(
      `unknown field or measure '${ref}'${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
    );
  }
  const { inputs, trackers } = usagesOf(project.model, ref);
  process.stdout.write(
    `inputs (${inputs.length}): ${inputs.join(', ') || '-'}\ntrackers (${trackers.length}): ${trackers.join(', ') || '-'}\n`,
  );
  return 0;
}

const FOLDERS: [string, DefinitionKind][] = [
  ['definitions/sources/', 'source'],
  ['definitions/inputs/', 'input'],
  ['trackers/', 'tracker'],
];

/** The project's definition files as they were at a git revision. */
function filesAt(projectDir: string, revision: string): DefinitionFile[] {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', projectDir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let prefix: string;
  let listing: string;
  try {
    prefix = git('rev-parse', '--show-prefix').trim();
    listing = git('ls-tree', '-r', '--name-only', revision, '--', ...FOLDERS.map(([f]) => f));
  } catch (e) {
    throw new UsageError(
      `cannot read revision '${revision}': ${
        String((e as { stderr?: string }).stderr ?? e)
          .trim()
          .split('\n')[0]
      }`,
    );
  }
  return listing
    .split('\n')
    .filter((path) => /\.ya?ml$/.test(path))
    .flatMap((path) => {
      const relative = path.slice(prefix.length);
      const kind = FOLDERS.find(([folder]) => relative.startsWith(folder))?.[1];
      return kind
        ? [{ path: `${revision}:${relative}`, kind, text: git('show', `${revision}:${path}`) }]
        : [];
    });
}

/** Every input's and tracker's SQL, by `input:<name>` / `tracker:<name>`; what fails to compile says why. */
function compileAll(model: SemanticModel, dialect: Dialect): Map<string, string> {
  const compiler = new Compiler(model);
  const sql = new Map<string, string>();
  const attempt = (key: string, run: () => string) => {
    try {
      sql.set(key, `${run()}\n`);
    } catch (e) {
      sql.set(key, `-- does not compile: ${(e as Error).message}\n`);
    }
  };
  for (const input of model.inputs.values())
    attempt(`input:${input.name}`, () => compiler.compile(input, { dialect, validateOnly: true }).sql);
  for (const tracker of model.trackers.values()) {
    attempt(
      `tracker:${tracker.name}`,
      () =>
        compiler.compile(tracker.definition.input, {
          ...trackerCompileOptions(tracker, dialect),
          validateOnly: true,
        }).sql,
    );
  }
  return sql;
}

export function diffCommand(projectDir: string, flags: { base?: string; dialect?: string }): number {
  if (!flags.base) throw new UsageError('diff needs --base <git-ref>');
  const project = loadValidProject(projectDir);
  const dialect = dialectOf(flags.dialect, project.config.dialect ?? 'trino');
  const before = compileAll(buildModel(filesAt(projectDir, flags.base)).model, dialect);
  const after = compileAll(project.model, dialect);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  let changed = 0;
  for (const key of keys) {
    const [a, b] = [before.get(key) ?? '', after.get(key) ?? ''];
    if (a === b) continue;
    changed++;
    const label = !before.has(key) ? 'added' : !after.has(key) ? 'removed' : 'changed';
    process.stdout.write(
      createTwoFilesPatch(`${flags.base}/${key}`, `working tree/${key}`, a, b, '', label, { context: 3 }),
    );
  }
  process.stdout.write(
    `${changed} of ${keys.length} inputs and trackers changed their ${dialect} SQL since ${flags.base}\n`,
  );
  return 0;
}
