/**
 * The whole API schema for one set of roles: the generic API of spec §11 and the typed API
 * generated from the definitions, on one Query type. Built from the definitions the service
 * holds; the service caches it per role set and builds it again when the definitions reload.
 */
import { GraphQLObjectType, GraphQLSchema } from 'graphql';
import type { SemanticModel } from '../core/model/types.js';
import type { ApiContext } from './context.js';
import { genericMutationFields, genericQueryFields } from './generic-schema.js';
import { buildTypedApi } from './typed-schema.js';
import { Visibility } from './visibility.js';

export function buildApiSchema(model: SemanticModel, roles: readonly string[]): GraphQLSchema {
  const visibility = new Visibility(model, roles);
  const generic = genericQueryFields(visibility);
  const typed = buildTypedApi(visibility, new Set(Object.keys(generic)));
  return new GraphQLSchema({
    query: new GraphQLObjectType<unknown, ApiContext>({
      name: 'Query',
      fields: { ...generic, ...typed.queryFields },
    }),
    mutation: new GraphQLObjectType<unknown, ApiContext>({
      name: 'Mutation',
      fields: genericMutationFields(),
    }),
  });
}
