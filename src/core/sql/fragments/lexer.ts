/**
 * Tokens of a SQL fragment written in a definition. The lexer is strict on purpose: it
 * accepts the lexical forms a definition needs (words, "quoted" identifiers, '...' strings,
 * numbers, operators, `{placeholders}`) and refuses the rest with the offending offset:
 * comments, `;`, dollar-quoted and prefixed strings (E'', U&''...), parameters (`?`, `$1`),
 * and any character that is not SQL. Tokens carry decoded values, so the printer can
 * re-escape them for each dialect: what reaches an engine is always re-printed from
 * tokens, never the author's text, so no lexical trick (an unbalanced quote, a comment
 * marker) can survive into the SQL.
 */

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'symbol' | 'placeholder';

/** What a token is in the fragment's grammar; set by the parser, used by the printer. */
export type TokenRole = 'column' | 'function' | 'keyword' | 'name' | 'clause' | 'other';

export interface Token {
  kind: TokenKind;
  /**
   * word: as written; quoted: the identifier's name; string: its value; number: as written;
   * symbol: the operator or punctuation; placeholder: its dotted path (`user.vendor_id`).
   */
  value: string;
  /** Offsets of the token in the fragment's text. */
  start: number;
  end: number;
  role: TokenRole;
}

export interface FragmentProblem {
  /** Offset in the fragment's text. */
  offset: number;
  code: 'sql_syntax' | 'sql_not_allowed';
  message: string;
  hint?: string;
}

/** Thrown inside the lexer and parser; turned into a FragmentProblem at their entry points. */
export class FragmentSyntaxError extends Error {
  constructor(readonly problem: FragmentProblem) {
    super(problem.message);
    this.name = 'FragmentSyntaxError';
  }
}

export function fail(
  offset: number,
  message: string,
  options: { code?: FragmentProblem['code']; hint?: string } = {},
): never {
  throw new FragmentSyntaxError({
    offset,
    code: options.code ?? 'sql_syntax',
    message,
    ...(options.hint ? { hint: options.hint } : {}),
  });
}

export interface LexOptions {
  /** `{name}` / `{a.b}` placeholders (derived measures, row filters). */
  placeholders: boolean;
}

/** Longest first, so `->>` wins over `->` and `<=` over `<`. */
const SYMBOLS = [
  '!~~*',
  '!~~',
  '~~*',
  '!~*',
  '<=>',
  '->>',
  '!~',
  '~~',
  '~*',
  '@>',
  '<@',
  '&&',
  '**',
  '//',
  '::',
  '->',
  '||',
  '<=',
  '>=',
  '<>',
  '!=',
  '==',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '~',
  '(',
  ')',
  ',',
  '.',
  '[',
  ']',
  ':',
] as const;

const WORD_START = /[\p{L}_]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;
const DIGIT = /[0-9]/;
const WHITESPACE = /[ \t\r\n\f]/;
const PLACEHOLDER = /^\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}/;

/** Letters that, glued to a string, make a prefixed literal (E'\n', U&'..', B'01', X'ff', N'..'). */
const STRING_PREFIXES = new Set(['e', 'u', 'b', 'x', 'n', 'r']);

export function tokenize(text: string, options: LexOptions): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, value: string, start: number, end: number) =>
    tokens.push({ kind, value, start, end, role: 'other' });
  while (i < text.length) {
    const c = text[i]!;
    if (WHITESPACE.test(c)) {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      fail(i, 'SQL comments are not allowed in a definition', {
        code: 'sql_not_allowed',
        hint: 'use a YAML # comment or `description:` instead',
      });
    } else if (c === '/' && text[i + 1] === '*') {
      fail(i, 'SQL comments are not allowed in a definition', {
        code: 'sql_not_allowed',
        hint: 'use a YAML # comment or `description:` instead',
      });
    } else if (c === "'") {
      const { value, end } = readQuoted(text, i, "'", 'string');
      push('string', value, i, end);
      i = end;
    } else if (c === '"') {
      const { value, end } = readQuoted(text, i, '"', 'quoted identifier');
      if (value === '') fail(i, 'an empty quoted identifier ("") names nothing');
      push('quoted', value, i, end);
      i = end;
    } else if (DIGIT.test(c) || (c === '.' && DIGIT.test(text[i + 1] ?? ''))) {
      const end = readNumber(text, i);
      push('number', text.slice(i, end), i, end);
      i = end;
    } else if (WORD_START.test(c)) {
      let end = i + 1;
      while (end < text.length && WORD_PART.test(text[end]!)) end++;
      const word = text.slice(i, end);
      if (text[end] === "'" || (text[end] === '&' && text[end + 1] === "'")) {
        const prefixed = STRING_PREFIXES.has(word.toLowerCase());
        fail(
          i,
          prefixed
            ? `prefixed string literals (${word}'...') are not supported`
            : `put a space between ${word} and the string that follows it`,
          prefixed ? { hint: "write a plain '...' string; the printer escapes it for each engine" } : {},
        );
      }
      push('word', word, i, end);
      i = end;
    } else if (c === '{') {
      const match = PLACEHOLDER.exec(text.slice(i));
      if (!options.placeholders)
        fail(
          i,
          "'{' is not SQL here: placeholders are only allowed in measures, derived measures and row filters",
        );
      if (!match)
        fail(
          i,
          "unclosed or malformed '{': a reference is {measure}, {source.measure}, {source.field} or {user.attribute}",
        );
      push('placeholder', match[1]!, i, i + match[0].length);
      i += match[0].length;
    } else if (c === ';') {
      fail(i, "';' ends a statement: a definition's SQL is exactly one expression (or one SELECT)", {
        code: 'sql_not_allowed',
      });
    } else if (c === '$' || c === '?') {
      fail(i, `'${c}' is not allowed: no parameters or dollar-quoted strings in a definition`, {
        code: 'sql_not_allowed',
        hint: "write values as '...' strings or numbers",
      });
    } else {
      const symbol = SYMBOLS.find((s) => text.startsWith(s, i));
      if (!symbol) fail(i, `unexpected character ${describeChar(c)}`);
      push('symbol', symbol, i, i + symbol.length);
      i += symbol.length;
    }
  }
  return tokens;
}

function readQuoted(
  text: string,
  start: number,
  quote: string,
  what: string,
): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    const at = text.indexOf(quote, i);
    if (at < 0) fail(start, `unterminated ${what}: a ${quote} is never closed`);
    value += text.slice(i, at);
    if (text[at + 1] === quote) {
      value += quote;
      i = at + 2;
    } else {
      if (value.includes('\u0000')) fail(start, `a NUL character cannot appear in a ${what}`);
      return { value, end: at + 1 };
    }
  }
}

function readNumber(text: string, start: number): number {
  const match = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(start))!;
  const end = start + match[0].length;
  if (end < text.length && WORD_PART.test(text[end]!))
    fail(start, `'${text.slice(start, end + 1)}' is not a number`);
  return end;
}

function describeChar(c: string): string {
  const code = c.codePointAt(0)!;
  return code < 32 || code === 127 ? `U+${code.toString(16).padStart(4, '0').toUpperCase()}` : `'${c}'`;
}

/** A column token's name as a fragment's `columns` lists it: unquoted names in lower case, as every engine folds them. */
export function columnName(token: Token): string {
  return token.kind === 'quoted' ? token.value : token.value.toLowerCase();
}
