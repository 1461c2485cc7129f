/**
 * API keys. The service stores only SHA-256 hashes of them: a key is 256 random bits, so a
 * fast unsalted hash is as strong as a slow salted one (nothing to guess, no dictionary to
 * try), and a leaked key file lets no one call the service. Keys are looked up by comparing
 * the hash of the presented key with every stored hash in constant time.
 *
 * Sources: a YAML or JSON file (re-read when it changes, so revoking takes effect without a
 * restart) and the STRATA_API_KEYS variable (same format; read when the service starts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import type { Caller } from '../../core/access/policy.js';
import { parseYamlFile } from '../../core/definitions/document.js';
import { issuesToDiagnostics } from '../../core/definitions/issues.js';
import { keysAt } from '../../core/definitions/schema-keys.js';
import { CALLER_ATTRIBUTE_PATTERN, Name } from '../../core/definitions/schema.js';
import { formatDiagnostic } from '../../core/diagnostics.js';
import { failure, type AuthFailure } from './failures.js';
import type { Principal } from './principal.js';

/** Marks Strata keys, so that secret scanners (and people) recognize a leaked one. */
export const API_KEY_PREFIX = 'strata_';
const KEY_BYTES = 32;
const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

export const ApiKeyEntry = z.strictObject({
  /** Names the key in logs and audits (the key itself is never logged). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/, {
    error: 'an id of letters, digits and _ . : @ -',
  }),
  hash: z.string().regex(HASH_PATTERN, {
    error: 'expected sha256:<64 lower-case hex digits> (the hash `strata apikey create` prints)',
  }),
  roles: z.array(Name).default([]),
  attributes: z
    .record(
      z.string().regex(CALLER_ATTRIBUTE_PATTERN, { error: 'an attribute name: letters, digits, _' }),
      z.union([z.string(), z.number(), z.boolean()]),
    )
    .default({}),
  revoked: z.boolean().optional(),
  created: z.string().optional(),
  description: z.string().optional(),
});
export type ApiKeyEntry = z.infer<typeof ApiKeyEntry>;

export const ApiKeyFile = z.strictObject({ keys: z.array(ApiKeyEntry) });

/** A new key: the prefix and 256 random bits, base64url (no dot: never mistaken for a JWT). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

export function hashApiKey(key: string): string {
  return `sha256:${sha256(key).toString('hex')}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The file entry for a new key (what `strata apikey create` prints), validated as the file is. */
export function newApiKeyEntry(id: string, key: string, caller: Caller, created = new Date()) {
  return ApiKeyEntry.safeParse({
    id,
    hash: hashApiKey(key),
    roles: [...caller.roles],
    attributes: { ...caller.attributes },
    created: created.toISOString(),
  });
}

/** Entries as YAML list items, ready to paste under `keys:`. */
export function formatEntries(entries: readonly ApiKeyEntry[]): string {
  return stringifyYaml(entries);
}

/**
 * Entries from a file's or a variable's text (YAML or JSON), or what is wrong with them, each
 * problem as `file:line:col: error: message` (`file` names the variable for STRATA_API_KEYS).
 */
export function parseApiKeys(
  text: string,
  file: string,
): { entries: ApiKeyEntry[] } | { problems: string[] } {
  const parsed = parseYamlFile(file, text);
  if (parsed.diagnostics.length > 0) return { problems: parsed.diagnostics.map(formatDiagnostic) };
  const result = ApiKeyFile.safeParse(parsed.value ?? { keys: [] });
  if (!result.success)
    return {
      problems: issuesToDiagnostics(parsed, result.error.issues, (p) => keysAt(ApiKeyFile, p)).map(
        formatDiagnostic,
      ),
    };
  const duplicate = firstDuplicate(result.data.keys);
  return duplicate ? { problems: [`${file}: error: ${duplicate}`] } : { entries: result.data.keys };
}

/** Two entries with one id make audits ambiguous; two with one hash, which roles apply. */
function firstDuplicate(entries: readonly ApiKeyEntry[]): string | undefined {
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const entry of entries) {
    if (ids.has(entry.id)) return `id '${entry.id}' appears twice`;
    if (hashes.has(entry.hash)) return `the key of '${entry.id}' appears twice (same hash)`;
    ids.add(entry.id);
    hashes.add(entry.hash);
  }
  return undefined;
}

/** Reads a key file; a missing or invalid one is a problem (it then admits no key). */
export function readApiKeyFile(path: string): { entries: ApiKeyEntry[] } | { problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      problems: [
        `${path}: error: ${code === 'ENOENT' ? 'the file does not exist' : `cannot read it (${code ?? 'error'})`}`,
      ],
    };
  }
  return parseApiKeys(text, path);
}

interface StoredKey {
  entry: ApiKeyEntry;
  hash: Buffer;
}

/** The keys a service accepts now; `replace` swaps them all at once (a reload). */
export class ApiKeyStore {
  private keys: StoredKey[] = [];

  constructor(entries: readonly ApiKeyEntry[] = []) {
    this.replace(entries);
  }

  get size(): number {
    return this.keys.length;
  }

  replace(entries: readonly ApiKeyEntry[]): void {
    this.keys = entries.map((entry) => ({
      entry,
      hash: Buffer.from(entry.hash.slice('sha256:'.length), 'hex'),
    }));
  }

  /**
   * The principal of a presented key. Every stored hash is compared, in constant time, whatever
   * matched before: how long a refusal takes says nothing about the stored keys. A key listed
   * twice (in the file and in STRATA_API_KEYS) is revoked when either entry says so.
   */
  verify(key: string): Principal | AuthFailure {
    const presented = sha256(key);
    let found: ApiKeyEntry | undefined;
    for (const stored of this.keys)
      if (timingSafeEqual(stored.hash, presented) && !found?.revoked) found = stored.entry;
    if (!found) return failure('unknown_api_key');
    if (found.revoked) return failure('revoked_api_key');
    return {
      method: 'api_key',
      subject: found.id,
      caller: { roles: [...found.roles], attributes: { ...found.attributes } },
    };
  }
}
