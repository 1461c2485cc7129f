/** The GraphQL API of `strata serve` (spec §11): POST /graphql, schemas from the definitions. */
import { Module } from '@nestjs/common';
import { GraphqlController } from './graphql.controller.js';
import { GraphqlService } from './graphql.service.js';

@Module({
  controllers: [GraphqlController],
  providers: [GraphqlService],
  exports: [GraphqlService],
})
export class GraphqlModule {}
