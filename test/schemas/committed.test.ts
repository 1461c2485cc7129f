/** The JSON Schemas shipped in schemas/ are exactly what the zod schemas generate (`npm run schemas`). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allJsonSchemas, schemaText } from '../../src/core/definitions/json-schema.js';
import { REPO_ROOT } from '../support/example-project.js';

describe('schemas/*.json', () => {
  it('equal a fresh generation from the zod schemas', () => {
    const fresh = allJsonSchemas();
    const dir = join(REPO_ROOT, 'schemas');
    expect(readdirSync(dir).sort()).toEqual(Object.keys(fresh).sort());
    for (const [file, schema] of Object.entries(fresh))
      expect(readFileSync(join(dir, file), 'utf8'), `${file} is stale: run npm run schemas`).toBe(
        schemaText(schema),
      );
  });
});
