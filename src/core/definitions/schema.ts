/**
 * The one source of truth for every definition file: these zod schemas give both the
 * TypeScript types (z.infer) and the validation of the files' shape. Cross-references
 * (unknown fields, join paths, cycles) are checked later, on the typed model.
 */
import { z } from 'zod';
import { cronProblem, isValidTimeZone } from '../cron.js';

export const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;
export const TRACKER_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;

export const Name = z
  .string()
  .regex(NAME_PATTERN, { error: 'must match ^[a-z][a-z0-9_]*$ (lower case letters, digits and _)' });

export const FIELD_TYPES = [
  'string',
  'integer',
  'decimal',
  'number',
  'boolean',
  'date',
  'timestamp',
] as const;
export const FieldType = z.enum(FIELD_TYPES);
export type FieldType = z.infer<typeof FieldType>;

export const DIALECTS = ['trino', 'duckdb', 'postgres', 'mysql'] as const;
export const Dialect = z.enum(DIALECTS);
export type Dialect = z.infer<typeof Dialect>;

/** The engines a project can run on, each with the dialect its SQL is written in. */
export const ENGINE_DIALECTS = {
  duckdb: 'duckdb',
  postgres: 'postgres',
  trino: 'trino',
  mysql: 'mysql',
} as const satisfies Record<string, Dialect>;
export const ENGINES = Object.keys(ENGINE_DIALECTS) as (keyof typeof ENGINE_DIALECTS)[];
export const EngineName = z.enum(
  ENGINES as [keyof typeof ENGINE_DIALECTS, ...(keyof typeof ENGINE_DIALECTS)[]],
);
export type EngineName = z.infer<typeof EngineName>;

/** SQL written by a definition author: one expression for every dialect, or one per dialect. */
export const DialectSql = z.union([
  z.string().min(1),
  z
    .strictObject(
      Object.fromEntries(DIALECTS.map((d) => [d, z.string().min(1).optional()])) as Record<
        Dialect,
        z.ZodOptional<z.ZodString>
      >,
    )
    .refine((o) => Object.keys(o).length > 0, {
      error: `give the SQL for at least one dialect (${DIALECTS.join(', ')})`,
    }),
]);
export type DialectSql = z.infer<typeof DialectSql>;

const Text = z.string();
const FormatCode = z
  .string()
  .min(1)
  .meta({
    description: 'Display format: a spreadsheet number-format code (as in Google Sheets and Excel)',
    examples: ['yyyy-mm-dd', '#,##0.00', '$#,##0', '0.0%', '@'],
  });

/*
 * Descriptions and examples below (`.meta`) feed the JSON Schemas editors use (`strata schema`);
 * they change nothing in validation. Names that refer to another definition get their own
 * schema object (SourceName, InputName) so that a project's schema can replace them by the
 * project's real names.
 */

/**
 * The name of a source (`from:` of an input, `to:` of a join). Used as is, never re-described:
 * the project schema finds references by these objects' identity.
 */
export const SourceName = Name.meta({
  description:
    'The name of a source (definitions/sources/*.yaml); an input reads one row per its row unless measures group',
});
/** The name of an input (`input:` of a tracker). */
export const InputName = Name.meta({
  description: 'The name of an input (definitions/inputs/*.yaml) this tracker keeps fresh',
});

export const FieldDefinition = z.strictObject({
  name: Name.meta({ description: 'The field name, referenced everywhere as source.field' }),
  type: FieldType.meta({ description: 'Drives SQL casts, destination cell types and filter validation' }),
  label: Text.meta({ description: 'Default column header (default: the humanized name)' }).optional(),
  description: Text.meta({
    description: 'Shown in the catalog (`strata docs`, `GET /catalog`)',
  }).optional(),
  sql: DialectSql.meta({
    description:
      "An SQL expression over this source's own columns (default: the column of the same name); one string, or one per dialect",
    examples: ['runtime_seconds / 60', { duckdb: 'upper(title[1])', trino: 'upper(substr(title, 1, 1))' }],
  }).optional(),
  format: FormatCode.optional(),
});
export type FieldDefinition = z.infer<typeof FieldDefinition>;

export const AGGREGATES = ['count', 'count_distinct', 'sum', 'avg', 'min', 'max'] as const;
export const Aggregate = z.enum(AGGREGATES);
export type Aggregate = z.infer<typeof Aggregate>;

export const MeasureDefinition = z
  .strictObject({
    name: Name.meta({
      description: 'The measure name, referenced as source.measure and in `{name}` of expressions',
    }),
    label: Text.meta({ description: 'Default column header (default: the humanized name)' }).optional(),
    description: Text.meta({
      description: 'Shown in the catalog (`strata docs`, `GET /catalog`)',
    }).optional(),
    format: FormatCode.optional(),
    type: FieldType.meta({
      description: 'The type of the result (default: inferred from the aggregate and its column)',
    }).optional(),
    aggregate: Aggregate.meta({
      description: 'How the measure aggregates (or give `expression`)',
    }).optional(),
    sql: DialectSql.meta({
      description: "The value to aggregate: an expression over the source's own columns",
      examples: ['budget_usd'],
    }).optional(),
    filter: DialectSql.meta({
      description: 'A conditional aggregate: only rows matching this condition count',
      examples: ["status = 'active'"],
    }).optional(),
    expression: z
      .string()
      .min(1)
      .meta({
        description: 'A derived measure over other measures, computed after aggregation',
        examples: ['{total_budget} / NULLIF({movie_count}, 0)'],
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.aggregate === undefined && m.expression === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a measure needs `aggregate` or `expression`', path: [] });
    }
    if (m.aggregate !== undefined && m.expression !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a measure has either `aggregate` or `expression`, not both',
        path: ['expression'],
      });
    }
    if (m.expression !== undefined) {
      for (const key of ['sql', 'filter'] as const) {
        if (m[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `a derived measure (expression) takes no \`${key}\``,
            path: [key],
          });
        }
      }
    }
    if (m.aggregate !== undefined && m.aggregate !== 'count' && m.sql === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `aggregate ${m.aggregate} needs \`sql\` (the value to aggregate)`,
        path: ['aggregate'],
      });
    }
  });
export type MeasureDefinition = z.infer<typeof MeasureDefinition>;

export const RELATIONSHIPS = ['many_to_one', 'one_to_one', 'one_to_many'] as const;
export const Relationship = z.enum(RELATIONSHIPS);
export type Relationship = z.infer<typeof Relationship>;

export const JoinDefinition = z.strictObject({
  to: SourceName,
  relationship: Relationship.meta({ description: 'Declared once, on either side; usable both ways' }),
  on: z
    .record(Name, Name)
    .meta({
      description: "Pairs of fields: this source's field: the other source's field",
      examples: [{ movie_id: 'movie_id' }],
    })
    .refine((o) => Object.keys(o).length > 0, {
      error: 'pair at least one field: { my_field: their_field }',
    }),
});
export type JoinDefinition = z.infer<typeof JoinDefinition>;

export const CdcDefinition = z.strictObject({
  orderBy: z
    .array(z.string().min(1))
    .min(1)
    .meta({
      description: "Columns of the raw table: a key's row with the greatest tuple is its latest",
      examples: [['_seq']],
    }),
  deletedWhen: z
    .string()
    .min(1)
    .meta({
      description: 'A condition over the raw columns: a key whose latest row matches it is deleted',
      examples: ["_op = 'd'"],
    })
    .optional(),
});
export type CdcDefinition = z.infer<typeof CdcDefinition>;

export const AccessDefinition = z.strictObject({
  roles: z
    .array(Name)
    .meta({
      description:
        'The roles that read the source; without a row filter, every row. A source with `roles` or `rowFilters` is readable by these roles and those with a row filter only',
    })
    .optional(),
  fields: z
    .record(Name, z.array(Name))
    .meta({
      description: 'A field or measure: the only roles that read it (and what is computed from it)',
      examples: [{ budget_usd: ['finance'] }],
    })
    .optional(),
  rowFilters: z
    .array(
      z.strictObject({
        role: Name.meta({ description: 'The role this condition applies to' }),
        filter: z
          .string()
          .min(1)
          .meta({
            description:
              "The rows the role reads: a condition over the source's columns; {user.<attribute>} is the caller's",
            examples: ['vendor_id = {user.vendor_id}'],
          }),
      }),
    )
    .meta({ description: 'A role with row filters reads the rows that pass any of them' })
    .optional(),
});
export type AccessDefinition = z.infer<typeof AccessDefinition>;

export const SourceDefinition = z
  .strictObject({
    name: Name.meta({ description: 'The source name: ^[a-z][a-z0-9_]*$' }),
    description: Text.meta({
      description: 'Shown in the catalog (`strata docs`, `GET /catalog`)',
    }).optional(),
    owner: Text.meta({ description: 'Who answers for it (an email)' }).optional(),
    table: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$/, {
        error: 'must be table, schema.table or catalog.schema.table',
      })
      .meta({
        description: 'The table read: schema.table or catalog.schema.table (or give `sql`)',
        examples: ['studio.movie'],
      })
      .optional(),
    sql: z
      .string()
      .min(1)
      .meta({
        description: 'Exactly one SELECT, instead of `table`',
        examples: ['SELECT * FROM studio.movie WHERE NOT is_test'],
      })
      .optional(),
    primaryKey: z
      .union([Name, z.array(Name).min(1)])
      .meta({
        description: 'A field or a list of fields; required with measures and cdc',
        examples: [['movie_id']],
      })
      .optional(),
    cdc: CdcDefinition.meta({
      description: '`table` is a raw append-only CDC table: read its latest row per primaryKey',
    }).optional(),
    fields: z.array(FieldDefinition).min(1).meta({ description: 'The fields (dimensions) of the source' }),
    measures: z.array(MeasureDefinition).meta({ description: 'Aggregates over the source' }).optional(),
    joins: z.array(JoinDefinition).meta({ description: 'Joins to other sources' }).optional(),
    access: AccessDefinition.meta({
      description: 'Who may read the source, its fields and rows (absent: every caller)',
    }).optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.table === undefined) === (s.sql === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a source reads either `table` or `sql` (exactly one)',
        path: [],
      });
    }
    if (s.cdc !== undefined && s.primaryKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a `cdc:` source needs `primaryKey` (the key whose latest row wins)',
        path: ['cdc'],
      });
    }
  });
export type SourceDefinition = z.infer<typeof SourceDefinition>;

/** `source.field` (or `source.measure`). */
export const FieldRef = z
  .string()
  .regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, { error: 'must be source.field (for example movie.title)' })
  .meta({ description: 'A field or measure, as source.field', examples: ['movie.title'] });

export const GRANULARITIES = ['day', 'week', 'month', 'quarter', 'year'] as const;
export const Granularity = z.enum(GRANULARITIES);
export type Granularity = z.infer<typeof Granularity>;

const Via = z.array(Name).min(1);

/** `filters:` beside `per:` on a measure; a function, since Filter is defined further down. */
function measureRowFilters() {
  return z
    .array(FilterDefinition)
    .min(1)
    .meta({
      description: "With per: the rows the measure is computed over, as filters from the measure's source",
    })
    .optional();
}

export const FieldSelectionObject = z.strictObject({
  field: FieldRef,
  label: Text.meta({ description: "The column header (default: the field's label)" }).optional(),
  format: FormatCode.optional(),
  granularity: Granularity.meta({
    description: 'A date or timestamp field truncated to this unit',
  }).optional(),
  as: Name.meta({
    description:
      'The output column name (default: the field name, or source_field when two selected fields share it)',
  }).optional(),
  via: Via.meta({
    description:
      'Sources the join path passes through, in order, when more than one shortest path reaches the field',
    examples: [['movie']],
  }).optional(),
  per: Name.meta({
    description:
      "A measure as a dimension: its value per row of this source (which the measure's source joins many-to-one), e.g. customers grouped by their number of orders; 0 for a count without rows",
    examples: ['customer'],
  }).optional(),
  get filters() {
    return measureRowFilters();
  },
});
export interface FieldSelectionObject {
  field: string;
  label?: string;
  format?: string;
  granularity?: Granularity;
  as?: string;
  via?: string[];
  per?: string;
  filters?: FilterDefinition[];
}
export const FieldSelection = z.union([FieldRef, FieldSelectionObject]);
export type FieldSelection = string | FieldSelectionObject;

export const FILTER_OPS = [
  'equals',
  'not_equals',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'contains',
  'starts_with',
  'ends_with',
  'like',
  'is_null',
  'is_not_null',
  'in_last',
  'in_next',
] as const;
export const FilterOp = z.enum(FILTER_OPS);
export type FilterOp = z.infer<typeof FilterOp>;

export const Scalar = z.union([z.string(), z.number(), z.boolean()]);
export type Scalar = z.infer<typeof Scalar>;

export const GroupAggregate = z.enum(['max', 'min', 'avg', 'sum']);
export type GroupAggregate = z.infer<typeof GroupAggregate>;

/** A measure computed apart from the query, per one source's row or over all rows (issue 13 part 4). */
export interface MeasureAtGrainRef {
  measure: string;
  per?: string;
  via?: string[];
  groupBy?: string;
  aggregate?: GroupAggregate;
  filters?: FilterDefinition[];
  times?: number;
}

// Named, since the JSON Schema draws it out as a definition of its own (it refers back to Filter).
export const MeasureAtGrainRef: z.ZodType<MeasureAtGrainRef> = z
  .strictObject({
    measure: FieldRef.meta({
      description:
        'The measure (source.measure), computed on its own: over the rows of its source that `filters` keeps, not the query',
      examples: ['lineitem.avg_qty'],
    }),
    per: Name.meta({
      description:
        "Computed per row of this source, which the measure's source joins many-to-one: the value for the joined row's one (NULL without one). Without per: over all rows",
      examples: ['part'],
    }).optional(),
    via: Via.meta({
      description:
        "With per: the sources the query's join path to that source passes through, when more than one shortest path reaches it",
      examples: [['customer']],
    }).optional(),
    groupBy: Name.meta({
      description:
        "Computed per row of this source (which the measure's source joins many-to-one), then `aggregate` of those values: the highest revenue of any supplier is groupBy: supplier, aggregate: max",
      examples: ['supplier'],
    }).optional(),
    aggregate: GroupAggregate.meta({
      description: 'With groupBy: how the values per group become one (max, min, avg, sum)',
    }).optional(),
    get filters() {
      return z
        .array(FilterDefinition)
        .min(1)
        .meta({
          description:
            "The rows the measure is computed over, as an input's filters from the measure's source (fields only)",
        })
        .optional();
    },
    times: z
      .number()
      .meta({ description: 'Multiply the measure by this factor (0.2: a fifth of it)', examples: [0.2] })
      .optional(),
  })
  .meta({
    id: 'MeasureAtGrain',
    description: 'A measure at another grain: per a source the measure joins many-to-one, or over all rows',
  });

export type ValueFromRef = string | { field: string; via?: string[] } | MeasureAtGrainRef;

export const ValueFromRef: z.ZodType<ValueFromRef> = z
  .union([
    FieldRef,
    z.strictObject({
      field: FieldRef,
      via: Via.meta({
        description: 'Sources the join path to this field passes through, in order',
        examples: [['supplier']],
      }).optional(),
    }),
    MeasureAtGrainRef,
  ])
  .meta({
    description:
      'Compare with another field (a measure with another measure) on the same joined row, instead of value/values/param: `source.field`, or `{ field, via }` when it needs its own join path; or with a measure at another grain, `{ measure, per, filters, times }`. Ops equals, not_equals, gt, gte, lt, lte; the types must be comparable; NULL on either side does not match',
    examples: [
      'supplier.s_nationkey',
      { field: 'nation.n_name', via: ['supplier'] },
      { measure: 'lineitem.avg_qty', per: 'part', times: 0.2 },
    ],
  });

export interface FilterAtom {
  field: string;
  op: FilterOp;
  value?: Scalar;
  values?: Scalar[];
  param?: string;
  valueFrom?: ValueFromRef;
  via?: string[];
  per?: string;
  filters?: FilterDefinition[];
}

export const FilterAtom: z.ZodType<FilterAtom> = z.strictObject({
  field: FieldRef,
  op: FilterOp,
  value: Scalar.meta({
    description: 'The value compared with (in_last/in_next: N day|week|month|year)',
    examples: ['active', '90 days'],
  }).optional(),
  values: z.array(Scalar).meta({ description: 'in/not_in: the values; between: [low, high]' }).optional(),
  param: Name.meta({ description: 'Compare with this parameter of the input (params:)' }).optional(),
  valueFrom: ValueFromRef.optional(),
  via: Via.optional(),
  per: Name.meta({
    description:
      "On a measure: filter rows by its value per row of this source (which the measure's source joins many-to-one), e.g. lines whose order has more than one supplier",
    examples: ['orders'],
  }).optional(),
  get filters() {
    return measureRowFilters();
  },
});

export interface AnyFilter {
  any: FilterDefinition[];
}
export interface AllFilter {
  all: FilterDefinition[];
}
export interface NotFilter {
  not: FilterDefinition;
}
export type FilterDefinition = FilterAtom | AnyFilter | AllFilter | NotFilter;

export const AnyFilter: z.ZodType<AnyFilter> = z.strictObject({
  get any() {
    return z
      .array(FilterDefinition)
      .min(1)
      .meta({ description: 'A group of filters, ORed: one of them must hold' });
  },
});
export const AllFilter: z.ZodType<AllFilter> = z.strictObject({
  get all() {
    return z
      .array(FilterDefinition)
      .min(1)
      .meta({ description: 'A group of filters, ANDed: all of them must hold (useful inside `any`)' });
  },
});
// Named, since the JSON Schema draws it out as a definition of its own (the cycle back to Filter).
export const NotFilter: z.ZodType<NotFilter> = z
  .strictObject({
    get not() {
      return FilterDefinition.meta({
        description:
          'The negation of a filter or group; a comparison with NULL stays unknown and does not match',
      });
    },
  })
  .meta({ id: 'NotFilter', description: 'A negated filter or group' });
// The id names the recursive definition in the JSON Schema (`#/definitions/Filter`).
export const FilterDefinition: z.ZodType<FilterDefinition> = z
  .union([FilterAtom, AnyFilter, AllFilter, NotFilter])
  .meta({
    id: 'Filter',
    description:
      'A filter; filters are ANDed; `any:` ORs a group, `all:` ANDs one, `not:` negates a filter or group',
  });

/** A sort key: `source.field` or an output column name (so not an enum in a project's schema). */
export const SortField = z
  .string()
  .min(1)
  .meta({ description: 'A source.field or an output column name', examples: ['movie.title'] });
export const SortDefinition = z.union([
  SortField,
  z.strictObject({ field: SortField, direction: z.enum(['asc', 'desc']).optional() }),
]);
export type SortDefinition = z.infer<typeof SortDefinition>;

export const ParamDefinition = z.strictObject({
  type: FieldType.meta({
    description: "The value's type; it must compare with the fields the parameter filters",
  }),
  description: Text.optional(),
  default: z
    .union([Scalar, z.array(Scalar)])
    .meta({ description: 'The value when none is given (without it, a run must give one)' })
    .optional(),
});
export type ParamDefinition = z.infer<typeof ParamDefinition>;

export const InputDefinition = z.strictObject({
  name: Name.meta({ description: 'The input name: ^[a-z][a-z0-9_]*$' }),
  description: Text.meta({
    description: 'Shown in the catalog (`strata docs`, `GET /catalog`)',
  }).optional(),
  owner: Text.meta({ description: 'Who answers for it (an email)' }).optional(),
  from: SourceName,
  fields: z.array(FieldSelection).min(1).meta({
    description:
      'The output columns, in order: source.field or { field, label, format, granularity, as, via }',
  }),
  filters: z.array(FilterDefinition).meta({ description: 'Filters, ANDed; on a measure: HAVING' }).optional(),
  sort: z
    .array(SortDefinition)
    .meta({
      description:
        'Sort keys, in order: a source.field or output column, or { field, direction } (default asc)',
    })
    .optional(),
  limit: z.number().int().positive().meta({ description: 'At most this many rows' }).optional(),
  params: z
    .record(Name, ParamDefinition)
    .meta({
      description: 'Parameters that filters use (param:), set with --param or a tracker',
      examples: [{ country: { type: 'string', default: 'US' } }],
    })
    .optional(),
});
export type InputDefinition = z.infer<typeof InputDefinition>;

/**
 * A credential in strata.yaml: only ever a reference to the environment (`env:NAME`), so that
 * project files can be committed and shown without leaking a secret.
 */
const SecretReference = z.string().regex(/^env:[A-Za-z_][A-Za-z0-9_]*$/, {
  error: 'credentials come from the environment: write env:NAME (the variable holding it)',
});

/** A URL written inline may not carry a password; one that does must come from the environment. */
const UrlOrSecretReference = z
  .string()
  .min(1)
  .refine((value) => value.startsWith('env:') || !/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value), {
    error: 'this URL holds a password: put it in the environment and write env:NAME',
  });

/** `5m`, `30s`, `1h`, `500ms`: a statement timeout. */
export const DURATION_PATTERN = /^([0-9]+)(ms|s|m|h|d)$/;
const Duration = z.string().regex(DURATION_PATTERN, { error: 'a duration such as 30s, 5m, 1h or 90d' });

export function durationMs(text: string): number {
  const [, amount, unit] = DURATION_PATTERN.exec(text)!;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    unit as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(amount) * factor;
}

// ---- strata.yaml `auth:` (who may call `strata serve`; docs/auth.md) -----------------------

/** A caller attribute, as a row filter names it: `{user.<attribute>}`. */
export const CALLER_ATTRIBUTE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CallerAttribute = z.string().regex(CALLER_ATTRIBUTE_PATTERN, {
  error: 'an attribute name, as in {user.<attribute>}: letters, digits, _',
});

/**
 * Where a value sits in a token's claims: `roles`, `realm_access.roles`, or a namespaced claim
 * such as `https://example.com/roles` (a key with dots is matched whole before it is split).
 */
const ClaimPath = z.string().regex(/^[^\s.]+(\.[^\s.]+)*$/, {
  error: 'a claim path such as roles or realm_access.roles',
});

/**
 * A JWKS URL: https, or http to this machine only. Keys fetched over plain HTTP from elsewhere
 * could be swapped on the way, and whoever swaps them can sign any token.
 */
const JwksUrl = z.url().refine(
  (value) => {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
    );
  },
  { error: 'a JWKS URL must be https (http only to localhost)' },
);

export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;
/** Clock skew allowed on exp and nbf: small, so that an expired token stays expired. */
export const MAX_CLOCK_TOLERANCE_MS = 300_000;

export const JwtAuthConfig = z
  .strictObject({
    /** HS256: the shared secret, from the environment (at least 32 bytes). */
    secret: SecretReference.meta({
      description: 'HS256: the shared secret, from the environment (at least 32 bytes).',
    }).optional(),
    /** RS256 / ES256: the identity provider's public keys. */
    jwksUrl: JwksUrl.meta({ description: "RS256 / ES256: the identity provider's public keys." }).optional(),
    issuer: z
      .string()
      .min(1)
      .meta({ description: "The token's `iss` must equal it (required with jwksUrl)" })
      .optional(),
    audience: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .meta({ description: "The token's `aud` must hold one of these (required with jwksUrl)" })
      .optional(),
    /** Accepted algorithms (default HS256 with `secret`, RS256 and ES256 with `jwksUrl`). */
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .meta({
        description: 'Accepted algorithms (default HS256 with `secret`, RS256 and ES256 with `jwksUrl`).',
      })
      .optional(),
    /** Clock skew tolerated on exp and nbf (default 30s, at most 5m). */
    clockTolerance: Duration.refine(
      (d) => !DURATION_PATTERN.test(d) || durationMs(d) <= MAX_CLOCK_TOLERANCE_MS,
      { error: 'at most 5m: a larger tolerance keeps expired tokens valid' },
    )
      .meta({ description: 'Clock skew tolerated on exp and nbf (default 30s, at most 5m).' })
      .optional(),
    /** The claim holding the caller's roles: a list, or one string of roles (default `roles`). */
    roles: ClaimPath.meta({
      description: "The claim holding the caller's roles: a list, or one string of roles (default `roles`).",
    }).optional(),
    /** Caller attributes (for row filters) and the claim each comes from. */
    attributes: z
      .record(CallerAttribute, ClaimPath)
      .meta({ description: 'Caller attributes (for row filters) and the claim each comes from.' })
      .optional(),
  })
  .superRefine((jwt, ctx) => {
    if ((jwt.secret === undefined) === (jwt.jwksUrl === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'give either `secret` (HS256) or `jwksUrl` (RS256/ES256)',
        path: [],
      });
    // An identity provider signs tokens for every application it serves: without an issuer
    // and an audience, a token meant for another application would be accepted here.
    if (jwt.jwksUrl !== undefined)
      for (const key of ['issuer', 'audience'] as const)
        if (jwt[key] === undefined)
          ctx.addIssue({
            code: 'custom',
            message: `with jwksUrl, give \`${key}\`: the provider signs tokens for other applications too`,
            path: [],
          });
    const shared = jwt.secret !== undefined;
    for (const [i, algorithm] of (jwt.algorithms ?? []).entries())
      if (algorithm.startsWith('HS') !== shared)
        ctx.addIssue({
          code: 'custom',
          message: `${algorithm} does not go with ${shared ? '`secret`' : '`jwksUrl`'}`,
          path: ['algorithms', i],
        });
  });
export type JwtAuthConfig = z.infer<typeof JwtAuthConfig>;

export const AuthConfig = z.strictObject({
  /** Hashed API keys in a YAML or JSON file (relative to the project folder), re-read when it changes. */
  apiKeys: z
    .strictObject({
      file: z.string().min(1).meta({
        description:
          "The API key file: the entries `strata apikey create` prints, each with its key's SHA-256 hash",
      }),
    })
    .meta({
      description:
        'Hashed API keys in a YAML or JSON file (relative to the project folder), re-read when it changes.',
    })
    .optional(),
  jwt: JwtAuthConfig.meta({
    description: "Bearer JWTs: HS256 with `secret`, or RS256/ES256 with the provider's `jwksUrl`",
  }).optional(),
});
export type AuthConfig = z.infer<typeof AuthConfig>;

/**
 * How fresh a tracker stays. `staleAfter`: schedule intervals without a successful run after
 * which it is stale (default 2). `debounce`: the least time between the runs a change to its
 * tables triggers (`refresh: on_change`; default 5s). Per tracker, or for all in strata.yaml.
 */
export const Freshness = z.strictObject({
  staleAfter: z
    .number()
    .positive()
    .max(1000)
    .meta({
      description: 'Schedule intervals without a successful run after which a tracker is stale (default 2)',
    })
    .optional(),
  debounce: Duration.meta({
    description:
      'The least time between the runs that table changes trigger (refresh: on_change; default 5s)',
  }).optional(),
});

// ---- alerts (strata.yaml `alerts:`, a tracker's `alerts:`; docs/alerts.md) -----------------

export const CHANNEL_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;
const ChannelName = z.string().regex(CHANNEL_NAME_PATTERN, {
  error: 'a channel name: lower case letters, digits, _ and - (for example team-slack)',
});

/** The formats a webhook channel posts: Slack's incoming-webhook JSON, or Strata's own body. */
export const WEBHOOK_FORMATS = ['slack', 'generic'] as const;

/** A webhook: its URL is the credential (whoever has it can post), so it lives in the environment. */
export const WebhookChannel = z.strictObject({
  type: z.literal('webhook'),
  url: SecretReference.meta({ description: 'The webhook URL (whoever has it can post): always env:NAME' }),
  /** `slack`: text and blocks; `generic` (default): Strata's documented JSON body. */
  format: z
    .enum(WEBHOOK_FORMATS)
    .meta({ description: "`slack`: text and blocks; `generic` (default): Strata's documented JSON body." })
    .optional(),
});
export type WebhookChannel = z.infer<typeof WebhookChannel>;

/** Email over SMTP: the server's URL (it may hold a password) from the environment. */
export const EmailChannel = z.strictObject({
  type: z.literal('email'),
  /** `smtp://user:password@host:587` (STARTTLS when offered) or `smtps://...:465`. */
  smtp: SecretReference.meta({
    description: '`smtp://user:password@host:587` (STARTTLS when offered) or `smtps://...:465`.',
  }),
  from: z
    .email({ error: 'an email address such as strata@example.com' })
    .meta({ description: 'The sender address' }),
  /** Who receives every alert of this channel; may be empty when it only emails owners. */
  to: z
    .array(z.email({ error: 'an email address such as oncall@example.com' }))
    .meta({
      description: 'Who receives every alert of this channel; may be empty when it only emails owners.',
    })
    .optional(),
});
export type EmailChannel = z.infer<typeof EmailChannel>;

export const AlertChannel = z.discriminatedUnion('type', [WebhookChannel, EmailChannel]);
export type AlertChannel = z.infer<typeof AlertChannel>;

/** Failed runs in a row (failed or partial, skipped runs aside) that raise the consecutive-failures alert. */
const ConsecutiveFailures = z.number().int().min(0).max(1000);

export const ProjectAlerts = z
  .strictObject({
    /** Named channels: webhooks and email. */
    channels: z
      .record(ChannelName, AlertChannel)
      .meta({ description: 'Named channels: webhooks and email.' })
      .optional(),
    /** The channels of every tracker and pipeline that does not name its own (default: all of them). */
    notify: z
      .array(ChannelName)
      .meta({
        description:
          'The channels of every tracker and pipeline that does not name its own (default: all of them).',
      })
      .optional(),
    /** The email channel that emails owners (default: the first email channel); false: never. */
    owners: z
      .union([ChannelName, z.literal(false)])
      .meta({
        description: 'The email channel that emails owners (default: the first email channel); false: never.',
      })
      .optional(),
    /** Default N of the consecutive-failures alert (default 3; 0 turns it off). */
    consecutiveFailures: ConsecutiveFailures.meta({
      description: 'Default N of the consecutive-failures alert (default 3; 0 turns it off).',
    }).optional(),
    /** A pipeline table's audits in a row that found a mismatch before it alerts (default 2). */
    auditMismatches: z
      .number()
      .int()
      .min(1)
      .max(100)
      .meta({
        description: "A pipeline table's audits in a row that found a mismatch before it alerts (default 2).",
      })
      .optional(),
    /** How often `strata serve` checks staleness, paused pipelines and audits (default 60s). */
    evaluateEvery: Duration.meta({
      description: 'How often `strata serve` checks staleness, paused pipelines and audits (default 60s).',
    }).optional(),
    /** Delivery: attempts per channel (default 4, with backoff) and one request's deadline (default 10s). */
    delivery: z
      .strictObject({
        attempts: z
          .number()
          .int()
          .min(1)
          .max(10)
          .meta({ description: 'Attempts per channel and event, with backoff (default 4)' })
          .optional(),
        timeout: Duration.meta({ description: "One request's deadline (default 10s)" }).optional(),
      })
      .meta({
        description: 'How alerts are sent: attempts per channel (default 4) and deadline (default 10s)',
      })
      .optional(),
  })
  .superRefine((alerts, ctx) => {
    const channels = alerts.channels ?? {};
    const names = Object.keys(channels);
    for (const [i, name] of (alerts.notify ?? []).entries())
      if (!channels[name])
        ctx.addIssue({ code: 'custom', message: unknownChannel(name, names), path: ['notify', i] });
    if (typeof alerts.owners === 'string') {
      const channel = channels[alerts.owners];
      if (!channel)
        ctx.addIssue({ code: 'custom', message: unknownChannel(alerts.owners, names), path: ['owners'] });
      else if (channel.type !== 'email')
        ctx.addIssue({
          code: 'custom',
          message: `'${alerts.owners}' is a ${channel.type} channel: owners are emailed through an email channel`,
          path: ['owners'],
        });
    }
  });
export type ProjectAlerts = z.infer<typeof ProjectAlerts>;

/** "unknown alert channel 'x' (channels: a, b)": one message for strata.yaml and trackers alike. */
export function unknownChannel(name: string, known: readonly string[]): string {
  return `unknown alert channel '${name}' (${known.length > 0 ? `channels: ${known.join(', ')}` : 'strata.yaml declares no alerts.channels'})`;
}

/** A tracker's own alert settings; anything left out comes from strata.yaml `alerts:`. */
export const TrackerAlerts = z.strictObject({
  /** false: this tracker never alerts (default true). */
  enabled: z.boolean().meta({ description: 'false: this tracker never alerts (default true).' }).optional(),
  /** Its channels, instead of strata.yaml `alerts.notify`. */
  channels: z
    .array(ChannelName)
    .meta({ description: 'Its channels, instead of strata.yaml `alerts.notify`.' })
    .optional(),
  /** Email the tracker's `owner` (when it is an email address) through the owners' channel (default true). */
  owner: z
    .boolean()
    .meta({
      description:
        "Email the tracker's `owner` (when it is an email address) through the owners' channel (default true).",
    })
    .optional(),
  /** Alert on a failed (or partial) run (default true). */
  failedRun: z
    .boolean()
    .meta({ description: 'Alert on a failed (or partial) run (default true).' })
    .optional(),
  /** Its N of the consecutive-failures alert (0: off). */
  consecutiveFailures: ConsecutiveFailures.meta({
    description: 'Its N of the consecutive-failures alert (0: off).',
  }).optional(),
  /** Alert when it goes stale (default true). */
  stale: z.boolean().meta({ description: 'Alert when it goes stale (default true).' }).optional(),
});
export type TrackerAlerts = z.infer<typeof TrackerAlerts>;

/** `strata.yaml`: how to reach the engines. Everything optional: the embedded DuckDB is the default. */
/** A maintenance cron (5 fields, or 6 with seconds), or `off` for no scheduled maintenance. */
const MaintenanceSchedule = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    if (value === 'off') return;
    const problem = cronProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `invalid cron schedule '${value}': ${problem}` });
  });

/** What can be set per table, and project-wide as the default. */
const maintenanceFields = {
  /** When `strata serve` schedules the table's maintenance (default '0 3 * * *', daily at 03:00). */
  schedule: MaintenanceSchedule.meta({
    description:
      "When `strata serve` schedules the table's maintenance (default '0 3 * * *', daily at 03:00).",
  }).optional(),
  /** Snapshots and orphan files older than this are removed (default 7d; at least 1h). */
  retention: Duration.meta({
    description: 'Snapshots and orphan files older than this are removed (default 7d; at least 1h).',
  }).optional(),
  /** Deletes younger than this (by `_op_ts`) stay in compacted files as tombstones (default 30d). */
  tombstoneRetention: Duration.meta({
    description:
      'Deletes younger than this (by `_op_ts`) stay in compacted files as tombstones (default 30d).',
  }).optional(),
};

export const MaintenanceConfig = z
  .strictObject({
    ...maintenanceFields,
    /** The schedules' time zone (default UTC). */
    timezone: z
      .string()
      .min(1)
      .refine(isValidTimeZone, { error: 'unknown time zone (an IANA name such as Europe/Paris)' })
      .meta({ description: "The schedules' IANA time zone (default UTC)", examples: ['Europe/Paris'] })
      .optional(),
    /** Per table (`namespace.table`, or the name of the CDC source reading it): overrides of the above. */
    tables: z
      .record(z.string().min(1), z.strictObject(maintenanceFields))
      .meta({
        description:
          'Per table (`namespace.table`, or the name of the CDC source reading it): overrides of the above.',
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    const check = (retention: string | undefined, path: (string | number)[]) => {
      if (
        retention !== undefined &&
        DURATION_PATTERN.test(retention) &&
        durationMs(retention) < MIN_MAINTENANCE_RETENTION_MS
      )
        ctx.addIssue({
          code: 'custom',
          message:
            'retention must be at least 1h: a shorter one could delete files a commit in progress is about to reference',
          path,
        });
    };
    check(m.retention, ['retention']);
    for (const [table, options] of Object.entries(m.tables ?? {}))
      check(options.retention, ['tables', table, 'retention']);
  });
export type MaintenanceConfig = z.infer<typeof MaintenanceConfig>;
/** The shortest retention maintenance accepts (orphan files younger may belong to a commit in progress). */
export const MIN_MAINTENANCE_RETENTION_MS = 3600_000;

export const ProjectConfig = z.strictObject({
  engine: EngineName.meta({ description: 'The engine queries run on (default duckdb, embedded)' }).optional(),
  dialect: Dialect.meta({ description: 'The default dialect of `strata compile`' }).optional(),
  duckdb: z
    .strictObject({
      database: z
        .string()
        .min(1)
        .meta({ description: 'A DuckDB file whose tables are readable beside the Iceberg ones' })
        .optional(),
    })
    .meta({ description: 'The embedded DuckDB engine (`engine: duckdb`)' })
    .optional(),
  /** Where tracker runs are recorded: SQLite (default `.strata/runs.db`) or PostgreSQL. */
  runs: z
    .strictObject({
      store: z
        .enum(['sqlite', 'postgres'])
        .meta({ description: 'sqlite (`path`, the default) or postgres (`connection`)' })
        .optional(),
      path: z
        .string()
        .min(1)
        .meta({ description: 'sqlite: the database file, relative to the project (default .strata/runs.db)' })
        .optional(),
      connection: SecretReference.meta({
        description: 'postgres: the URL (default env:STRATA_RUNS_DATABASE_URL)',
      }).optional(),
      /** Runs older than this are deleted as new ones are recorded (default 90d). */
      retention: Duration.meta({
        description: 'Runs older than this are deleted as new ones are recorded (default 90d).',
      }).optional(),
    })
    .meta({ description: 'Where tracker runs are recorded (`strata runs`)' })
    .optional(),
  /** Trackers' freshness: when one is stale, and how quickly on_change ones follow changes. */
  freshness: Freshness.meta({
    description: "Trackers' freshness: when one is stale, and how quickly on_change ones follow changes.",
  }).optional(),
  /** `strata serve`: where it listens (127.0.0.1 unless said otherwise). */
  serve: z
    .strictObject({
      host: z
        .string()
        .min(1)
        .meta({ description: 'The address `strata serve` listens on (default 127.0.0.1)' })
        .optional(),
    })
    .meta({ description: '`strata serve`: where it listens (127.0.0.1 unless said otherwise).' })
    .optional(),
  /** `GET /metrics` of `strata serve` and `strata worker` (docs/metrics.md). */
  metrics: z
    .strictObject({
      /** Scrapers must send `Authorization: Bearer <token>` (always env:NAME); without it /metrics is open. */
      token: SecretReference.meta({
        description:
          'Scrapers must send `Authorization: Bearer <token>` (always env:NAME); without it /metrics is open.',
      }).optional(),
      /** `strata worker`: serve /metrics on this port (off unless set here or by `--metrics-port`). */
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .meta({
          description:
            '`strata worker`: serve /metrics on this port (off unless set here or by `--metrics-port`).',
        })
        .optional(),
      /** `strata worker`: where its metrics server listens (default 127.0.0.1). */
      host: z
        .string()
        .min(1)
        .meta({ description: '`strata worker`: where its metrics server listens (default 127.0.0.1).' })
        .optional(),
    })
    .meta({ description: '`GET /metrics` of `strata serve` and `strata worker` (docs/metrics.md)' })
    .optional(),
  /** The GraphQL API's protections and resources (docs/graphql.md). */
  graphql: z
    .strictObject({
      /** Deepest nesting of a query's selections (default 10). */
      maxDepth: z
        .number()
        .int()
        .positive()
        .meta({ description: "Deepest nesting of a query's selections (default 10)." })
        .optional(),
      /** SQL statements one request may cost: one per level of a typed query, one per run (default 20). */
      maxStatements: z
        .number()
        .int()
        .positive()
        .meta({
          description:
            'SQL statements one request may cost: one per level of a typed query, one per run (default 20).',
        })
        .optional(),
      /** Rows one level may return; more is an error asking for a limit (default 10000). */
      maxRows: z
        .number()
        .int()
        .positive()
        .meta({
          description: 'Rows one level may return; more is an error asking for a limit (default 10000).',
        })
        .optional(),
      /** A request running longer is cancelled, its queries interrupted (default 30s). */
      timeout: Duration.meta({
        description: 'A request running longer is cancelled, its queries interrupted (default 30s).',
      }).optional(),
      /** Engines (connections) that run API queries side by side (default 2). */
      engines: z
        .number()
        .int()
        .min(1)
        .max(64)
        .meta({ description: 'Engines (connections) that run API queries side by side (default 2).' })
        .optional(),
      /** Answers kept in the result cache (default 1000; 0 turns it off). */
      cacheEntries: z
        .number()
        .int()
        .min(0)
        .meta({ description: 'Answers kept in the result cache (default 1000; 0 turns it off).' })
        .optional(),
      /** Requests per credential per window, counted in Redis across every service (default 600 per 1m). */
      rateLimit: z
        .strictObject({
          requests: z.number().int().positive().meta({ description: 'Requests allowed per window' }),
          per: Duration.meta({ description: 'The window' }),
        })
        .meta({
          description:
            'Requests per credential per window, counted in Redis across every service (default 600 per 1m).',
        })
        .optional(),
    })
    .meta({ description: "The GraphQL API's limits, engines, cache and rate limit (docs/graphql.md)" })
    .optional(),
  /** Redis for `strata serve` / `strata worker` (scheduling, shared rate limits). */
  redis: z
    .strictObject({
      url: UrlOrSecretReference.meta({
        description:
          'A redis:// URL, or env:NAME when it holds a password (default: REDIS_URL, then redis://127.0.0.1:6379)',
      }).optional(),
    })
    .meta({ description: 'Redis for `strata serve` / `strata worker` (scheduling, shared rate limits).' })
    .optional(),
  /** The embedded Iceberg warehouse: data and metadata under `root`, tables registered in a SQL catalog. */
  warehouse: z
    .strictObject({
      root: z
        .string()
        .min(1)
        .meta({ description: 'Data and metadata files, relative to the project (default .strata/warehouse)' })
        .optional(),
      catalog: z
        .enum(['sqlite', 'postgres'])
        .meta({ description: 'The SQL catalog: sqlite (`path`, the default) or postgres (`connection`)' })
        .optional(),
      path: z
        .string()
        .min(1)
        .meta({
          description: 'sqlite: the catalog file, relative to the project (default .strata/catalog.db)',
        })
        .optional(),
      connection: SecretReference.meta({
        description: 'postgres: the catalog database URL (default env:STRATA_CATALOG_URL)',
      }).optional(),
      name: z
        .string()
        .min(1)
        .meta({
          description: 'The catalog name, as Trino, Spark or pyiceberg would configure it (default strata)',
        })
        .optional(),
    })
    .meta({
      description:
        'The embedded Iceberg warehouse: data files under `root`, tables registered in a SQL catalog',
    })
    .optional(),
  postgres: z
    .strictObject({
      connection: SecretReference.meta({
        description: 'The postgres:// URL (default: DATABASE_URL and the PG* variables)',
      }).optional(),
      schema: z
        .string()
        .min(1)
        .meta({ description: 'The search_path: schemas, comma-separated', examples: ['reporting'] })
        .optional(),
      /** `SET ROLE` after connecting: queries run with that role's privileges only. */
      role: z
        .string()
        .min(1)
        .meta({ description: "`SET ROLE` after connecting: queries run with that role's privileges only." })
        .optional(),
      /** Statements running longer are cancelled (default 10m). */
      statementTimeout: Duration.meta({
        description: 'Statements running longer are cancelled (default 10m).',
      }).optional(),
    })
    .meta({ description: 'PostgreSQL (`engine: postgres`): sessions are read-only' })
    .optional(),
  /** MySQL 8 or MariaDB 10.11+ (`engine: mysql`): `connection` names the variable holding a mysql:// URL. */
  mysql: z
    .strictObject({
      connection: SecretReference.meta({ description: 'The mysql:// URL (default: MYSQL_URL)' }).optional(),
      /** Statements running longer are cancelled (default 10m). */
      statementTimeout: Duration.meta({
        description: 'Statements running longer are cancelled (default 10m).',
      }).optional(),
    })
    .meta({ description: 'MySQL 8 or MariaDB 10.11+ (`engine: mysql`): sessions are read-only' })
    .optional(),
  trino: z
    .strictObject({
      server: UrlOrSecretReference.meta({
        description: 'The coordinator URL (STRATA_TRINO_SERVER wins)',
        examples: ['http://trino:8080'],
      }).optional(),
      catalog: z
        .string()
        .min(1)
        .meta({ description: 'The default catalog (STRATA_TRINO_CATALOG wins)' })
        .optional(),
      schema: z
        .string()
        .min(1)
        .meta({ description: 'The default schema (STRATA_TRINO_SCHEMA wins)' })
        .optional(),
      user: z
        .string()
        .min(1)
        .meta({ description: 'The user queries run as; required (STRATA_TRINO_USER wins)' })
        .optional(),
      password: SecretReference.meta({
        description: 'Basic authentication (STRATA_TRINO_PASSWORD wins)',
      }).optional(),
      /** Trino's query_max_execution_time for Strata's queries (default 10m). */
      statementTimeout: Duration.meta({
        description: "Trino's query_max_execution_time for Strata's queries (default 10m).",
      }).optional(),
    })
    .meta({
      description: 'Trino (`engine: trino`); each setting may also come from a STRATA_TRINO_* variable',
    })
    .optional(),
  /** `strata serve`: API keys and JWTs (docs/auth.md). Without it the service serves only /health. */
  auth: AuthConfig.meta({
    description:
      '`strata serve`: API keys and JWTs (docs/auth.md). Without it the service serves only /health.',
  }).optional(),
  /** Warehouse maintenance: `strata maintain` and the schedules `strata serve` keeps (docs/warehouse.md). */
  maintenance: MaintenanceConfig.meta({
    description:
      'Warehouse maintenance: `strata maintain` and the schedules `strata serve` keeps (docs/warehouse.md).',
  }).optional(),
  /** Alerts on failed runs, stale trackers, paused pipelines and audit mismatches (docs/alerts.md). */
  alerts: ProjectAlerts.meta({
    description:
      'Alerts on failed runs, stale trackers, paused pipelines and audit mismatches (docs/alerts.md).',
  }).optional(),
});
export type ProjectConfig = z.infer<typeof ProjectConfig>;

// ---- trackers (trackers/*.yaml) -----------------------------------------------------------

export const TrackerName = z.string().regex(TRACKER_NAME_PATTERN, {
  error: 'must match ^[a-z][a-z0-9_-]*$ (lower case letters, digits, _ and -)',
});

/** A value that may be written inline or as `env:NAME` (credentials must use env:). */
const ValueOrEnv = z.string().min(1);
const ColumnNames = z.array(z.string().min(1)).min(1);

export const SYNC_MODES = ['replace', 'upsert', 'append'] as const;
export const SyncMode = z.enum(SYNC_MODES);
export type SyncMode = z.infer<typeof SyncMode>;
export const OnMissing = z.enum(['delete', 'keep']);
export type OnMissing = z.infer<typeof OnMissing>;

const modeFields = {
  mode: SyncMode.meta({
    description:
      'replace: make it equal to the result; upsert: update rows in place by `key`; append: add the rows (default replace; Airtable with a `key`: upsert)',
  }).optional(),
  key: ColumnNames.meta({
    description: 'Output column names that identify a row; required for upsert (and for an Airtable replace)',
    examples: [['title', 'start_date']],
  }).optional(),
  onMissing: OnMissing.meta({
    description: 'upsert: delete or keep (default) the rows whose key is no longer in the result',
  }).optional(),
};

export const GoogleSheetsDestination = z.strictObject({
  type: z.literal('google_sheets'),
  spreadsheetId: ValueOrEnv.meta({
    description: "The spreadsheet's id (from its URL), inline or env:NAME",
    examples: ['env:STRATA_DEMO_SPREADSHEET_ID'],
  }),
  sheet: z.string().min(1).meta({ description: 'The tab written; created when missing' }),
  ...modeFields,
});
export type GoogleSheetsDestination = z.infer<typeof GoogleSheetsDestination>;

export const AirtableDestination = z.strictObject({
  type: z.literal('airtable'),
  baseId: ValueOrEnv.meta({ description: "The base's id, inline or env:NAME", examples: ['appAbC123'] }),
  table: z.string().min(1).meta({ description: "The base's table; fields are named by the columns' labels" }),
  ...modeFields,
});
export type AirtableDestination = z.infer<typeof AirtableDestination>;

export const TableDestination = z.strictObject({
  type: z.literal('table'),
  connection: ValueOrEnv.meta({
    description: 'The database URL (PostgreSQL): always env:NAME, since it holds credentials',
    examples: ['env:BI_DATABASE_URL'],
  }),
  table: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, { error: 'must be table or schema.table' })
    .meta({ description: 'The typed table written', examples: ['trackers.movie_status'] }),
  ...modeFields,
});
export type TableDestination = z.infer<typeof TableDestination>;

export const FileDestination = z.strictObject({
  type: z.literal('file'),
  path: z
    .string()
    .min(1)
    .meta({
      description: 'The file written, relative to the project',
      examples: ['exports/movie_status.parquet'],
    }),
  format: z
    .enum(['csv', 'json', 'parquet'])
    .meta({ description: "The file's format (default: from the extension of `path`)" })
    .optional(),
  /** csv: prefix text cells that start with = + - @ (read as formulas by spreadsheets) with '; default true. */
  escapeFormulas: z
    .boolean()
    .meta({
      description:
        "csv: prefix text cells that start with = + - @ (read as formulas by spreadsheets) with '; default true.",
    })
    .optional(),
  mode: z.literal('replace').meta({ description: 'A file is always replaced' }).optional(),
});
export type FileDestination = z.infer<typeof FileDestination>;

export const DestinationDefinition = z.discriminatedUnion('type', [
  GoogleSheetsDestination,
  AirtableDestination,
  TableDestination,
  FileDestination,
]);
export type DestinationDefinition = z.infer<typeof DestinationDefinition>;

/** The caller a tracker reads as (access policies): roles, and the attributes row filters use. */
export const RunAs = z.strictObject({
  roles: z.array(Name).min(1).meta({ description: "The caller's roles" }),
  attributes: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'an attribute name: letters, digits, _' }),
      Scalar,
    )
    .meta({
      description: 'The values row filters read as {user.<attribute>}',
      examples: [{ region: 'EMEA' }],
    })
    .optional(),
});
export type RunAs = z.infer<typeof RunAs>;

export const TrackerDefinition = z.strictObject({
  name: TrackerName.meta({ description: 'The tracker name: ^[a-z][a-z0-9_-]*$' }),
  description: z
    .string()
    .meta({ description: 'Shown in the catalog (`strata docs`, `GET /catalog`)' })
    .optional(),
  owner: z
    .string()
    .meta({ description: 'Who answers for it; an email address is emailed when it fails or goes stale' })
    .optional(),
  input: InputName,
  params: z
    .record(Name, z.union([Scalar, z.array(Scalar)]))
    .meta({ description: "Values of the input's params" })
    .optional(),
  schedule: z
    .string()
    .min(1)
    .meta({ description: 'A cron expression; omit for on-demand only', examples: ['*/30 * * * *'] })
    .optional(),
  timezone: z
    .string()
    .min(1)
    .meta({
      description: 'IANA time zone of the schedule and relative filters',
      examples: ['America/Los_Angeles'],
    })
    .optional(),
  refresh: z
    .enum(['always', 'on_change'])
    .meta({ description: 'on_change: skip a run when nothing that determines the result changed' })
    .optional(),
  freshness: Freshness.meta({
    description: "When it is stale, and how quickly it follows changes (default: strata.yaml's `freshness`)",
  }).optional(),
  runAs: RunAs.meta({
    description: 'The caller it reads as, under access policies (default: a caller with no role)',
  }).optional(),
  destinations: z
    .array(DestinationDefinition)
    .min(1)
    .meta({ description: 'Where the result goes: google_sheets, airtable, table or file' }),
  /** Who hears of its failures and staleness (docs/alerts.md). */
  alerts: TrackerAlerts.meta({
    description: 'Who hears of its failures and staleness (docs/alerts.md).',
  }).optional(),
});
export type TrackerDefinition = z.infer<typeof TrackerDefinition>;

// ---- CDC pipelines (definitions/pipelines/*.yaml, spec §9) ------------------------------

/** `schema.table` of an upstream database. */
const UpstreamTable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/, {
  error: 'must be schema.table (for example public.movie)',
});

/** The tables a processor applies to (default: every table of the pipeline). */
const ProcessorTables = z
  .array(UpstreamTable)
  .min(1)
  .meta({ description: 'The tables it applies to (default: every table of the pipeline)' })
  .optional();

export const PostgresPipelineSource = z.strictObject({
  type: z.literal('postgres'),
  /** Always `env:NAME`: the URL holds the replication user's password. */
  connection: SecretReference.meta({
    description: "Always `env:NAME`: the URL holds the replication user's password.",
  }),
  tables: z.array(UpstreamTable).min(1).meta({ description: 'The upstream tables replicated' }),
  /** The publication and slot Strata creates or checks (default: `strata_<pipeline>`). */
  publication: Name.meta({
    description: 'The publication and slot Strata creates or checks (default: `strata_<pipeline>`).',
  }).optional(),
  slot: Name.meta({
    description: 'The replication slot, created when missing (default: `strata_<pipeline>`)',
  }).optional(),
  /** Copy the rows that exist before streaming changes (default true). */
  snapshot: z
    .boolean()
    .meta({ description: 'Copy the rows that exist before streaming changes (default true).' })
    .optional(),
});

export const DebeziumPipelineSource = z.strictObject({
  type: z.literal('debezium'),
  tables: z.array(UpstreamTable).min(1).meta({ description: 'The upstream tables whose events are read' }),
  /** A JetStream stream a Debezium Server NATS sink writes, read with a durable consumer. */
  nats: z
    .strictObject({
      url: UrlOrSecretReference.meta({
        description: 'The NATS server, or env:NAME when the URL holds a password',
      }),
      stream: z.string().min(1).meta({ description: 'The JetStream stream' }),
      /** Subjects to read (default: the stream's). */
      subjects: z
        .array(z.string().min(1))
        .min(1)
        .meta({ description: "Subjects to read (default: the stream's)." })
        .optional(),
      /** The durable consumer's name (default: `strata_<pipeline>`). */
      consumer: Name.meta({
        description: "The durable consumer's name (default: `strata_<pipeline>`).",
      }).optional(),
    })
    .meta({
      description: 'A JetStream stream a Debezium Server NATS sink writes, read with a durable consumer',
    })
    .optional(),
  /** Newline-delimited Debezium events, for replay and backfill (paths relative to the project). */
  files: z
    .array(z.string().min(1))
    .min(1)
    .meta({
      description:
        'Newline-delimited Debezium events, for replay and backfill (paths relative to the project).',
    })
    .optional(),
});

export const PipelineSource = z.discriminatedUnion('type', [PostgresPipelineSource, DebeziumPipelineSource]);
export type PipelineSource = z.infer<typeof PipelineSource>;

export const FilterProcessor = z.strictObject({
  type: z.literal('filter'),
  /** A condition over the row (one expression, the rules of definition SQL). */
  where: z
    .string()
    .min(1)
    .meta({ description: 'A condition over the row (one expression, the rules of definition SQL).' }),
  tables: ProcessorTables,
});

export const ProjectProcessor = z.strictObject({
  type: z.literal('project'),
  /** The columns kept (the primary key is always kept). */
  fields: z
    .array(z.string().min(1))
    .min(1)
    .meta({ description: 'The columns kept (the primary key is always kept).' }),
  tables: ProcessorTables,
});

/** A path in a GraphQL response's `data`: `movie.genre`. */
const ResponsePath = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, {
  error: 'a path in the response data, such as movie.genre',
});

/** The column types a pipeline writes: those of fields. */
export const UpstreamColumnType = z.enum(FIELD_TYPES);

export const GraphqlEnrichProcessor = z.strictObject({
  type: z.literal('graphql_enrich'),
  endpoint: UrlOrSecretReference.meta({
    description: 'The GraphQL endpoint URL, or env:NAME when it holds a credential',
  }),
  /** One GraphQL operation; its variables come from columns. */
  query: z.string().min(1).meta({ description: 'One GraphQL operation; its variables come from columns.' }),
  /** GraphQL variable -> column of the event's row. */
  variables: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().min(1))
    .meta({ description: "GraphQL variable -> column of the event's row." }),
  /**
   * New column -> path in the response's `data` (`movie.genre`, a string column), or
   * `{ path, type }` for another column type.
   */
  outputs: z
    .record(
      Name,
      z.union([
        ResponsePath,
        z.strictObject({
          path: ResponsePath.meta({ description: "The path in the response's `data`" }),
          type: UpstreamColumnType.meta({ description: 'The type of the new column' }),
        }),
      ]),
    )
    .meta({
      description:
        "New column -> path in the response's `data` (a string column), or { path, type } for another type",
      examples: [{ genre: 'movie.genre', runtime: { path: 'movie.runtime', type: 'integer' } }],
    }),
  /** Headers sent to the endpoint; credentials as `env:NAME`. */
  headers: z
    .record(z.string().min(1), SecretReference)
    .meta({ description: 'Headers sent to the endpoint; credentials as `env:NAME`.' })
    .optional(),
  /** How long a looked-up key's outputs are reused (default 5m; 0s: every event asks). */
  cacheTtl: Duration.meta({
    description: "How long a looked-up key's outputs are reused (default 5m; 0s: every event asks).",
  }).optional(),
  /** Attempts after the first, with exponential backoff, before an event is parked as a dead letter (default 3). */
  retries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .meta({
      description:
        'Attempts after the first, with exponential backoff, before an event is parked as a dead letter (default 3).',
    })
    .optional(),
  /** One request's deadline (default 10s). */
  timeout: Duration.meta({ description: "One request's deadline (default 10s)." }).optional(),
  tables: ProcessorTables,
});

export const ProcessorDefinition = z.discriminatedUnion('type', [
  FilterProcessor,
  ProjectProcessor,
  GraphqlEnrichProcessor,
]);
export type ProcessorDefinition = z.infer<typeof ProcessorDefinition>;

export const PipelineDefinition = z.strictObject({
  name: Name.meta({ description: 'The pipeline name: ^[a-z][a-z0-9_]*$' }),
  description: z.string().optional(),
  owner: z
    .string()
    .meta({ description: 'Who answers for it; an email address is emailed its alerts' })
    .optional(),
  source: PipelineSource.meta({ description: 'Where the changes come from: postgres or debezium' }),
  processors: z
    .array(ProcessorDefinition)
    .meta({ description: 'Run in order on each change: filter, project, graphql_enrich' })
    .optional(),
  sink: z
    .strictObject({
      type: z.literal('iceberg').meta({ description: 'Raw Iceberg tables of the embedded warehouse' }),
      /** One raw table per upstream table, in this namespace, named after it. */
      namespace: Name.meta({
        description: 'One raw table per upstream table, in this namespace, named after it.',
      }),
      /** Raw table name per upstream table, when the upstream name does not fit or clashes. */
      tables: z
        .record(UpstreamTable, Name)
        .meta({
          description: 'Raw table name per upstream table, when the upstream name does not fit or clashes.',
        })
        .optional(),
      /** Commit when this many events are pending (default 10000) or this long has passed (default 1s). */
      commitEvents: z
        .number()
        .int()
        .positive()
        .meta({
          description:
            'Commit when this many events are pending (default 10000) or this long has passed (default 1s).',
        })
        .optional(),
      commitInterval: Duration.meta({
        description: 'Commit when the oldest pending event has waited this long (default 1s)',
      }).optional(),
    })
    .meta({ description: 'Where the changes go: one append-only raw table per upstream table' }),
  /** opt_in: new upstream columns flow into the raw table; opt_out: only consumed columns do (default opt_in). */
  schemaEvolution: z
    .enum(['opt_in', 'opt_out'])
    .meta({
      description:
        'opt_in: new upstream columns flow into the raw table; opt_out: only consumed columns do (default opt_in).',
    })
    .optional(),
  /** The audit's cron (default hourly) and the heartbeat's period (default 30s). */
  audit: z
    .strictObject({
      schedule: z
        .string()
        .min(1)
        .meta({ description: "The audit's cron (default hourly, '0 * * * *')" })
        .optional(),
    })
    .meta({ description: "The audit's cron (default hourly) and the heartbeat's period (default 30s)." })
    .optional(),
  heartbeat: Duration.meta({
    description: 'How often a heartbeat is written upstream and read back through the stream (default 30s)',
  }).optional(),
});
export type PipelineDefinition = z.infer<typeof PipelineDefinition>;
