/**
 * Limits a request must fit before anything runs (GraphQL validation rules): how deep its
 * selections nest, and how many SQL statements it would cost. A statement is what an engine
 * runs: one per top-level typed field, one per nested one-to-many list (the typed API runs
 * one query per nesting level), one per `run`. Fields returning rows carry
 * `extensions.statements` (see typed-schema.ts and generic-schema.ts).
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLField,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** Marks a field that costs SQL statements when resolved. */
export const STATEMENT_COST = { statements: 1 } as const;

function costOf(field: GraphQLField<unknown, unknown> | null | undefined): number {
  const cost = (field?.extensions as { statements?: number } | undefined)?.statements;
  return typeof cost === 'number' ? cost : 0;
}

/** Each operation may nest at most `max` levels of object fields (`{ a { b { c } } }` is 2). */
export function depthLimit(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions)
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    const depthOf = (set: SelectionSetNode | undefined, seen: ReadonlySet<string>): number => {
      let deepest = 0;
      for (const selection of set?.selections ?? []) {
        if (selection.kind === Kind.FIELD) {
          // A level is a field with fields under it: leaves add nothing.
          if (selection.name.value.startsWith('__') || !selection.selectionSet) continue;
          deepest = Math.max(deepest, 1 + depthOf(selection.selectionSet, seen));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, seen));
        } else if (!seen.has(selection.name.value)) {
          const fragment = fragments.get(selection.name.value);
          deepest = Math.max(
            deepest,
            depthOf(fragment?.selectionSet, new Set([...seen, selection.name.value])),
          );
        }
        if (deepest > max) return deepest;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max)
          context.reportError(
            new GraphQLError(`the query nests ${depth} levels deep; the limit is ${max}`, {
              nodes: [node],
              extensions: { code: 'QUERY_TOO_DEEP' },
            }),
          );
      },
    };
  };
}

/** An operation may cost at most `max` SQL statements (fragments counted where they are spread). */
export function statementLimit(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let total = 0;
    let reported = false;
    let inFragment = false;
    return {
      FragmentDefinition: {
        enter() {
          inFragment = true;
        },
        leave() {
          inFragment = false;
        },
      },
      OperationDefinition: {
        enter() {
          total = 0;
        },
        leave(node) {
          if (total > max && !reported) {
            reported = true;
            context.reportError(
              new GraphQLError(`the query would run ${total} SQL statements; the limit is ${max}`, {
                nodes: [node],
                extensions: { code: 'QUERY_TOO_COSTLY' },
              }),
            );
          }
        },
      },
      // ValidationContext tracks the field definition of each field, fragments included as spread.
      Field() {
        if (!inFragment) total += costOf(context.getFieldDef());
      },
      FragmentSpread(node) {
        if (inFragment) return;
        const fragment = context.getFragment(node.name.value);
        if (fragment) total += fragmentCost(context, fragment, new Set([node.name.value]));
      },
    };
  };
}

/**
 * Fields inside fragment definitions are visited once, where the fragment is defined, not
 * where it is spread; so a fragment's cost is added at each spread, and its own visit skipped.
 */
function fragmentCost(
  context: ValidationContext,
  fragment: FragmentDefinitionNode,
  seen: Set<string>,
): number {
  let cost = 0;
  const visit = (set: SelectionSetNode, parent: string): void => {
    const type = context.getSchema().getType(parent);
    const fields = type && 'getFields' in type ? type.getFields() : {};
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = fields[selection.name.value] as GraphQLField<unknown, unknown> | undefined;
        cost += costOf(field);
        const named = field ? namedTypeName(field) : undefined;
        if (selection.selectionSet && named) visit(selection.selectionSet, named);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, selection.typeCondition?.name.value ?? parent);
      } else if (!seen.has(selection.name.value)) {
        const inner = context.getFragment(selection.name.value);
        if (inner) {
          seen.add(selection.name.value);
          visit(inner.selectionSet, inner.typeCondition.name.value);
        }
      }
    }
  };
  visit(fragment.selectionSet, fragment.typeCondition.name.value);
  return cost;
}

function namedTypeName(field: GraphQLField<unknown, unknown>): string {
  let type: unknown = field.type;
  while (type && typeof type === 'object' && 'ofType' in type) type = (type as { ofType: unknown }).ofType;
  return (type as { name: string }).name;
}
