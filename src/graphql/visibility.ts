/**
 * What of the model a set of roles may see: the sources, fields, measures and joins the
 * schema (and so introspection) shows them. Only roles matter here: attributes only decide
 * rows, at query time, in the compiler.
 */
import { AccessPolicy } from '../core/access/policy.js';
import type { JoinEdge, MemberModel, SemanticModel, SourceModel } from '../core/model/types.js';

export class Visibility {
  private readonly policy: AccessPolicy;

  constructor(
    readonly model: SemanticModel,
    readonly roles: readonly string[],
  ) {
    this.policy = new AccessPolicy({ roles, attributes: {} }, model.sources);
  }

  /** A key for caches: the same roles see the same schema. */
  static key(roles: readonly string[]): string {
    return [...new Set(roles)].sort().join(',');
  }

  sources(): SourceModel[] {
    return [...this.model.sources.values()]
      .filter((s) => this.canRead(s))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  canRead(source: SourceModel): boolean {
    return this.policy.sourceDenial(source) === undefined;
  }

  members(source: SourceModel): MemberModel[] {
    return [...source.fields.values(), ...source.measures.values()].filter(
      (m) => this.policy.memberDenial(source, m) === undefined,
    );
  }

  /** Joins from `source` to sources these roles may read. */
  joins(source: SourceModel): JoinEdge[] {
    return (this.model.joins.get(source.name) ?? []).filter((edge) => {
      const target = this.model.sources.get(edge.to);
      return target !== undefined && this.canRead(target);
    });
  }
}
