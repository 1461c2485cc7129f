/** Strata's version, from its package.json (src/ and dist/ are both one folder below it). */
import { readFileSync } from 'node:fs';

export function strataVersion(): string {
  try {
    const url = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
