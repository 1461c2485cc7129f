/**
 * Pipeline definitions (issue 9 item 1) are validated like the rest: every problem at its
 * file, line and column, all of them in one run.
 */
import { describe, expect, it } from 'vitest';
import { compareDiagnostics } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import { validateModel } from '../../src/core/validate.js';

const TALENT = `name: talent
table: studio_raw.talent
primaryKey: talent_id
cdc: { orderBy: [_op_ts, _seq], deletedWhen: "_op = 'd'" }
fields:
  - { name: talent_id, type: string }
  - { name: name, type: string }
  - { name: agency, type: string }
`;

const VALID = `name: studio
source:
  type: postgres
  connection: env:STUDIO_DB_URL
  tables: [public.talent, public.movie]
processors:
  - { type: filter, where: "status <> 'draft'" }
  - type: project
    tables: [public.talent]
    fields: [talent_id, name, agency, status]
  - type: graphql_enrich
    tables: [public.movie]
    endpoint: env:STUDIO_EDGE_URL
    query: "query($id: ID!) { movie(id: $id) { genre } }"
    variables: { id: movie_id }
    outputs: { genre: movie.genre }
sink: { type: iceberg, namespace: studio_raw }
schemaEvolution: opt_in
`;

function problems(pipeline: string, ...others: string[]): string[] {
  const files: DefinitionFile[] = [
    { path: 'talent.yaml', kind: 'source', text: TALENT },
    { path: 'p.yaml', kind: 'pipeline', text: pipeline },
    ...others.map((text, i) => ({ path: `q${i}.yaml`, kind: 'pipeline' as const, text })),
  ];
  const { model, diagnostics } = buildModel(files);
  return [...diagnostics, ...validateModel(model)].sort(compareDiagnostics).map((d) => {
    // Other files than p.yaml are named.
    const file = d.location?.file === 'p.yaml' ? '' : `${d.location?.file}:`;
    return `${file}${d.location?.line}:${d.location?.col}: ${d.code}`;
  });
}

/** A second pipeline reading public.talent (and, with `mapped`, naming its raw table). */
function archive(namespace: string, mapped?: string, name = 'archive'): string {
  return `name: ${name}
source:
  type: debezium
  files: [archive.ndjson]
  tables: [public.talent]
sink:
  type: iceberg
  namespace: ${namespace}
${mapped ? `  tables: { public.talent: ${mapped} }\n` : ''}`;
}

describe('pipeline definitions', () => {
  it('a valid pipeline has no problem', () => {
    expect(problems(VALID)).toEqual([]);
  });

  it("two pipelines writing one raw table: an error at the second one's sink", () => {
    expect(problems(VALID, archive('studio_raw'))).toEqual(['q0.yaml:6:1: duplicate_name']);
    // A mapped name clashes where it is mapped; another name, or another namespace, does not.
    expect(problems(VALID, archive('other', 'talent'), archive('studio_raw', 'talent', 'backfill'))).toEqual([
      'q1.yaml:9:28: duplicate_name',
    ]);
    expect(problems(VALID, archive('studio_raw', 'talent_archive'))).toEqual([]);
  });

  it('a connection written inline', () => {
    expect(problems(VALID.replace('env:STUDIO_DB_URL', 'postgres://u:p@db/studio'))).toEqual([
      '4:15: invalid_value',
    ]);
  });

  it('a filter that is not one expression, at the offending character', () => {
    expect(problems(VALID.replace(`"status <> 'draft'"`, `"status <> 'draft'; DROP TABLE x"`))).toEqual([
      '7:46: sql_not_allowed',
    ]);
  });

  it('a processor reading a column an earlier project drops', () => {
    const text = VALID.replace(
      'sink:',
      '  - { type: filter, tables: [public.talent], where: "budget > 0" }\nsink:',
    );
    expect(problems(text)).toEqual(['17:5: unknown_column']);
  });

  it('a project dropping a column a Strata source reads from the raw table', () => {
    expect(
      problems(VALID.replace('fields: [talent_id, name, agency, status]', 'fields: [talent_id, name]')),
    ).toEqual(['10:13: unknown_column']);
  });

  it('a GraphQL query that does not parse, and variables that do not match it', () => {
    expect(problems(VALID.replace('{ movie(id: $id) { genre } }', '{ movie(id: $id) { genre }'))).toEqual([
      '14:55: graphql_syntax',
    ]);
    expect(problems(VALID.replace('variables: { id: movie_id }', 'variables: { movie: movie_id }'))).toEqual([
      '15:16: missing_variable',
      '15:18: unknown_variable',
    ]);
  });

  it('a processor on a table the pipeline does not read; two tables landing in one raw table', () => {
    expect(problems(VALID.replace('tables: [public.talent]\n', 'tables: [public.talnet]\n'))).toEqual([
      '9:14: unknown_table',
    ]);
    expect(
      problems(
        VALID.replace('[public.talent, public.movie]', '[public.talent, archive.talent]').replace(
          '    tables: [public.movie]\n',
          '',
        ),
      ),
    ).toContain('5:27: duplicate_name');
  });

  it('a debezium source with nothing to read', () => {
    const text = VALID.replace('type: postgres\n  connection: env:STUDIO_DB_URL\n', 'type: debezium\n');
    expect(problems(text)).toEqual(['3:3: missing_key']);
  });
});
