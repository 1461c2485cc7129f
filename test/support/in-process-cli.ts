/**
 * The `strata` command line run inside the test process: the same command tree, option parsing,
 * error reporting and exit codes as `dist/cli.js`, without a Node start-up per call. Use it
 * wherever the CLI process itself is not what is tested (`strata` in ./cli.ts spawns the binary).
 */
import { CommanderError } from 'commander';
import { vi } from 'vitest';
import { secrets } from '../../src/engines/secrets.js';
import type { CliResult } from './cli.js';
import { REPO_ROOT } from './example-project.js';

const { program } = await import('../../src/cli.js');

/** One command at a time: it swaps process-wide state (cwd, env, stdout, exit code, known secrets). */
let queue: Promise<unknown> = Promise.resolve();

export function strataInProcess(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const run = queue.then(() => runOnce(args, options));
  queue = run.catch(() => undefined);
  return run;
}

async function runOnce(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  const restoreEnv = overrideEnv(options.env ?? {});
  const cwd = process.cwd();
  const exitCode = process.exitCode;
  process.chdir(options.cwd ?? REPO_ROOT);
  process.exitCode = undefined;
  // A new process knows no secret yet: one command's must not mask another's output here.
  const knownSecrets = secrets.snapshot();
  secrets.restore([]);
  try {
    await program.parseAsync(['node', 'strata', ...args]);
    return { status: Number(process.exitCode ?? 0), stdout, stderr };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { status: e.exitCode === 0 ? 0 : 2, stdout, stderr };
  } finally {
    secrets.restore(knownSecrets);
    process.exitCode = exitCode;
    process.chdir(cwd);
    restoreEnv();
    out.mockRestore();
    err.mockRestore();
  }
}

function overrideEnv(env: NodeJS.ProcessEnv): () => void {
  const before = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
