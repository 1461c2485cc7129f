/** `strata docs [--out DIR]`: the catalog as static files (index.html, catalog.json), as the trusted local user. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectCatalog } from '../catalog/catalog.js';
import { catalogPage } from '../catalog/page.js';
import { Compiler } from '../core/compile.js';
import { ENGINE_DIALECTS } from '../core/definitions/schema.js';
import { engineName } from '../engines/open-engine.js';
import { loadValidProject } from './context.js';

export interface DocsFlags {
  out?: string;
  engine?: string;
}

export async function docsCommand(projectDir: string, flags: DocsFlags): Promise<number> {
  const project = loadValidProject(projectDir);
  const dialect = project.config.dialect ?? ENGINE_DIALECTS[engineName(flags, project.config)];
  const doc = await projectCatalog({ projectDir, project, compiler: new Compiler(project.model), dialect });
  // Default under .strata/, which projects ignore: a build output, not a source file.
  const out = resolve(flags.out ?? join(projectDir, '.strata', 'catalog'));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'catalog.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(out, 'index.html'), catalogPage(doc));
  process.stdout.write(
    `wrote ${join(out, 'index.html')} (${doc.sources.length} sources, ${doc.inputs.length} inputs, ${doc.trackers.length} trackers)\n`,
  );
  return 0;
}
