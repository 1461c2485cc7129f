/**
 * `strata validate --database`: every source's definitions checked on a real engine with
 * zero-row queries (src/core/checks/database-probes.ts builds them). Per source: one query
 * for the relation, one per batch of its expressions, then one per batch of its measures'
 * aggregates; only when a batch fails, one per expression, to say which. Every problem is reported; nothing here throws on a bad definition.
 */
import {
  joinKeyDiagnostics,
  strataType,
  expressionsProbe,
  probeFailure,
  relationFailure,
  relationProbe,
  sourceProbes,
  typeDiagnostic,
  type EngineFieldType,
  type Probe,
  type SourceProbes,
} from '../core/checks/database-probes.js';
import type { Diagnostic } from '../core/diagnostics.js';
import type { SemanticModel } from '../core/model/types.js';
import { dialectFor } from '../core/sql/dialects/index.js';
import { QueryError, type Engine, type ResultColumn } from './../engines/engine.js';

export interface DatabaseCheckSummary {
  diagnostics: Diagnostic[];
  /** Sources checked, and queries run (for the summary line and for tests of the batching). */
  sources: number;
  queries: number;
}

export async function checkDatabase(model: SemanticModel, engine: Engine): Promise<DatabaseCheckSummary> {
  const checker = new DatabaseChecker(engine);
  const sources = [...model.sources.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const source of sources) await checker.checkSource(sourceProbes(source, engine.dialect));
  checker.diagnostics.push(...joinKeyDiagnostics(model, checker.fieldTypes, engine.name));
  return { diagnostics: checker.diagnostics, sources: sources.length, queries: checker.queries };
}

/**
 * Expressions per zero-row query: a source with hundreds of fields is checked in a few
 * queries, each well within any engine's limit on a statement's size and columns.
 */
export const PROBES_PER_QUERY = 100;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += PROBES_PER_QUERY) out.push(items.slice(i, i + PROBES_PER_QUERY));
  return out;
}

class DatabaseChecker {
  readonly diagnostics: Diagnostic[] = [];
  /** `source.field` -> its type as the engine reports it, for the join keys. */
  readonly fieldTypes = new Map<string, EngineFieldType>();
  queries = 0;
  private readonly dialect;

  constructor(private readonly engine: Engine) {
    this.dialect = dialectFor(engine.dialect);
  }

  async checkSource(plan: SourceProbes): Promise<void> {
    this.diagnostics.push(...plan.notes);
    const relation = await this.run(this.dialect.render(relationProbe(plan)));
    if ('failure' in relation) {
      // One error for the source: every expression over a missing table would fail too.
      this.diagnostics.push(relationFailure(plan, this.engine.name, relation.failure));
      return;
    }
    const failedMeasures = new Set<string>();
    for (const batch of batches(plan.probes.filter((p) => !p.aggregate)))
      await this.checkBatch(plan, batch, failedMeasures);
    // A measure whose own sql or filter failed is reported once, not again as its aggregate.
    const aggregates = plan.probes.filter((p) => p.aggregate && !failedMeasures.has(p.measure ?? ''));
    for (const batch of batches(aggregates)) await this.checkBatch(plan, batch, failedMeasures);
  }

  /** One query for the batch; only when it fails, one per expression, to say which. */
  private async checkBatch(plan: SourceProbes, probes: readonly Probe[], failedMeasures: Set<string>) {
    const batch = await this.run(this.dialect.render(expressionsProbe(plan, probes)));
    if ('columns' in batch) {
      this.checkTypes(plan, probes, batch.columns);
      return;
    }
    for (const probe of probes) {
      const single = await this.run(this.dialect.render(expressionsProbe(plan, [probe])));
      if ('columns' in single) {
        this.checkTypes(plan, [probe], single.columns);
        continue;
      }
      this.diagnostics.push(probeFailure(probe, this.engine.name, single.failure));
      if (probe.measure) failedMeasures.add(probe.measure);
    }
  }

  private checkTypes(plan: SourceProbes, probes: readonly Probe[], columns: readonly ResultColumn[]): void {
    probes.forEach((probe, i) => {
      const column = columns[i];
      if (!column) return;
      const type = strataType(this.engine.name, column.engineType);
      if (probe.field && type)
        this.fieldTypes.set(`${plan.source.name}.${probe.field}`, { engineType: column.engineType, type });
      const problem = typeDiagnostic(probe, this.engine.name, column.engineType);
      if (problem) this.diagnostics.push(problem);
    });
  }

  /** The engine's answer, or its message when it refused the query. Other failures propagate. */
  private async run(sql: string): Promise<{ columns: ResultColumn[] } | { failure: string }> {
    this.queries += 1;
    try {
      const { columns } = await this.engine.query(sql);
      return { columns };
    } catch (e) {
      if (e instanceof QueryError) return { failure: e.message };
      throw e;
    }
  }
}
