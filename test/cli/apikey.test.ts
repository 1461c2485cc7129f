/** `strata apikey create`, and `strata serve` refusing auth settings it could not use. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, test } from 'vitest';
import { ApiKeyStore, hashApiKey, parseApiKeys } from '../../src/service/auth/api-keys.js';
import { strataInProcess } from '../support/in-process-cli.js';

/** The key (the line after the first) and the entry (the YAML after "Add this entry"). */
function printed(stdout: string): { key: string; entryText: string } {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Add this entry'));
  return { key: lines[1]!, entryText: lines.slice(at + 1).join('\n') };
}

describe('strata apikey create', () => {
  test('prints a new key once and the hashed entry that admits it', async () => {
    const args = ['apikey', 'create', '--id', 'vendor-054', '--roles', 'vendor,reader'];
    const result = await strataInProcess([...args, '--attr', 'vendor_id=VND-054', '--attr', 'tier=3']);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout.split('\n')[0]).toMatch(/shown only this once/);
    const { key, entryText } = printed(result.stdout);
    expect(key).toMatch(/^strata_[A-Za-z0-9_-]{43}$/);
    const [entry] = parseYaml(entryText) as Record<string, unknown>[];
    expect(entry).toMatchObject({
      id: 'vendor-054',
      hash: hashApiKey(key),
      roles: ['vendor', 'reader'],
      attributes: { vendor_id: 'VND-054', tier: 3 },
    });
    // Pasted under keys:, the entry admits the key, as the caller given.
    const file = parseApiKeys(`keys:\n${entryText.replace(/^/gm, '  ')}`, 'keys.yaml');
    if (!('entries' in file)) throw new Error(file.problems.join('\n'));
    expect(new ApiKeyStore(file.entries).verify(key)).toMatchObject({
      subject: 'vendor-054',
      caller: { roles: ['vendor', 'reader'], attributes: { vendor_id: 'VND-054', tier: 3 } },
    });
    expect(printed((await strataInProcess(args)).stdout).key).not.toBe(key);
  });

  test.each([
    [['--roles', 'vendor'], /^error: required option '--id <id>' not specified/],
    [['--id', 'x'], /^error: required option '--roles <roles>' not specified/],
    [['--id', 'two words', '--roles', 'vendor'], /^error: --id: an id of letters/],
    [['--id', 'x', '--roles', 'Vendor'], /^error: --roles: must match/],
    [
      ['--id', 'x', '--roles', 'vendor', '--attr', 'vendor-id=1'],
      /^error: --attr: 'vendor-id': an attribute name/,
    ],
    [['--id', 'x', '--roles', 'vendor', '--attr', 'novalue'], /^error: --attr expects name=value/],
  ])('bad usage %j: exit 2, one line', async (args, message) => {
    const result = await strataInProcess(['apikey', 'create', ...args]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});

describe('strata serve with auth settings it cannot use', () => {
  test('a JWT secret missing from the environment, or too short: exit 1, one line, no value shown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-serve-auth-'));
    try {
      writeFileSync(join(dir, 'strata.yaml'), 'auth:\n  jwt: { secret: env:STRATA_TEST_MISSING_SECRET }\n');
      const missing = await strataInProcess(['--project', dir, 'serve', '--port', '0'], {
        env: { STRATA_TEST_MISSING_SECRET: '' },
      });
      expect(missing).toMatchObject({ status: 1, stdout: '' });
      expect(missing.stderr).toBe(
        'error: auth.jwt.secret: environment variable STRATA_TEST_MISSING_SECRET is not set (see docs/auth.md)\n',
      );
      const short = await strataInProcess(['--project', dir, 'serve', '--port', '0'], {
        env: { STRATA_TEST_MISSING_SECRET: 'tooshort' },
      });
      expect(short.status).toBe(1);
      expect(short.stderr).toMatch(
        /^error: auth\.jwt\.secret: STRATA_TEST_MISSING_SECRET holds 8 bytes; HS256 needs at least 32/,
      );
      expect(short.stderr).not.toContain('tooshort');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
