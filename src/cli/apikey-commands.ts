/** `strata apikey create`: a new API key for `strata serve`, and the hashed entry to file it under. */
import { UsageError } from '../engines/open-engine.js';
import { formatEntries, generateApiKey, newApiKeyEntry } from '../service/auth/api-keys.js';
import { parseCaller } from './context.js';

export interface ApiKeyCreateFlags {
  id: string;
  /** `r1,r2` */
  roles: string;
  /** `name=value`, repeated */
  attr?: string[];
}

/** Which flag gave each field of the entry, to blame the right one. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  id: '--id',
  roles: '--roles',
  attributes: '--attr',
};

/**
 * Prints the key once (only its hash is kept: it cannot be shown again) and the entry to add
 * to the key file. Writes no file: where keys live is the operator's choice.
 */
export function apiKeyCreateCommand(flags: ApiKeyCreateFlags): number {
  const caller = parseCaller({ as: flags.roles, attr: flags.attr ?? [] });
  const key = generateApiKey();
  const entry = newApiKeyEntry(flags.id, key, caller ?? { roles: [], attributes: {} });
  if (!entry.success) {
    const issue = entry.error.issues[0]!;
    const flag = FLAG_OF_FIELD[String(issue.path[0])] ?? '--id';
    // A bad attribute name fails the record's key schema, whose own message says what is wrong.
    const message =
      issue.code === 'invalid_key'
        ? `'${String(issue.path[1])}': ${issue.issues[0]?.message}`
        : issue.message;
    throw new UsageError(`${flag}: ${message}`);
  }
  process.stdout.write(
    `API key '${entry.data.id}' (shown only this once: hand it over now; Strata keeps only its hash):\n` +
      `${key}\n\n` +
      'Add this entry under `keys:` in the API key file (strata.yaml auth.apiKeys.file or STRATA_API_KEYS_FILE):\n' +
      formatEntries([entry.data]),
  );
  return 0;
}
