/** The catalog document for a caller (or the trusted local user), with runs and pipeline state. */
import type { Caller } from '../core/access/policy.js';
import {
  buildCatalog,
  compileInputSql,
  fullView,
  type CatalogDocument,
  type InputSql,
} from '../core/catalog.js';
import type { Compiler } from '../core/compile.js';
import type { Dialect } from '../core/definitions/schema.js';
import { Visibility } from '../graphql/visibility.js';
import type { LoadedProject } from '../project/load-project.js';
import type { InputModel } from '../core/model/types.js';
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
  const inputSql = memoizedInputSql(compiler, dialect, caller);
  return buildCatalog(compiler, { view, dialect, runtime, inputSql, ...(caller ? { caller } : {}) });
}

/**
 * Inputs' SQL per loaded project (its compiler), dialect and caller: each page view would
 * otherwise compile every input again though only the definitions decide the SQL. Dropped
 * with the compiler when the project reloads; bounded, since callers' attributes vary freely.
 */
const inputSqlMemo = new WeakMap<Compiler, Map<string, InputSql>>();
const MAX_MEMOIZED = 10_000;

function memoizedInputSql(compiler: Compiler, dialect: Dialect, caller?: Caller) {
  let memo = inputSqlMemo.get(compiler);
  if (!memo) inputSqlMemo.set(compiler, (memo = new Map()));
  const callerKey = caller
    ? JSON.stringify([[...caller.roles].sort(), Object.entries(caller.attributes).sort()])
    : 'local';
  return (input: InputModel): InputSql => {
    const key = JSON.stringify([dialect, callerKey, input.name]);
    const known = memo.get(key);
    if (known) return known;
    const compiled = compileInputSql(compiler, input, dialect, caller);
    if (memo.size >= MAX_MEMOIZED) memo.clear();
    memo.set(key, compiled);
    return compiled;
  };
}
