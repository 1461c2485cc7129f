/** Every command's --help ends with examples, and --version prints the package's version. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addExamples, commandPath, EXAMPLES, leafCommands } from '../../src/cli/examples.js';
import { strata } from '../support/cli.js';
import { strataInProcess } from '../support/in-process-cli.js';
import { REPO_ROOT } from '../support/example-project.js';

describe('help', () => {
  it('has examples for every command, and none for commands that do not exist', async () => {
    const { program } = await import('../../src/cli.js');
    const declared = leafCommands(program).map(commandPath).sort();
    expect(declared.length).toBeGreaterThan(20);
    expect(Object.keys(EXAMPLES).sort()).toEqual(declared);
  });

  it('adds them to each command help, nested ones included', () => {
    let shown = '';
    const program = new Command('strata')
      .exitOverride()
      .configureOutput({ writeOut: (text) => (shown += text) });
    program.command('sync <tracker>');
    program.command('pipeline').command('run <name>');
    addExamples(program, { sync: ['strata sync t'], 'pipeline run': ['strata pipeline run p'] });
    expect(leafCommands(program).map(commandPath)).toEqual(['sync', 'pipeline run']);
    expect(() => program.parse(['node', 'strata', 'pipeline', 'run', '--help'])).toThrow();
    expect(shown).toMatch(/Usage: strata pipeline run .*\n[\s\S]*Examples:\n {2}\$ strata pipeline run p\n/);
  });

  it('strata sync --help ends with examples; --version (of the built binary) prints the version', async () => {
    const help = await strataInProcess(['sync', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(
      /Examples:\n {2}\$ strata sync movie-status\n {2}\$ strata sync movie-status --dry-run\n+$/,
    );
    const version = strata(['--version']);
    expect(version.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });
});
