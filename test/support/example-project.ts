import { fileURLToPath } from 'node:url';
import { Compiler } from '../../src/core/compile.js';
import { loadProject } from '../../src/project/load-project.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function exampleProject() {
  const project = loadProject(REPO_ROOT);
  if (project.diagnostics.length > 0) throw new Error(project.diagnostics.map((d) => d.message).join('\n'));
  return { project, compiler: new Compiler(project.model) };
}
