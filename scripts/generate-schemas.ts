/**
 * Writes schemas/*.json, the generic JSON Schemas shipped with the package, and
 * docs/reference/*.md, the key-by-key reference, from the zod schemas.
 * test/schemas/committed.test.ts fails when the committed files drift from them.
 */
import { writeReferencePages, writeSchemaFiles } from '../src/cli/schema-commands.js';

writeSchemaFiles(new URL('../schemas', import.meta.url).pathname);
writeReferencePages(new URL('../docs/reference', import.meta.url).pathname);
