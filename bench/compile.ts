/**
 * `npm run bench:compile`: load + validate + compile synthetic projects of 50, 200 and 500
 * sources with 300 inputs each, from files on disk, as `strata compile --all` would.
 * Baseline measured in the same run: parsing the same YAML files with `yaml` alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { Compiler } from '../src/core/compile.js';
import { StrataError } from '../src/core/diagnostics.js';
import { loadProject, readDefinitionFiles } from '../src/project/load-project.js';
import { syntheticProject } from './synthetic-project.js';

const SIZES = [50, 200, 500];
const INPUTS = 300;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

interface Run {
  yamlOnlyMs: number;
  loadValidateMs: number;
  compileAllMs: number;
  perInput: number[];
}

function once(dir: string): Run {
  let t = performance.now();
  for (const file of readDefinitionFiles(dir)) parse(file.text);
  const yamlOnlyMs = performance.now() - t;

  t = performance.now();
  const project = loadProject(dir);
  const compiler = new Compiler(project.model);
  const problems = [...project.diagnostics];
  for (const input of project.model.inputs.values())
    problems.push(...compiler.check(input, { validateOnly: true }));
  const loadValidateMs = performance.now() - t;
  if (problems.length > 0) throw new StrataError(problems.slice(0, 5));

  const perInput: number[] = [];
  t = performance.now();
  for (const input of project.model.inputs.values()) {
    const start = performance.now();
    compiler.compile(input, { dialect: 'trino' });
    perInput.push(performance.now() - start);
  }
  const compileAllMs = performance.now() - t;
  return { yamlOnlyMs, loadValidateMs, compileAllMs, perInput };
}

/** The whole user-visible command, node start-up included: `strata compile --all --out DIR`. */
function freshProcess(dir: string): number | undefined {
  const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');
  if (!existsSync(cli)) return undefined;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const result = spawnSync(
      process.execPath,
      [cli, 'compile', '--all', '--dialect', 'trino', '--project', dir, '--out', join(dir, 'out')],
      { encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(result.stderr);
    times.push(performance.now() - start);
  }
  return median(times);
}

const root = mkdtempSync(join(tmpdir(), 'strata-bench-'));
const rows: string[] = [];
try {
  console.log(
    `node ${process.version}, ${INPUTS} inputs per project, median of ${REPEATS} runs (first run cold)\n`,
  );
  for (const size of SIZES) {
    const dir = join(root, `p${size}`);
    for (const file of syntheticProject(size, INPUTS)) {
      mkdirSync(dirname(join(dir, file.path)), { recursive: true });
      writeFileSync(join(dir, file.path), file.text);
    }
    const runs = Array.from({ length: REPEATS }, () => once(dir));
    const processMs = freshProcess(dir);
    const cold = runs[0]!;
    const all = runs.flatMap((r) => r.perInput).sort((a, b) => a - b);
    const total = median(runs.map((r) => r.loadValidateMs + r.compileAllMs));
    const yaml = median(runs.map((r) => r.yamlOnlyMs));
    const row = {
      size,
      coldLoadValidate: cold.loadValidateMs,
      loadValidate: median(runs.map((r) => r.loadValidateMs)),
      compileAll: median(runs.map((r) => r.compileAllMs)),
      p50: percentile(all, 50),
      p95: percentile(all, 95),
      coldTotal: cold.loadValidateMs + cold.compileAllMs,
      total,
      yaml,
      processMs,
    };
    rows.push(
      `| ${size} | ${row.coldLoadValidate.toFixed(0)} ms | ${row.loadValidate.toFixed(0)} ms | ${row.p50.toFixed(3)} ms | ${row.p95.toFixed(3)} ms | ${row.compileAll.toFixed(0)} ms | ${row.coldTotal.toFixed(0)} ms | ${row.total.toFixed(0)} ms | ${(row.total / row.yaml).toFixed(2)}x | ${row.processMs === undefined ? 'n/a' : `${row.processMs.toFixed(0)} ms`} |`,
    );
    console.log(
      `${size} sources: cold load+validate ${row.coldLoadValidate.toFixed(0)} ms (warm ${row.loadValidate.toFixed(0)} ms), compile p50 ${row.p50.toFixed(3)} ms p95 ${row.p95.toFixed(3)} ms, all ${INPUTS} inputs ${row.compileAll.toFixed(0)} ms, total cold ${row.coldTotal.toFixed(0)} ms / warm ${row.total.toFixed(0)} ms = ${(row.total / row.yaml).toFixed(2)}x parsing the YAML alone (${row.yaml.toFixed(0)} ms)`,
    );
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);
  console.log(
    '| sources | cold load+validate | warm load+validate | compile p50 | compile p95 | compile all 300 | total (cold) | total (warm) | total vs YAML parse | `strata compile --all` process |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  rmSync(root, { recursive: true, force: true });
}
