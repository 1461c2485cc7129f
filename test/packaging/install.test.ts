/**
 * The install a newcomer runs: every package the lock pins declares an engine range that
 * includes this Node (so `npm ci` warns about none), and the repository carries the license
 * package.json names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-project.js';

interface LockedPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
}

describe('the install', () => {
  it('pins no package whose engines exclude this Node', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockedPackage>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, pkg]) => {
        const range = !pkg.engines || Array.isArray(pkg.engines) ? undefined : pkg.engines.node;
        return range && !semver.satisfies(process.version, range)
          ? [`${path}@${pkg.version}: node ${range}`]
          : [];
      });
    expect(refusing).toEqual([]);
  });

  it('carries the license package.json names', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    expect(existsSync(join(REPO_ROOT, 'LICENSE'))).toBe(true);
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });
});
