/** zod issues -> diagnostics in the user's words, each pointing at its node. */
import type { z } from 'zod';
import { error, type Diagnostic } from '../diagnostics.js';
import { didYouMean } from '../suggest.js';
import type { ParsedFile, ValuePath } from './document.js';

type Issue = z.core.$ZodIssue;

export function issuesToDiagnostics(
  parsed: ParsedFile,
  issues: readonly Issue[],
  allowedKeys: (path: ValuePath) => string[],
): Diagnostic[] {
  return issues.flatMap((issue) => describe(parsed, issue, allowedKeys));
}

function describe(
  parsed: ParsedFile,
  issue: Issue,
  allowedKeys: (path: ValuePath) => string[],
): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const where = path.length > 0 ? ` at ${formatPath(path)}` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const allowed = allowedKeys(path);
        return error(
          'unknown_key',
          `unknown key '${key}'${where}`,
          parsed.locate([...path, key], { key: true }),
          didYouMean(key, allowed) ??
            (allowed.length > 0 ? `allowed keys: ${allowed.join(', ')}` : undefined),
        );
      });
    case 'invalid_union': {
      const branch = bestBranch(issue.errors);
      if (branch)
        return branch.flatMap((inner) =>
          describe(parsed, { ...inner, path: [...issue.path, ...inner.path] }, allowedKeys),
        );
      return [error('invalid_value', `invalid value${where}`, parsed.locate(path))];
    }
    case 'invalid_type': {
      const missing = issue.message.includes('received undefined');
      if (missing) {
        const parent = path.slice(0, -1);
        return [
          error(
            'missing_key',
            `missing required key '${String(path[path.length - 1])}'${parent.length ? ` at ${formatPath(parent)}` : ''}`,
            parsed.locate(parent),
          ),
        ];
      }
      return [
        error(
          'invalid_type',
          `expected ${issue.expected}${where}, found ${kindOf(valueAt(parsed.value, path))}`,
          parsed.locate(path),
        ),
      ];
    }
    case 'invalid_value': {
      const options = issue.values.map(String);
      const actual = valueAt(parsed.value, path);
      return [
        error(
          'invalid_value',
          `invalid value ${JSON.stringify(actual)}${where}: expected one of ${options.join(', ')}`,
          parsed.locate(path),
          typeof actual === 'string' ? didYouMean(actual, options) : undefined,
        ),
      ];
    }
    case 'invalid_key': {
      // zod says "Invalid key in record"; the key's own schema says what a key must be.
      const parent = path.slice(0, -1);
      return [
        error(
          'invalid_key',
          `invalid key '${String(path[path.length - 1])}'${parent.length ? ` at ${formatPath(parent)}` : ''}: ${issue.issues[0]?.message ?? issue.message}`,
          parsed.locate(path, { key: true }),
        ),
      ];
    }
    case 'invalid_format': {
      // Shapes ('must be source.field') show the value found; other patterns may guard a
      // credential written inline, which must never be echoed.
      if (!issue.message.startsWith('must be'))
        return [error('invalid_value', `${issue.message}${where}`, parsed.locate(path))];
      const actual = valueAt(parsed.value, path);
      return [error('invalid_value', `${found(actual)}${where} ${issue.message}`, parsed.locate(path))];
    }
    default:
      return [error('invalid_value', `${issue.message}${where}`, parsed.locate(path))];
  }
}

/** Of a union's failed branches, the one that explains the value best: fewest issues, not a bare type mismatch. */
function bestBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const scored = branches
    .map((issues) => ({
      issues,
      score:
        issues.length + (issues.some((i) => i.code === 'invalid_type' && i.path.length === 0) ? 1000 : 0),
    }))
    .sort((a, b) => a.score - b.score);
  return scored[0]?.issues;
}

/**
 * What was found instead, by kind: a scalar is not echoed (it may be a credential written
 * inline), a mapping names its keys (the usual sign of misplaced indentation).
 */
function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return `a mapping (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', ...' : ''}): check the indentation`;
  }
  return `a ${typeof value}`;
}

/** A value of a known shape (a name, a reference), quoted as found. */
function found(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : kindOf(value);
}

function valueAt(value: unknown, path: ValuePath): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

export function formatPath(path: ValuePath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
