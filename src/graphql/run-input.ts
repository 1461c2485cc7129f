/**
 * Compiling what an API client asks for: an input definition built from its query (validated
 * by the same zod schema as input files), or a named input with params, always for the
 * calling caller. Compiler problems become GraphQL errors with stable codes: FORBIDDEN for
 * an access denial, BAD_USER_INPUT for the rest, each diagnostic listed.
 */
import { GraphQLError } from 'graphql';
import type { CompileOptions, CompiledQuery } from '../core/compile.js';
import type { ValuePath } from '../core/definitions/document.js';
import { formatPath } from '../core/definitions/issues.js';
import { InputDefinition } from '../core/definitions/schema.js';
import { StrataError, type Diagnostic } from '../core/diagnostics.js';
import type { InputModel } from '../core/model/types.js';
import type { Dialect } from '../core/definitions/schema.js';
import type { ApiContext } from './context.js';

/** Where an API query's problems are reported: its path in the query, as a pseudo-file. */
function locate(root: string) {
  return (path: ValuePath) => ({
    file: path.length > 0 ? `${root}.${formatPath(path)}` : root,
    line: 1,
    col: 1,
  });
}

/** An input definition sent by a client, checked as an input file would be. */
export function apiInput(definition: unknown, root = 'query'): InputModel {
  const parsed = InputDefinition.safeParse(definition);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
      return `${path.length > 0 ? `${root}.${formatPath(path)}` : root}: ${i.message}`;
    });
    throw new GraphQLError(`invalid query: ${problems.join('; ')}`, {
      extensions: { code: 'BAD_USER_INPUT', problems },
    });
  }
  return { name: parsed.data.name, file: root, definition: parsed.data, locate: locate(root) };
}

export function dialectOf(context: ApiContext): Dialect {
  return context.engine === 'postgres' ? 'postgres' : context.engine === 'trino' ? 'trino' : 'duckdb';
}

/** Compiles for the caller and the engine queries run on; problems as GraphQL errors. */
export function compileForApi(
  context: ApiContext,
  input: InputModel | InputDefinition,
  options: Partial<Omit<CompileOptions, 'caller'>> = {},
): CompiledQuery {
  const model = 'definition' in input ? input : apiInput(input);
  try {
    return context.compiler.compile(model, {
      dialect: dialectOf(context),
      ...options,
      caller: context.caller,
    });
  } catch (e) {
    if (e instanceof StrataError) throw graphqlError(e.diagnostics);
    throw e;
  }
}

export function graphqlError(diagnostics: readonly Diagnostic[]): GraphQLError {
  const denied = diagnostics.some((d) => d.code === 'access_denied');
  const described = diagnostics.map((d) => ({
    code: d.code,
    message: d.message,
    ...(d.location ? { at: d.location.file } : {}),
    ...(d.hint ? { hint: d.hint } : {}),
  }));
  return new GraphQLError(described.map((d) => (d.at ? `${d.at}: ${d.message}` : d.message)).join('; '), {
    extensions: { code: denied ? 'FORBIDDEN' : 'BAD_USER_INPUT', diagnostics: described },
  });
}
