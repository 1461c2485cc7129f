/**
 * Access policies (spec §2 `access:`, §11): which sources, fields and measures a caller may
 * read, and which rows. Evaluated by the compiler, so that the API, the CLI (`--as`) and
 * trackers (`runAs`) are all held to the same rules at one point.
 *
 * The rules:
 * - A source with `roles` or `rowFilters` is protected: only those roles read it (the roles
 *   in `roles`, and the roles that have a row filter). A source without either is public.
 * - A field or measure listed in `fields` is readable only by the roles listed for it. A
 *   field or measure computed from a denied plain field's column, and a derived measure built
 *   on a denied measure, are denied too.
 * - Rows: a role in `roles` without a row filter sees every row; a role with row filters sees
 *   the rows that pass any of them. A caller with several roles sees the union of what each
 *   role sees (OR of their conditions; everything when one of them is unrestricted).
 * - A row filter's `{user.<attribute>}` becomes a typed literal of the caller's attribute; a
 *   missing attribute denies the read (the rows it would select are unknown).
 */
import type { MeasureModel, MemberModel, SourceModel } from '../model/types.js';
import { fragmentColumns } from '../model/columns.js';
import type { SqlFragment } from '../sql/fragments/fragment.js';
import { lit, or, type Expr } from '../sql/ast.js';
import type { TypedValue } from '../values/typed-value.js';

/** Who a query runs for: authenticated by the service, declared by a tracker's `runAs`, or `--as`. */
export interface Caller {
  roles: readonly string[];
  attributes: Readonly<Record<string, string | number | boolean>>;
}

/** A caller with no roles: what a tracker without `runAs` reads as. */
export const UNPRIVILEGED: Caller = { roles: [], attributes: {} };

export type RowAccess =
  { kind: 'all' } | { kind: 'filtered'; condition: Expr } | { kind: 'denied'; reason: string };

/** What `access:` allows one caller; undefined caller = a trusted local user, allowed everything. */
export class AccessPolicy {
  private readonly rows = new Map<SourceModel, RowAccess>();

  constructor(
    readonly caller: Caller,
    private readonly sources: ReadonlyMap<string, SourceModel>,
  ) {}

  /** Why the caller may not read the source at all, or undefined when it may. */
  sourceDenial(source: SourceModel): string | undefined {
    const readers = readersOf(source);
    if (!readers || this.caller.roles.some((r) => readers.has(r))) return undefined;
    return `source '${source.name}' is readable by roles ${[...readers].sort().join(', ')} only${this.rolesShown()}`;
  }

  /** Why the caller may not read a field or measure (its source aside), or undefined. */
  memberDenial(source: SourceModel, member: MemberModel): string | undefined {
    const restricted = this.restriction(source, member, new Set());
    if (!restricted) return undefined;
    const name = `'${source.name}.${member.name}'`;
    const limit = `readable by roles ${restricted.roles.join(', ')} only${this.rolesShown()}`;
    return restricted.member === name
      ? `${name} is ${limit}`
      : `${name} reads ${restricted.member}, which is ${limit}`;
  }

  /** The denied member at the root of a member's denial (itself, a column it reads, a measure it is built on). */
  private restriction(
    source: SourceModel,
    member: MemberModel,
    seen: Set<MemberModel>,
  ): { member: string; roles: string[] } | undefined {
    if (seen.has(member)) return undefined;
    seen.add(member);
    const listed = source.access?.fields?.[member.name];
    if (listed && !this.caller.roles.some((r) => listed.includes(r)))
      return { member: `'${source.name}.${member.name}'`, roles: [...listed].sort() };
    for (const column of columnsRead(member)) {
      const field = source.fields.get(column);
      if (!field || field === member || field.sql) continue;
      const denied = this.restriction(source, field, seen);
      if (denied) return denied;
    }
    if (member.kind === 'measure' && member.definition.kind === 'derived') {
      for (const ref of member.definition.refs) {
        const refSource = this.sources.get(ref.source);
        const refMeasure = refSource?.measures.get(ref.measure);
        if (!refSource || !refMeasure) continue;
        const readers = readersOf(refSource);
        if (readers && !this.caller.roles.some((r) => readers.has(r)))
          return { member: `source '${refSource.name}'`, roles: [...readers].sort() };
        const denied = this.restriction(refSource, refMeasure, seen);
        if (denied) return denied;
      }
    }
    return undefined;
  }

  /** The rows of `source` the caller may see. */
  rowAccess(source: SourceModel): RowAccess {
    let access = this.rows.get(source);
    if (!access) {
      access = this.computeRowAccess(source);
      this.rows.set(source, access);
    }
    return access;
  }

  private computeRowAccess(source: SourceModel): RowAccess {
    const denial = this.sourceDenial(source);
    if (denial) return { kind: 'denied', reason: denial };
    const policy = source.access;
    if (!readersOf(source) || !policy) return { kind: 'all' };
    const filtered = new Set(policy.rowFilters.map((f) => f.role));
    const unrestricted = this.caller.roles.some((r) => policy.roles?.includes(r) && !filtered.has(r));
    if (unrestricted) return { kind: 'all' };
    const conditions: Expr[] = [];
    for (const { role, filter } of policy.rowFilters) {
      if (!this.caller.roles.includes(role)) continue;
      const placeholders = new Map<string, Expr>();
      for (const path of filter.placeholders) {
        const attribute = path.slice('user.'.length);
        const value = this.caller.attributes[attribute];
        if (value === undefined)
          return {
            kind: 'denied',
            reason: `the row filter of '${source.name}' for role ${role} needs the caller attribute '${attribute}', which the caller does not have`,
          };
        placeholders.set(path, lit(attributeValue(value)));
      }
      conditions.push(rowFilterExpr(source, role, filter, placeholders));
    }
    return { kind: 'filtered', condition: or(conditions) };
  }

  private rolesShown(): string {
    const roles = this.caller.roles;
    return roles.length === 0 ? ' (the caller has no role)' : ` (the caller has ${[...roles].join(', ')})`;
  }
}

/** The roles that may read a protected source, or undefined for a public one. */
export function readersOf(source: SourceModel): ReadonlySet<string> | undefined {
  const access = source.access;
  if (!access || (access.roles === undefined && access.rowFilters.length === 0)) return undefined;
  return new Set([...(access.roles ?? []), ...access.rowFilters.map((f) => f.role)]);
}

/** The source columns a field's or measure's own SQL reads (a plain field reads its namesake). */
function columnsRead(member: MemberModel): string[] {
  if (member.kind === 'field') return member.sql ? fragmentColumns(member.sql) : [member.name];
  return measureColumns(member);
}

function measureColumns(measure: MeasureModel): string[] {
  const def = measure.definition;
  if (def.kind !== 'aggregate') return [];
  return [...(def.sql ? fragmentColumns(def.sql) : []), ...(def.filter ? fragmentColumns(def.filter) : [])];
}

function rowFilterExpr(
  source: SourceModel,
  role: string,
  filter: SqlFragment,
  placeholders: ReadonlyMap<string, Expr>,
): Expr {
  return {
    kind: 'fragment',
    sql: { kind: 'shared', fragment: filter },
    owner: `row filter of ${source.name} for role ${role}`,
    placeholders,
  };
}

/** A caller attribute as a typed SQL value: strings as strings, numbers as numbers, booleans. */
function attributeValue(value: string | number | boolean): TypedValue {
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'integer' : 'number', value };
  return { type: 'string', value };
}
