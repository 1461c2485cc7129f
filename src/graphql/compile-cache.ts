/**
 * Compiling the same question for the same caller gives the same SQL: an API serving many
 * identical requests keeps what it compiled (per state of the definitions, bounded), keyed by
 * the input definition and every compile option, the caller's roles and attributes included.
 */
import { performance } from 'node:perf_hooks';
import type { CompileOptions, CompiledQuery, Compiler } from '../core/compile.js';
import type { InputModel } from '../core/model/types.js';

/** What resolvers use of a compiler. */
export type ApiCompiler = Pick<Compiler, 'compile' | 'check' | 'model'>;

export class CompileCache implements ApiCompiler {
  private readonly compiled = new Map<string, CompiledQuery>();

  constructor(
    private readonly compiler: Compiler,
    private readonly capacity = 1000,
    /** Told how long each real compile took (answers from the cache are not compiles). */
    private readonly onCompiled?: (seconds: number) => void,
  ) {}

  get model() {
    return this.compiler.model;
  }

  compile(input: string | InputModel, options: CompileOptions): CompiledQuery {
    const definition =
      typeof input === 'string'
        ? input
        : this.compiler.model.inputs.get(input.name) === input
          ? input.name
          : input.definition;
    const key = JSON.stringify([definition, options]);
    const known = this.compiled.get(key);
    if (known) return known;
    // Problems are thrown (StrataError) and never kept: they are cheap to find again.
    const started = performance.now();
    const result = this.compiler.compile(input, options);
    this.onCompiled?.((performance.now() - started) / 1000);
    this.compiled.set(key, result);
    if (this.compiled.size > this.capacity) this.compiled.delete(this.compiled.keys().next().value!);
    return result;
  }

  check(...args: Parameters<Compiler['check']>): ReturnType<Compiler['check']> {
    return this.compiler.check(...args);
  }
}
