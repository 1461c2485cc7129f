/**
 * The API schema per role set: introspection shows only what the roles may read, limits
 * refuse deep or costly queries before anything runs, scalars keep values exact.
 */
import { parse, specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { depthLimit, statementLimit } from '../../src/graphql/limits.js';
import { DecimalScalar, LongScalar } from '../../src/graphql/scalars.js';
import { buildApiSchema } from '../../src/graphql/schema.js';
import { exampleProject } from '../support/example-project.js';

const { project } = exampleProject();
const schemaFor = (roles: string[]) => buildApiSchema(project.model, roles);

function typeFields(schema: GraphQLSchema, name: string): string[] {
  const type = schema.getType(name);
  return type && 'getFields' in type ? Object.keys(type.getFields()).sort() : [];
}

describe('what a role set sees', () => {
  it('finance sees budgets; studio sees movies without them', () => {
    expect(typeFields(schemaFor(['finance']), 'Movie')).toEqual(
      expect.arrayContaining(['budget_usd', 'total_budget', 'budget_per_movie']),
    );
    const studio = typeFields(schemaFor(['studio']), 'Movie');
    expect(studio).toContain('title');
    expect(studio).not.toContain('budget_usd');
    expect(studio).not.toContain('total_budget');
    expect(studio).not.toContain('budget_per_movie');
  });

  it('a protected source and the joins to it are absent for a caller who may not read it', () => {
    const schema = schemaFor([]);
    expect(schema.getType('PurchaseOrder')).toBeUndefined();
    expect(Object.keys(schema.getQueryType()!.getFields())).not.toContain('purchase_order');
    expect(typeFields(schema, 'Production')).not.toContain('purchase_order');
    expect(typeFields(schema, 'Production')).not.toContain('spend_per_shoot_day');
    expect(Object.keys(schemaFor(['vendor']).getQueryType()!.getFields())).toContain('purchase_order');
  });
});

describe('limits are checked before anything runs', () => {
  const schema = schemaFor(['studio', 'finance']);
  const errors = (query: string, rules = [depthLimit(4), statementLimit(3)]) =>
    validate(schema, parse(query), [...specifiedRules, ...rules]).map((e) => e.extensions.code);

  it('depth, through fragments too', () => {
    expect(errors('{ production { movie { production { movie { title } } } } }')).toEqual([]);
    expect(errors('{ production { movie { production { movie { production { country } } } } } }')).toEqual([
      'QUERY_TOO_DEEP',
    ]);
    expect(
      errors(
        'fragment F on Movie { production { movie { production { country } } } } { production { movie { ...F } } }',
      ),
    ).toEqual(['QUERY_TOO_DEEP']);
  });

  it('statements: one per typed field and nested list, fragments counted where they are spread', () => {
    expect(errors('{ movie { title production { country } } vendor { name } }')).toEqual([]);
    expect(errors('{ movie { title production { country } } vendor { name } location { name } }')).toEqual([
      'QUERY_TOO_COSTLY',
    ]);
    expect(
      errors('fragment P on Movie { production { country } } { a: movie { ...P } b: movie { ...P } }'),
    ).toEqual(['QUERY_TOO_COSTLY']);
  });
});

describe('scalars keep values exact', () => {
  it('decimals are strings without exponent; Long is a 64-bit integer', () => {
    expect(DecimalScalar.serialize(10385014.96)).toBe('10385014.96');
    expect(DecimalScalar.serialize(1e21)).toBe('1000000000000000000000');
    expect(DecimalScalar.serialize(0.0000001)).toBe('0.0000001');
    expect(LongScalar.serialize(2 ** 40)).toBe(2 ** 40);
    expect(() => LongScalar.serialize(1.5)).toThrow();
  });
});
