/**
 * The grammar a definition's SQL must fit. A recursive-descent parser over the lexer's
 * tokens: it proves that a fragment is exactly one scalar expression (or, for a source's
 * `sql:`, exactly one SELECT), marks each token's role for the printer, and collects what
 * the fragment refers to (columns, placeholders, tables). It builds no tree: the SQL is
 * re-printed from the validated tokens, so what runs is exactly what was checked.
 *
 * The grammar is the common core of the dialects (operators, CASE, CAST and `::`,
 * EXTRACT, INTERVAL, typed literals, function calls, IN/BETWEEN/LIKE, IS [NOT] ...); in a
 * source's SELECT also joins, subqueries, set operations, aggregates and windows.
 */
import { columnName, fail, type Token } from './lexer.js';
import {
  AGGREGATE_FUNCTIONS,
  ALLOWED_TABLE_FUNCTIONS,
  NILADIC_WORDS,
  RESERVED_WORDS,
  STATEMENT_WORDS,
  TIME_UNITS,
  TYPE_CONTINUATIONS,
  deniedFunction,
} from './policy.js';

export interface GrammarRules {
  /** Says what the fragment is, in messages: "a field's sql". */
  what: string;
  /** Which `{placeholders}` may appear. */
  placeholders: 'none' | 'measures' | 'caller' | 'fields';
  /** Whether column names may appear (a derived measure combines measures only). */
  columns: boolean;
}

export interface GrammarFacts {
  /** Column names referred to (unquoted names folded to lower case, as every engine does). */
  columns: Set<string>;
  /** `{placeholder}` paths in order of first appearance. */
  placeholders: string[];
  /** Tables read by a SELECT, as written (`studio.movie` -> ['studio', 'movie']). */
  tables: string[][];
}

const COMPARISONS = new Set(['=', '==', '<>', '!=', '<', '<=', '>', '>=', '<=>']);
/** Pattern matching (PostgreSQL, DuckDB): at the level of LIKE. */
const MATCH_OPERATORS = new Set(['~', '!~', '~*', '!~*', '~~', '!~~', '~~*', '!~~*']);
/** Other binary operators (concatenation, JSON, containment), above comparison as PostgreSQL has them. */
const CONCAT_LEVEL = new Set(['||', '->', '->>', '@>', '<@', '&&']);
const JOIN_STARTS = new Set([
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'natural',
  'semi',
  'anti',
  'asof',
  'positional',
]);
/** Words that end a FROM item or a select expression, so they are never taken for an alias. */
const NOT_ALIASES = new Set([...JOIN_STARTS]);
const PREDICATE_WORDS = new Set(['between', 'in', 'like', 'ilike', 'similar', 'glob']);
const TYPED_LITERALS = new Set(['date', 'time', 'timestamp', 'timestamptz']);
const SPECIAL_CALLS = new Set(['trim', 'substring', 'position']);
const MAX_NESTING = 200;

export class FragmentGrammar {
  private pos = 0;
  /** Subquery nesting: clause breaks are only printed for the outermost query. */
  private depth = 0;
  /** Expression nesting, bounded so that no input can exhaust the stack. */
  private nesting = 0;
  readonly facts: GrammarFacts = { columns: new Set(), placeholders: [], tables: [] };

  constructor(
    private readonly tokens: Token[],
    private readonly textLength: number,
    private readonly rules: GrammarRules,
    /** Inside a source's SELECT: qualified names, subqueries, aggregates and windows allowed. */
    private readonly queryMode: boolean,
  ) {}

  /** The whole token list is one scalar expression. */
  expressionFragment(): void {
    this.refuseStatement();
    if (this.tokens.length === 0) fail(0, `${this.rules.what} is empty`);
    this.expression();
    this.expectEnd('the end of the expression');
  }

  /** The whole token list is one query. */
  queryFragment(): void {
    this.refuseStatement();
    const first = this.peek();
    if (
      !first ||
      !(this.isWord('select') || this.isWord('with') || this.isWord('values') || this.isSymbol('('))
    )
      fail(first?.start ?? 0, `${this.rules.what} must be one SELECT`, {
        code: 'sql_not_allowed',
      });
    this.query();
    this.expectEnd('the end of the SELECT');
  }

  // ---- token access ----------------------------------------------------------------------

  private peek(ahead = 0): Token | undefined {
    return this.tokens[this.pos + ahead];
  }

  private next(): Token {
    const token = this.tokens[this.pos];
    if (!token) fail(this.textLength, `${this.rules.what} ends too early`);
    this.pos++;
    return token;
  }

  private wordAt(ahead: number): string | undefined {
    const t = this.peek(ahead);
    return t?.kind === 'word' ? t.value.toLowerCase() : undefined;
  }

  private isWord(word: string, ahead = 0): boolean {
    return this.wordAt(ahead) === word;
  }

  private isSymbol(symbol: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t?.kind === 'symbol' && t.value === symbol;
  }

  private acceptWord(...words: string[]): boolean {
    const w = this.wordAt(0);
    if (w === undefined || !words.includes(w)) return false;
    this.next().role = 'keyword';
    return true;
  }

  private expectWord(word: string, why?: string): Token {
    if (!this.isWord(word)) this.unexpected(why ?? word.toUpperCase());
    const t = this.next();
    t.role = 'keyword';
    return t;
  }

  private acceptSymbol(symbol: string): boolean {
    if (!this.isSymbol(symbol)) return false;
    this.next();
    return true;
  }

  private expectSymbol(symbol: string, why?: string): Token {
    if (!this.isSymbol(symbol)) this.unexpected(why ?? `'${symbol}'`);
    return this.next();
  }

  private expectEnd(what: string): void {
    if (this.pos < this.tokens.length) {
      const t = this.peek()!;
      fail(
        t.start,
        `${this.rules.what} must be exactly one ${this.queryMode ? 'SELECT' : 'expression'}: unexpected ${describe(t)} where ${what} should be`,
        {
          code: 'sql_not_allowed',
        },
      );
    }
  }

  private unexpected(expected: string): never {
    const t = this.peek();
    if (!t) fail(this.textLength, `${this.rules.what} ends too early: expected ${expected}`);
    fail(t.start, `unexpected ${describe(t)}: expected ${expected}`);
  }

  /** `COPY ...`, `ATTACH '...'`, `SET x = 1`: a statement word followed by more than an operator. */
  private refuseStatement(): void {
    const w = this.wordAt(0);
    const following = this.peek(1);
    if (w !== undefined && STATEMENT_WORDS.has(w) && following && following.kind !== 'symbol') {
      fail(
        this.peek()!.start,
        `${w.toUpperCase()} is a statement: ${this.rules.what} must be ${this.queryMode ? 'one SELECT' : 'one expression'}`,
        {
          code: 'sql_not_allowed',
        },
      );
    }
  }

  // ---- expressions -----------------------------------------------------------------------

  expression(): void {
    if (++this.nesting > MAX_NESTING)
      fail(
        this.peek()?.start ?? this.textLength,
        `${this.rules.what} is nested more than ${MAX_NESTING} levels deep`,
      );
    this.and();
    while (this.acceptWord('or')) this.and();
    this.nesting--;
  }

  private and(): void {
    this.not();
    while (this.acceptWord('and')) this.not();
  }

  private not(): void {
    while (this.acceptWord('not'));
    this.predicate();
  }

  private predicate(): void {
    this.comparison();
    while (this.acceptWord('is')) {
      this.acceptWord('not');
      if (this.acceptWord('distinct')) {
        this.expectWord('from');
        this.comparison();
      } else if (!this.acceptWord('null', 'true', 'false', 'unknown')) {
        this.unexpected('NULL, TRUE, FALSE or DISTINCT FROM after IS');
      }
    }
  }

  /** Comparisons do not chain (`a < b = c` is an error in every engine): one operator at most. */
  private comparison(): void {
    this.range();
    if (!this.atComparison()) return;
    this.next();
    if (this.queryMode && this.acceptWord('any', 'all', 'some')) this.parenthesizedQuery();
    else this.range();
    if (this.atComparison())
      fail(this.peek()!.start, 'comparisons do not chain: put parentheses around one of them');
  }

  private atComparison(): boolean {
    const t = this.peek();
    return t?.kind === 'symbol' && COMPARISONS.has(t.value);
  }

  private range(): void {
    this.concat();
    for (;;) {
      if (this.peek()?.kind === 'symbol' && MATCH_OPERATORS.has(this.peek()!.value)) {
        this.next();
        this.concat();
        continue;
      }
      const negated = this.isWord('not') && PREDICATE_WORDS.has(this.wordAt(1) ?? '');
      if (!negated && !PREDICATE_WORDS.has(this.wordAt(0) ?? '')) return;
      if (negated) this.next().role = 'keyword';
      const word = this.wordAt(0)!;
      this.next().role = 'keyword';
      if (word === 'between') {
        this.acceptWord('symmetric', 'asymmetric');
        this.concat();
        this.expectWord('and', 'AND of BETWEEN ... AND ...');
        this.concat();
      } else if (word === 'in') {
        this.inList();
      } else {
        if (word === 'similar') this.expectWord('to');
        this.concat();
        if (this.acceptWord('escape')) this.concat();
      }
    }
  }

  private inList(): void {
    this.expectSymbol('(', "'(' and a list of values after IN");
    if (this.startsQuery()) {
      this.requireQueryMode('a subquery');
      this.query();
    } else {
      this.list(() => this.expression());
    }
    this.expectSymbol(')', "')' closing the IN list");
  }

  private concat(): void {
    this.additive();
    while (this.peek()?.kind === 'symbol' && CONCAT_LEVEL.has(this.peek()!.value)) {
      this.next();
      this.additive();
    }
  }

  private additive(): void {
    this.multiplicative();
    while (this.isSymbol('+') || this.isSymbol('-')) {
      this.next();
      this.multiplicative();
    }
  }

  private multiplicative(): void {
    this.power();
    while (this.isSymbol('*') || this.isSymbol('/') || this.isSymbol('%') || this.isSymbol('//')) {
      this.next();
      this.power();
    }
  }

  private power(): void {
    this.unary();
    while (this.acceptSymbol('^') || this.acceptSymbol('**')) this.unary();
  }

  private unary(): void {
    while (this.isSymbol('-') || this.isSymbol('+')) this.next();
    this.postfix();
  }

  private postfix(): void {
    this.primary();
    for (;;) {
      if (this.acceptSymbol('::')) this.typeName();
      else if (this.acceptSymbol('[')) {
        this.expression();
        if (this.acceptSymbol(':')) this.expression();
        this.expectSymbol(']', "']' closing the subscript");
      } else if (this.isWord('at') && this.isWord('time', 1) && this.isWord('zone', 2)) {
        this.next().role = 'keyword';
        this.next().role = 'keyword';
        this.next().role = 'keyword';
        this.primary();
      } else if (this.acceptWord('collate')) {
        this.name('a collation');
      } else return;
    }
  }

  private primary(): void {
    const t = this.peek();
    if (!t) this.unexpected('a value');
    switch (t.kind) {
      case 'number':
      case 'string':
        this.next();
        return;
      case 'placeholder':
        return this.placeholder();
      case 'quoted':
        return this.columnReference();
      case 'symbol':
        if (t.value === '(') return this.parenthesized();
        if (t.value === '*' && this.queryMode) this.unexpected('a value (* only selects all columns)');
        return this.unexpected('a value');
      case 'word':
        return this.wordPrimary(t);
    }
  }

  private parenthesized(): void {
    this.next();
    if (this.startsQuery()) {
      this.requireQueryMode('a subquery');
      this.query();
    } else {
      this.expression();
      // A row value: (a, b) IN (...)
      while (this.acceptSymbol(',')) this.expression();
    }
    this.expectSymbol(')', "')'");
  }

  private wordPrimary(t: Token): void {
    const word = t.value.toLowerCase();
    if (word === 'true' || word === 'false' || word === 'null') {
      this.next().role = 'keyword';
      return;
    }
    if (word === 'case') return this.caseExpression();
    if (word === 'exists') {
      this.next().role = 'keyword';
      this.requireQueryMode('EXISTS (a subquery)', t.start);
      return this.parenthesizedQuery();
    }
    if (word === 'interval' && this.startsIntervalValue()) return this.interval();
    if (TYPED_LITERALS.has(word) && this.peek(1)?.kind === 'string') {
      this.next().role = 'keyword';
      this.next();
      return;
    }
    if (this.isSymbol('(', 1)) return this.call();
    if (NILADIC_WORDS.has(word)) {
      this.next().role = 'keyword';
      return;
    }
    if (RESERVED_WORDS.has(word))
      fail(t.start, `unexpected ${word.toUpperCase()}: expected a value`, {
        hint:
          word === 'select'
            ? "subqueries are only allowed in a source's sql"
            : `quote it ("${t.value}") to use it as a column name`,
      });
    this.columnReference();
  }

  private columnReference(): void {
    const first = this.next();
    first.role = 'column';
    if (this.isSymbol('.')) {
      if (!this.queryMode)
        fail(
          first.start,
          `'${first.value}.${this.peek(1)?.value ?? ''}' is a qualified name: ${this.rules.what} refers to its own source's columns by name only`,
          {
            code: 'sql_not_allowed',
            hint: 'write the column name alone; to use another source, join it and select its field',
          },
        );
      while (this.acceptSymbol('.')) {
        const part = this.next();
        if (part.kind !== 'word' && part.kind !== 'quoted') fail(part.start, `expected a name after '.'`);
        part.role = 'column';
      }
      return;
    }
    if (!this.rules.columns)
      fail(
        first.start,
        `'${first.value}' is not a measure reference: ${this.rules.what} combines measures, written {measure} or {source.measure}`,
        {
          code: 'sql_not_allowed',
        },
      );
    this.facts.columns.add(columnName(first));
  }

  private placeholder(): void {
    const t = this.next();
    const segments = t.value.split('.');
    if (this.rules.placeholders === 'caller' && (segments.length !== 2 || segments[0] !== 'user'))
      fail(
        t.start,
        `{${t.value}} is not a caller attribute: a row filter refers to the caller as {user.<attribute>}`,
      );
    if (this.rules.placeholders === 'measures' && segments.length > 2)
      fail(t.start, `{${t.value}} is not a measure reference: write {measure} or {source.measure}`);
    if (this.rules.placeholders === 'fields' && (segments.length < 2 || segments.some((s) => s === '')))
      fail(
        t.start,
        `{${t.value}} is not a field reference: ${this.rules.what} refers to a field of a related source as {source.field}`,
        { hint: 'its own columns are written by name alone; {via.source.field} picks the join path' },
      );
    if (!this.facts.placeholders.includes(t.value)) this.facts.placeholders.push(t.value);
  }

  private caseExpression(): void {
    this.next().role = 'keyword';
    if (!this.isWord('when')) this.expression();
    if (!this.isWord('when')) this.unexpected('WHEN');
    while (this.acceptWord('when')) {
      this.expression();
      this.expectWord('then');
      this.expression();
    }
    if (this.acceptWord('else')) this.expression();
    this.expectWord('end', 'END closing the CASE');
  }

  private startsIntervalValue(): boolean {
    const next = this.peek(1);
    return (
      next?.kind === 'string' || next?.kind === 'number' || (next?.kind === 'symbol' && next.value === '(')
    );
  }

  /** INTERVAL '3 days', INTERVAL '3' DAY, INTERVAL 3 DAY, INTERVAL (n) DAY. */
  private interval(): void {
    this.next().role = 'keyword';
    const value = this.next();
    if (value.kind === 'symbol') {
      this.expression();
      this.expectSymbol(')');
    }
    if (TIME_UNITS.has(this.wordAt(0) ?? '')) {
      this.next().role = 'keyword';
      if (this.acceptWord('to')) this.timeUnit();
    } else if (value.kind !== 'string') {
      this.unexpected('a unit (DAY, MONTH, ...) after the interval value');
    }
  }

  private timeUnit(): void {
    const w = this.wordAt(0);
    if (w === undefined || !TIME_UNITS.has(w)) this.unexpected('a time unit (YEAR, MONTH, DAY, ...)');
    this.next().role = 'keyword';
  }

  private typeName(): void {
    const t = this.peek();
    if (!t || t.kind !== 'word' || RESERVED_WORDS.has(t.value.toLowerCase())) this.unexpected('a type name');
    this.next().role = 'keyword';
    while (TYPE_CONTINUATIONS.has(this.wordAt(0) ?? '')) this.next().role = 'keyword';
    if (this.isSymbol('(') && this.peek(1)?.kind === 'number') {
      this.next();
      this.next();
      if (this.acceptSymbol(',')) {
        if (this.peek()?.kind !== 'number') this.unexpected('a number');
        this.next();
      }
      this.expectSymbol(')');
    }
    while (this.isSymbol('[') && this.isSymbol(']', 1)) {
      this.next();
      this.next();
    }
  }

  private name(what: string): void {
    const t = this.peek();
    if (!t || (t.kind !== 'word' && t.kind !== 'quoted')) this.unexpected(what);
    if (t.kind === 'word' && RESERVED_WORDS.has(t.value.toLowerCase())) this.unexpected(what);
    this.next().role = 'name';
  }

  // ---- function calls --------------------------------------------------------------------

  private call(): void {
    const nameToken = this.next();
    const name = nameToken.value.toLowerCase();
    nameToken.role = 'function';
    if (deniedFunction(name))
      fail(
        nameToken.start,
        `function ${nameToken.value} is not allowed in a definition: it reaches outside the data (files, settings, other databases or servers)`,
        {
          code: 'sql_not_allowed',
        },
      );
    if (RESERVED_WORDS.has(name) && name !== 'cast')
      fail(nameToken.start, `unexpected ${name.toUpperCase()}: expected a value`);
    const aggregate = AGGREGATE_FUNCTIONS.has(name);
    if (aggregate && !this.queryMode)
      fail(nameToken.start, `${nameToken.value}() aggregates rows: ${this.rules.what} is computed per row`, {
        code: 'sql_not_allowed',
        hint: 'aggregate with a measure (aggregate: sum | count | ...), not inside sql',
      });
    this.expectSymbol('(');
    if (name === 'cast' || name === 'try_cast') this.castBody();
    else if (name === 'extract') this.extractBody();
    else if (SPECIAL_CALLS.has(name)) this.specialBody(name);
    else this.arguments();
    this.expectSymbol(')', `')' closing ${nameToken.value}(`);
    this.callSuffixes(nameToken);
  }

  private castBody(): void {
    this.expression();
    this.expectWord('as', 'AS and a type');
    this.typeName();
  }

  private extractBody(): void {
    const t = this.peek();
    if (t?.kind === 'string') this.next();
    else this.timeUnit();
    this.expectWord('from', 'FROM after the EXTRACT field');
    this.expression();
  }

  /** TRIM([LEADING|TRAILING|BOTH] [chars] FROM x), SUBSTRING(x FROM a FOR b), POSITION(a IN b); or plain arguments. */
  private specialBody(name: string): void {
    if (name === 'trim') {
      const side = this.acceptWord('leading', 'trailing', 'both');
      if (side && this.acceptWord('from')) return this.expression();
      this.expression();
      if (this.acceptWord('from')) return this.expression();
      while (this.acceptSymbol(',')) this.expression();
      return;
    }
    if (name === 'position') {
      this.concat();
      if (this.acceptWord('in')) return this.expression();
      while (this.acceptSymbol(',')) this.expression();
      return;
    }
    this.expression();
    if (this.acceptWord('from')) {
      this.expression();
      if (this.acceptWord('for')) this.expression();
      return;
    }
    if (this.acceptWord('for')) return this.expression();
    while (this.acceptSymbol(',')) this.expression();
  }

  private arguments(): void {
    if (this.isSymbol(')')) return;
    if (this.isSymbol('*')) {
      this.requireQueryMode('count(*)', this.peek()!.start);
      this.next();
      return;
    }
    if (this.isWord('distinct') || this.isWord('all')) {
      this.requireQueryMode('DISTINCT inside a call', this.peek()!.start);
      this.next().role = 'keyword';
    }
    this.list(() => this.expression());
    if (this.isWord('order') && this.isWord('by', 1)) {
      this.requireQueryMode('ORDER BY inside a call', this.peek()!.start);
      this.orderBy();
    }
  }

  private callSuffixes(name: Token): void {
    if (this.isWord('filter') && this.isSymbol('(', 1)) {
      this.requireQueryMode('FILTER (WHERE ...)', this.peek()!.start);
      this.next().role = 'keyword';
      this.expectSymbol('(');
      this.expectWord('where');
      this.expression();
      this.expectSymbol(')');
    }
    if (this.isWord('within') && this.isWord('group', 1)) {
      this.requireQueryMode('WITHIN GROUP', this.peek()!.start);
      this.next().role = 'keyword';
      this.next().role = 'keyword';
      this.expectSymbol('(');
      this.orderBy();
      this.expectSymbol(')');
    }
    if (this.isWord('over')) {
      if (!this.queryMode)
        fail(
          this.peek()!.start,
          `${name.value}() OVER (...) is a window function: ${this.rules.what} is computed per row`,
          {
            code: 'sql_not_allowed',
          },
        );
      this.next().role = 'keyword';
      if (this.acceptSymbol('(')) {
        this.windowSpec();
        this.expectSymbol(')');
      } else this.name('a window name');
    }
  }

  private windowSpec(): void {
    if (
      this.peek()?.kind === 'word' &&
      !['partition', 'order', 'rows', 'range', 'groups'].includes(this.wordAt(0)!)
    )
      this.name('a window name');
    if (this.acceptWord('partition')) {
      this.expectWord('by');
      this.list(() => this.expression());
    }
    if (this.isWord('order')) this.orderBy();
    if (this.acceptWord('rows', 'range', 'groups')) {
      if (this.acceptWord('between')) {
        this.frameBound();
        this.expectWord('and');
      }
      this.frameBound();
    }
  }

  private frameBound(): void {
    if (this.acceptWord('unbounded')) {
      if (!this.acceptWord('preceding', 'following')) this.unexpected('PRECEDING or FOLLOWING');
    } else if (this.acceptWord('current')) {
      this.expectWord('row');
    } else {
      this.additive();
      if (!this.acceptWord('preceding', 'following')) this.unexpected('PRECEDING or FOLLOWING');
    }
  }

  private orderBy(): void {
    this.expectWord('order');
    this.expectWord('by');
    this.list(() => {
      this.expression();
      this.acceptWord('asc', 'desc');
      if (this.acceptWord('nulls') && !this.acceptWord('first', 'last')) this.unexpected('FIRST or LAST');
    });
  }

  private list(item: () => void): void {
    item();
    while (this.acceptSymbol(',')) item();
  }

  private requireQueryMode(what: string, offset?: number): void {
    if (!this.queryMode)
      fail(
        offset ?? this.peek()?.start ?? this.textLength,
        `${what} is not allowed in ${this.rules.what}, which is computed per row of its own source`,
        {
          code: 'sql_not_allowed',
          hint: what.includes('subquery')
            ? "join the other source in the definitions, or read it in the source's sql"
            : undefined,
        },
      );
  }

  // ---- queries ---------------------------------------------------------------------------

  private startsQuery(): boolean {
    return this.isWord('select') || this.isWord('with') || this.isWord('values');
  }

  private parenthesizedQuery(): void {
    this.expectSymbol('(', "'(' and a subquery");
    if (!this.startsQuery() && !this.isSymbol('(')) this.unexpected('a SELECT');
    this.query();
    this.expectSymbol(')', "')' closing the subquery");
  }

  query(): void {
    this.depth++;
    try {
      if (this.isWord('with')) this.withClause();
      this.setExpression();
      if (this.isWord('order') && this.isWord('by', 1)) {
        this.clauseAt();
        this.orderBy();
      }
      if (this.isWord('limit')) {
        this.clauseAt();
        this.next();
        if (!this.acceptWord('all')) this.expression();
      }
      if (this.isWord('offset')) {
        this.clauseAt();
        this.next();
        this.expression();
        this.acceptWord('row', 'rows');
      }
      if (this.isWord('for'))
        fail(this.peek()!.start, 'FOR UPDATE/SHARE locks rows: a source reads only', {
          code: 'sql_not_allowed',
        });
    } finally {
      this.depth--;
    }
  }

  /** Marks the current token as the start of a clause of the outermost query. */
  private clauseAt(): void {
    const t = this.peek()!;
    t.role = this.depth === 1 ? 'clause' : 'keyword';
  }

  private withClause(): void {
    this.clauseAt();
    this.next();
    this.acceptWord('recursive');
    this.list(() => {
      this.name('a CTE name');
      if (this.isSymbol('(')) this.nameList();
      this.expectWord('as');
      this.acceptWord('not');
      this.acceptWord('materialized');
      this.parenthesizedQuery();
    });
  }

  private setExpression(): void {
    this.setTerm();
    while (this.isWord('union') || this.isWord('intersect') || this.isWord('except')) {
      this.clauseAt();
      this.next();
      this.acceptWord('all', 'distinct');
      if (this.acceptWord('by')) this.expectWord('name');
      this.setTerm();
    }
  }

  private setTerm(): void {
    if (this.isSymbol('(')) {
      this.next();
      this.query();
      this.expectSymbol(')');
    } else if (this.isWord('values')) {
      this.clauseAt();
      this.next();
      this.list(() => {
        this.expectSymbol('(');
        this.list(() => this.expression());
        this.expectSymbol(')');
      });
    } else this.select();
  }

  private select(): void {
    if (!this.isWord('select')) this.unexpected('SELECT');
    this.clauseAt();
    this.next();
    if (this.acceptWord('distinct')) {
      if (this.acceptWord('on')) {
        this.expectSymbol('(');
        this.list(() => this.expression());
        this.expectSymbol(')');
      }
    } else this.acceptWord('all');
    this.list(() => this.selectItem());
    if (this.isWord('into'))
      fail(this.peek()!.start, 'SELECT ... INTO creates a table: a source reads only', {
        code: 'sql_not_allowed',
      });
    if (this.isWord('from')) {
      this.clauseAt();
      this.next();
      this.list(() => this.fromItem());
    }
    if (this.isWord('where')) {
      this.clauseAt();
      this.next();
      this.expression();
    }
    if (this.isWord('group') && this.isWord('by', 1)) {
      this.clauseAt();
      this.next();
      this.next().role = 'keyword';
      if (!this.acceptWord('all')) this.list(() => this.expression());
    }
    if (this.isWord('having')) {
      this.clauseAt();
      this.next();
      this.expression();
    }
    if (this.isWord('qualify')) {
      this.clauseAt();
      this.next();
      this.expression();
    }
    if (this.isWord('window')) {
      this.clauseAt();
      this.next();
      this.list(() => {
        this.name('a window name');
        this.expectWord('as');
        this.expectSymbol('(');
        this.windowSpec();
        this.expectSymbol(')');
      });
    }
  }

  private selectItem(): void {
    if (this.acceptSymbol('*')) return this.starModifiers();
    const t = this.peek();
    if (t && (t.kind === 'word' || t.kind === 'quoted') && this.isSymbol('.', 1) && this.isSymbol('*', 2)) {
      this.next().role = 'name';
      this.next();
      this.next();
      return this.starModifiers();
    }
    this.expression();
    this.alias();
  }

  private starModifiers(): void {
    if (this.acceptWord('exclude')) this.nameList();
  }

  private alias(): void {
    if (this.acceptWord('as')) return this.name('an alias');
    const t = this.peek();
    if (t?.kind === 'quoted') {
      this.next().role = 'name';
      return;
    }
    const w = this.wordAt(0);
    if (w !== undefined && !RESERVED_WORDS.has(w) && !NOT_ALIASES.has(w)) this.next().role = 'name';
  }

  private nameList(): void {
    this.expectSymbol('(');
    this.list(() => this.name('a name'));
    this.expectSymbol(')');
  }

  private fromItem(): void {
    this.fromPrimary();
    for (;;) {
      const w = this.wordAt(0);
      if (w === undefined || !JOIN_STARTS.has(w)) return;
      this.clauseAt();
      this.acceptWord('natural');
      const kind = this.wordAt(0);
      if (kind === 'left' || kind === 'right' || kind === 'full') {
        this.next().role = 'keyword';
        this.acceptWord('outer');
      } else this.acceptWord('inner', 'cross', 'semi', 'anti', 'asof', 'positional');
      this.expectWord('join', 'JOIN');
      this.fromPrimary();
      if (this.acceptWord('on')) this.expression();
      else if (this.isWord('using')) {
        this.next().role = 'keyword';
        this.nameList();
      }
    }
  }

  private fromPrimary(): void {
    if (this.acceptWord('lateral')) {
      this.parenthesizedQuery();
      return this.tableAlias();
    }
    if (this.isSymbol('(')) {
      if (
        this.isWord('select', 1) ||
        this.isWord('with', 1) ||
        this.isWord('values', 1) ||
        this.isSymbol('(', 1)
      ) {
        this.parenthesizedQuery();
      } else {
        this.next();
        this.fromItem();
        this.expectSymbol(')');
      }
      return this.tableAlias();
    }
    const t = this.peek();
    if (!t || (t.kind !== 'word' && t.kind !== 'quoted')) this.unexpected('a table');
    if (t.kind === 'word' && this.isSymbol('(', 1)) return this.tableFunction();
    if (t.kind === 'word' && RESERVED_WORDS.has(t.value.toLowerCase())) this.unexpected('a table');
    const path: string[] = [];
    for (;;) {
      const part = this.next();
      if (part.kind !== 'word' && part.kind !== 'quoted') fail(part.start, 'expected a table name');
      part.role = 'name';
      path.push(part.kind === 'quoted' ? part.value : part.value.toLowerCase());
      if (!this.acceptSymbol('.')) break;
    }
    if (path.length > 3) fail(t.start, `'${path.join('.')}' has too many parts for a table name`);
    this.facts.tables.push(path);
    this.tableAlias();
  }

  private tableFunction(): void {
    const nameToken = this.peek()!;
    const name = nameToken.value.toLowerCase();
    if (!ALLOWED_TABLE_FUNCTIONS.has(name))
      fail(nameToken.start, `table function ${nameToken.value}() is not allowed in a source's sql`, {
        code: 'sql_not_allowed',
        hint: `read tables by name; the table functions allowed are ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')}`,
      });
    this.call();
    if (this.acceptWord('with')) this.expectWord('ordinality');
    this.tableAlias();
  }

  private tableAlias(): void {
    this.alias();
    if (this.isSymbol('(') && this.tokens[this.pos - 1]?.role === 'name') this.nameList();
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'word':
      return RESERVED_WORDS.has(t.value.toLowerCase()) || STATEMENT_WORDS.has(t.value.toLowerCase())
        ? t.value.toUpperCase()
        : `'${t.value}'`;
    case 'quoted':
      return `"${t.value}"`;
    case 'string':
      return 'a string';
    case 'number':
      return `the number ${t.value}`;
    case 'placeholder':
      return `{${t.value}}`;
    case 'symbol':
      return `'${t.value}'`;
  }
}
