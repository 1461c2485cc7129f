/** `strata impact` and `strata diff --base`: what a definition change touches, for review. */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { strataInProcess } from '../support/in-process-cli.js';
import { REPO_ROOT } from '../support/example-project.js';

describe('strata impact', () => {
  it('lists the inputs and trackers using a field, through derived measures too', async () => {
    const r = await strataInProcess(['impact', 'production.start_date']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'inputs (4): movies_in_production, productions_by_quarter, productions_missing_plan, productions_shooting_abroad\ntrackers (1): movie-status\n',
    );
    // The other side of a comparison (valueFrom) is a use too.
    expect((await strataInProcess(['impact', 'location.country'])).stdout).toContain(
      'productions_shooting_abroad',
    );
    expect((await strataInProcess(['impact', 'movie.total_budget'])).stdout).toMatch(
      /^inputs \(2\): budget_by_production_country, movie_summary_by_genre\n/,
    );
  });

  it('an unknown field is bad usage with a hint', async () => {
    const r = await strataInProcess(['impact', 'movie.titel']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/did you mean movie\.title\?/);
  });
});

describe('strata diff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-diff-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' });

  it('shows the SQL change of every input and tracker a definition change touches', async () => {
    cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
    cpSync(join(REPO_ROOT, 'trackers'), join(dir, 'trackers'), { recursive: true });
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'base');
    expect((await strataInProcess(['diff', '--base', 'HEAD', '--project', dir])).stdout).toMatch(
      /^0 of 29 inputs and trackers changed/,
    );
    const production = join(dir, 'definitions/sources/production.yaml');
    writeFileSync(
      production,
      readFileSync(production, 'utf8').replace('table: studio.production', 'table: studio.production_v2'),
    );
    const r = await strataInProcess(['diff', '--base', 'HEAD', '--project', dir, '--dialect', 'duckdb']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('--- HEAD/input:movies_in_production');
    expect(r.stdout).toContain('+++ working tree/tracker:movie-status');
    expect(r.stdout).toMatch(/^- {4}FROM studio\.production$/m);
    expect(r.stdout).toMatch(/^\+ {4}FROM studio\.production_v2$/m);
    expect(r.stdout).not.toContain('input:movie_catalog');
    expect(r.stdout).toMatch(/\d+ of 29 inputs and trackers changed their duckdb SQL since HEAD\n$/);
  });

  it('an unknown revision is bad usage', async () => {
    const r = await strataInProcess(['diff', '--base', 'no-such-ref', '--project', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read revision 'no-such-ref'/);
  });

  it('an unknown dialect is bad usage, not "0 changed"', async () => {
    const r = await strataInProcess(['diff', '--base', 'HEAD', '--project', dir, '--dialect', 'snowflake']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown dialect 'snowflake' \(expected trino, duckdb, postgres, mysql\)/);
    expect(r.stdout).toBe('');
  });
});
