/**
 * The JSON Schemas shipped in schemas/ and the reference pages in docs/reference/ are exactly
 * what the zod schemas generate (`npm run schemas`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { allJsonSchemas, schemaText } from '../../src/core/definitions/json-schema.js';
import { allReferencePages, REFERENCE_DIR } from '../../src/core/definitions/reference-doc.js';
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

describe('docs/reference/*.md', () => {
  const fresh = allReferencePages();
  const dir = join(REPO_ROOT, REFERENCE_DIR);

  it('equal a fresh generation from the zod schemas', () => {
    expect(readdirSync(dir).sort(), `${REFERENCE_DIR} is stale: run npm run schemas`).toEqual(
      Object.keys(fresh).sort(),
    );
    for (const [file, text] of Object.entries(fresh))
      expect(
        readFileSync(join(dir, file), 'utf8'),
        `${REFERENCE_DIR}/${file} is stale: run npm run schemas`,
      ).toBe(text);
  });

  it('come out as prettier formats them (prettier --check passes on generated pages)', async () => {
    for (const [file, text] of Object.entries(fresh)) {
      const filepath = join(dir, file);
      const options = (await resolveConfig(filepath)) ?? {};
      expect(await format(text, { ...options, filepath }), `${file} is not prettier-stable`).toBe(text);
    }
  });
});
