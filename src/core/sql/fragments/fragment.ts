/**
 * SQL written in definitions, parsed once when the project loads (spec §2: every fragment
 * is exactly one expression, a source's `sql:` exactly one SELECT) and printed back from
 * its validated tokens for each dialect. The only way definition SQL reaches a query.
 */
import { columnName, FragmentSyntaxError, tokenize, type FragmentProblem, type Token } from './lexer.js';
import { FragmentGrammar, type GrammarRules } from './parser.js';

export type { FragmentProblem } from './lexer.js';

/** Where a fragment sits in a definition; decides its grammar. */
export type FragmentContext =
  | 'field'
  | 'measure'
  | 'measure_filter'
  | 'deleted_when'
  | 'row_filter'
  | 'derived'
  | 'source_query'
  | 'pipeline_filter';

const RULES: Record<FragmentContext, GrammarRules> = {
  field: { what: "a field's sql", placeholders: 'none', columns: true },
  measure: { what: "a measure's sql", placeholders: 'fields', columns: true },
  measure_filter: { what: "a measure's filter", placeholders: 'fields', columns: true },
  deleted_when: { what: 'cdc.deletedWhen', placeholders: 'none', columns: true },
  row_filter: { what: 'a row filter', placeholders: 'caller', columns: true },
  derived: { what: "a derived measure's expression", placeholders: 'measures', columns: false },
  source_query: { what: "a source's sql", placeholders: 'none', columns: true },
  pipeline_filter: { what: "a pipeline filter's where", placeholders: 'none', columns: true },
};

export interface SqlFragment {
  readonly context: FragmentContext;
  /** The author's text, for messages. */
  readonly text: string;
  /** Validated tokens, roles set: what the printer prints. */
  readonly tokens: readonly Token[];
  /** Column names it refers to (unquoted ones in lower case). */
  readonly columns: readonly string[];
  /** `{placeholder}` paths, in order of first appearance. */
  readonly placeholders: readonly string[];
  /** Tables a source's SELECT reads. */
  readonly tables: readonly (readonly string[])[];
  /** Set when the fragment is exactly one column name. */
  readonly bareColumn?: string;
}

export type FragmentResult = { ok: true; fragment: SqlFragment } | { ok: false; problem: FragmentProblem };

/** Definitions are small; this bounds the work one fragment can cause. */
export const MAX_FRAGMENT_LENGTH = 100_000;

export function parseFragment(text: string, context: FragmentContext): FragmentResult {
  const rules = RULES[context];
  if (text.length > MAX_FRAGMENT_LENGTH) {
    return {
      ok: false,
      problem: {
        offset: 0,
        code: 'sql_not_allowed',
        message: `${rules.what} is ${text.length} characters long; the limit is ${MAX_FRAGMENT_LENGTH}`,
      },
    };
  }
  try {
    const tokens = tokenize(text, { placeholders: rules.placeholders !== 'none' });
    const query = context === 'source_query';
    const grammar = new FragmentGrammar(tokens, text.length, rules, query);
    if (query) grammar.queryFragment();
    else grammar.expressionFragment();
    const only = tokens.length === 1 && tokens[0]!.role === 'column' ? tokens[0]! : undefined;
    const { columns, placeholders, tables } = grammar.facts;
    return {
      ok: true,
      fragment: {
        context,
        text,
        tokens,
        columns: [...columns],
        placeholders,
        tables,
        ...(only ? { bareColumn: [...columns][0]! } : {}),
      },
    };
  } catch (e) {
    if (e instanceof FragmentSyntaxError) return { ok: false, problem: e.problem };
    throw e;
  }
}

/** What the printer needs from a dialect. */
export interface FragmentPrinter {
  identifier(name: string): string;
  stringLiteral(value: string): string;
  /** The SQL of a `{placeholder}`, already parenthesised when it is not atomic. */
  placeholder(path: string): string;
  /**
   * The SQL of a column token (its name as `facts.columns` holds it), where the fragment is
   * printed outside its source's own scan; absent prints the name.
   */
  column?(name: string): string | undefined;
  /** Indentation for a SELECT's clauses (one line per clause); absent prints one line. */
  clauseIndent?: string;
}

const NO_SPACE_BEFORE = new Set([',', ')', ']', '.', '::', '[', ':']);
const NO_SPACE_AFTER = new Set(['(', '[', '.', '::', ':']);

/**
 * Tokens back to SQL. Every token is re-emitted from its decoded value (strings and quoted
 * names escaped by the dialect), separated by single spaces except around punctuation; two
 * symbols are never glued together, so no `--` or `/*` can form.
 */
export function printFragment(fragment: SqlFragment, printer: FragmentPrinter): string {
  let out = '';
  let previous: Token | undefined;
  for (const token of fragment.tokens) {
    if (previous) {
      if (token.role === 'clause' && printer.clauseIndent !== undefined) out += `\n${printer.clauseIndent}`;
      else if (!glued(previous, token)) out += ' ';
    }
    out += printColumn(token, printer) ?? printToken(token, printer);
    previous = token;
  }
  return out;
}

function glued(previous: Token, token: Token): boolean {
  if (token.kind === 'symbol' && NO_SPACE_BEFORE.has(token.value)) return true;
  if (previous.kind === 'symbol' && NO_SPACE_AFTER.has(previous.value)) return true;
  return previous.role === 'function' && token.kind === 'symbol' && token.value === '(';
}

function printColumn(token: Token, printer: FragmentPrinter): string | undefined {
  if (token.role !== 'column' || !printer.column) return undefined;
  return printer.column(columnName(token));
}

function printToken(token: Token, printer: FragmentPrinter): string {
  switch (token.kind) {
    case 'word':
    case 'number':
    case 'symbol':
      return token.value;
    case 'quoted':
      return printer.identifier(token.value);
    case 'string':
      return printer.stringLiteral(token.value);
    case 'placeholder':
      return printer.placeholder(token.value);
  }
}
