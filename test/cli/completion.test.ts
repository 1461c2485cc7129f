/** The bash completion script, run by a real bash: commands, subcommands, options and the project's names. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { strataInProcess } from '../support/in-process-cli.js';
import { REPO_ROOT } from '../support/example-project.js';

let bin: string;

beforeAll(async () => {
  // `strata` on the PATH, as an installed one would be: the script calls it for names.
  bin = mkdtempSync(join(tmpdir(), 'strata-completion-'));
  writeFileSync(join(bin, 'strata'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'strata'), 0o755);
  writeFileSync(join(bin, 'completion.bash'), (await strataInProcess(['completion', 'bash'])).stdout);
});

afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** What bash offers after the words typed so far (the last one is being completed). */
function complete(words: string[]): string[] {
  const script = `source ${join(bin, 'completion.bash')}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_strata; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['-c', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter(Boolean);
}

describe('bash completion', () => {
  it('completes commands, subcommands and options', () => {
    expect(complete(['strata', 'fre'])).toEqual(['freshness']);
    expect(complete(['strata', 'pipeline', 'st'])).toEqual(['status']);
    expect(complete(['strata', 'sync', '--d'])).toEqual(['--dry-run', '--database']);
  });

  it("completes the project's trackers and inputs, from --project when given", () => {
    expect(complete(['strata', 'sync', 'movie'])).toEqual(['movie-status']);
    expect(complete(['strata', 'run', 'movies_in'])).toEqual(['movies_in_production']);
    expect(complete(['strata', '--project', '/nonexistent', 'sync', 'movie'])).toEqual([]);
  });

  it('zsh gets the same function through bashcompinit; an unknown shell is a usage error', async () => {
    expect((await strataInProcess(['completion', 'zsh'])).stdout).toMatch(
      /^autoload -U \+X bashcompinit && bashcompinit\n/,
    );
    const fish = await strataInProcess(['completion', 'fish']);
    expect(fish.status).toBe(2);
    expect(fish.stderr).toMatch(/unknown shell 'fish' \(expected bash, zsh\)/);
  });
});
