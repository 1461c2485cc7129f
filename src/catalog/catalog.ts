/** The catalog document for a caller (or the trusted local user), with runs and pipeline state. */
import type { Caller } from '../core/access/policy.js';
import { buildCatalog, fullView, type CatalogDocument } from '../core/catalog.js';
import type { Compiler } from '../core/compile.js';
import type { Dialect } from '../core/definitions/schema.js';
import { Visibility } from '../graphql/visibility.js';
import type { LoadedProject } from '../project/load-project.js';
import { catalogRuntime } from './runtime.js';

export interface CatalogRequest {
  projectDir: string;
  project: LoadedProject;
  compiler: Compiler;
  dialect: Dialect;
  /** Undefined: the trusted local user, who sees everything. */
  caller?: Caller;
}

export async function projectCatalog(request: CatalogRequest): Promise<CatalogDocument> {
  const { project, compiler, caller, dialect } = request;
  // The same visibility as the GraphQL schema: a denied source or field is not shown.
  const view = caller ? new Visibility(project.model, caller.roles) : fullView(project.model);
  const runtime = await catalogRuntime(request.projectDir, project);
  return buildCatalog(compiler, { view, dialect, runtime, ...(caller ? { caller } : {}) });
}
