/**
 * Filter conditions as boolean trees in negation normal form (NOT only on atoms), and their
 * three-valued (Kleene) evaluation. A negated atom is `NOT (pred)`: NOT TRUE is FALSE, NOT
 * UNKNOWN stays UNKNOWN. With negation only on atoms, AND and OR are monotone in their
 * operands (FALSE < UNKNOWN < TRUE), so a condition is TRUE exactly when it is TRUE with
 * every UNKNOWN operand read as FALSE: what a WHERE or HAVING keeps.
 */
import type { Atom, Condition, Literal } from './spec.js';

export type Truth = 'true' | 'false' | 'unknown';

export function literal(atom: Atom, negated = false): Literal {
  return negated ? { kind: 'atom', atom, negated: true } : { kind: 'atom', atom };
}

/** AND or OR of conditions, nested groups of the same kind flattened, one operand unwrapped. */
export function combine(kind: 'and' | 'or', items: readonly Condition[]): Condition {
  const flat = items.flatMap((c) => (c.kind === kind ? c.items : [c]));
  return flat.length === 1 ? flat[0]! : { kind, items: flat };
}

/** The ANDed parts of a condition (itself, unless it is an AND). */
export function conjunctsOf(condition: Condition): Condition[] {
  return condition.kind === 'and' ? condition.items : [condition];
}

/** Every atom of a condition, in order. */
export function atomsOf(condition: Condition): Atom[] {
  return condition.kind === 'atom' ? [condition.atom] : condition.items.flatMap(atomsOf);
}

/** Every literal (atom with its sign) of a condition, in order. */
export function literalsOf(condition: Condition): Literal[] {
  return condition.kind === 'atom' ? [condition] : condition.items.flatMap(literalsOf);
}

/** An atom evaluated on NULL: `is_null` holds, `is_not_null` fails, any comparison is unknown. */
export function atomOnNull(atom: Atom): Truth {
  return atom.op === 'is_null' ? 'true' : atom.op === 'is_not_null' ? 'false' : 'unknown';
}

/** A literal's value given its atom's: NOT swaps TRUE and FALSE and keeps UNKNOWN. */
export function signed(lit: Literal, value: Truth): Truth {
  if (!lit.negated || value === 'unknown') return value;
  return value === 'true' ? 'false' : 'true';
}

/**
 * The condition with some literals' values known (`known` returns undefined for the others):
 * TRUE, FALSE (which includes UNKNOWN: see the module comment), or what is left to evaluate.
 */
export function simplify(
  condition: Condition,
  known: (lit: Literal) => Truth | undefined,
): Condition | boolean {
  if (condition.kind === 'atom') {
    const value = known(condition);
    return value === undefined ? condition : value === 'true';
  }
  const absorbing = condition.kind === 'or';
  const left: Condition[] = [];
  for (const item of condition.items) {
    const s = simplify(item, known);
    if (s === absorbing) return absorbing;
    if (s !== !absorbing) left.push(s as Condition);
  }
  return left.length === 0 ? !absorbing : combine(condition.kind, left);
}

/** Whether the condition can be TRUE when the literals `known` decides take those values. */
export function canBeTrue(condition: Condition, known: (lit: Literal) => Truth | undefined): boolean {
  return simplify(condition, known) !== false;
}
