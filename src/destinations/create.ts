/** Destination definitions -> destination objects. Sheets and Airtable load lazily (large clients). */
import type { DestinationDefinition } from '../core/definitions/schema.js';
import type { Destination } from './destination.js';
import { FileDestination } from './file.js';
import { TableDestination } from './table.js';

export interface DestinationOptions {
  env: NodeJS.ProcessEnv;
  /** Relative file paths resolve against the project folder. */
  projectDir: string;
}

export async function createDestination(
  definition: DestinationDefinition,
  options: DestinationOptions,
): Promise<Destination> {
  switch (definition.type) {
    case 'file':
      return new FileDestination(definition, { baseDir: options.projectDir });
    case 'table':
      return new TableDestination(definition, { env: options.env });
    case 'google_sheets': {
      const { GoogleSheetsDestination } = await import('./google-sheets.js');
      return new GoogleSheetsDestination(definition, { env: options.env });
    }
    case 'airtable': {
      const { AirtableDestination } = await import('./airtable.js');
      return new AirtableDestination(definition, { env: options.env });
    }
  }
}

/** The environment variables a destination cannot work without, when they are missing. */
export function missingCredentials(definition: DestinationDefinition, env: NodeJS.ProcessEnv): string[] {
  const fromReferences = Object.values(definition)
    .filter((v): v is string => typeof v === 'string' && v.startsWith('env:'))
    .map((v) => v.slice(4));
  const needed = [...fromReferences];
  if (
    definition.type === 'google_sheets' &&
    !env.STRATA_GOOGLE_CREDENTIALS &&
    !env.STRATA_GOOGLE_ACCESS_TOKEN
  )
    needed.push('STRATA_GOOGLE_CREDENTIALS or STRATA_GOOGLE_ACCESS_TOKEN');
  if (definition.type === 'airtable') needed.push('STRATA_AIRTABLE_TOKEN');
  return needed.filter((name) => name.includes(' or ') || !env[name]);
}
