/**
 * Writes schemas/*.json, the generic JSON Schemas shipped with the package, from the zod
 * schemas. test/schemas/committed.test.ts fails when the committed files drift from them.
 */
import { writeSchemaFiles } from '../src/cli/schema-commands.js';

writeSchemaFiles(new URL('../schemas', import.meta.url).pathname);
