/** The real TrinoEngine (on trino-client) against a local server speaking Trino's client protocol. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueryError, collect } from '../../src/engines/engine.js';
import { TrinoEngine, cellFromTrino, trinoOptionsFromEnv } from '../../src/engines/trino.js';
import { startTrinoServer, type RecordedRequest, type TrinoTestServer } from '../support/trino-server.js';

let server: TrinoTestServer;
let engine: TrinoEngine | undefined;

async function open(
  overrides: Partial<Parameters<typeof TrinoEngine.connect>[0]> = {},
): Promise<TrinoEngine> {
  engine = await TrinoEngine.connect({ server: server.url, user: 'alice', ...overrides });
  return engine;
}

const posts = (): RecordedRequest[] => server.requests.filter((r) => r.method === 'POST');
const deletesOf = (queryId: string | undefined): RecordedRequest[] =>
  server.requests.filter((r) => r.method === 'DELETE' && r.queryId === queryId);
const lastQueryId = (): string | undefined => posts().at(-1)?.queryId;

async function rejection(promise: Promise<unknown>): Promise<QueryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueryError);
  return error as QueryError;
}

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await server?.close();
});

describe('results', () => {
  beforeEach(async () => {
    server = await startTrinoServer({ pageSize: 2 });
    await server.duckdb.run(`
      CREATE TABLE typed AS SELECT * FROM (VALUES
        (1, 1234567890123::BIGINT, 42, 7::SMALLINT, 3::TINYINT, 1.5::DOUBLE, 2.25::REAL, 123.45::DECIMAL(10,2),
         'hello', true, DATE '2026-01-31', TIMESTAMP '2026-01-31 12:00:00.123456',
         TIMESTAMPTZ '2026-01-31 14:00:00+02', [1, 2]),
        (2, -5::BIGINT, -1, -2::SMALLINT, -3::TINYINT, -0.25::DOUBLE, 0.5::REAL, -0.05::DECIMAL(10,2),
         'wörld', false, DATE '1999-12-31', TIMESTAMP '1999-12-31 23:59:59',
         TIMESTAMPTZ '2000-01-01 00:00:00+00', []::INTEGER[]),
        (3, NULL::BIGINT, NULL::INTEGER, NULL::SMALLINT, NULL::TINYINT, NULL::DOUBLE, NULL::REAL, NULL::DECIMAL(10,2),
         NULL::VARCHAR, NULL::BOOLEAN, NULL::DATE, NULL::TIMESTAMP, NULL::TIMESTAMPTZ, NULL::INTEGER[]),
        (4, 0::BIGINT, 0, 0::SMALLINT, 0::TINYINT, 0::DOUBLE, 0::REAL, 1.50::DECIMAL(10,2),
         '', true, DATE '2026-02-01', TIMESTAMP '2026-02-01 00:00:00', TIMESTAMPTZ '2026-02-01 00:00:00+00', [3]),
        (5, 5::BIGINT, 5, 5::SMALLINT, 5::TINYINT, 5::DOUBLE, 5::REAL, 5::DECIMAL(10,2),
         'five', false, DATE '2026-02-05', TIMESTAMP '2026-02-05 05:05:05.5', TIMESTAMPTZ '2026-02-05 05:05:05.5+00', [5])
      ) v(id, big, int, small, tiny, dbl, rl, dec, txt, flag, day, ts, tstz, arr)`);
  });

  const expected = [
    [
      1,
      1234567890123,
      42,
      7,
      3,
      1.5,
      2.25,
      123.45,
      'hello',
      true,
      '2026-01-31',
      '2026-01-31T12:00:00.123Z',
      '2026-01-31T12:00:00.000Z',
      '[1,2]',
    ],
    [
      2,
      -5,
      -1,
      -2,
      -3,
      -0.25,
      0.5,
      -0.05,
      'wörld',
      false,
      '1999-12-31',
      '1999-12-31T23:59:59.000Z',
      '2000-01-01T00:00:00.000Z',
      '[]',
    ],
    [3, null, null, null, null, null, null, null, null, null, null, null, null, null],
    [
      4,
      0,
      0,
      0,
      0,
      0,
      0,
      1.5,
      '',
      true,
      '2026-02-01',
      '2026-02-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '[3]',
    ],
    [
      5,
      5,
      5,
      5,
      5,
      5,
      5,
      5,
      'five',
      false,
      '2026-02-05',
      '2026-02-05T05:05:05.500Z',
      '2026-02-05T05:05:05.500Z',
      '[5]',
    ],
  ];

  it('converts every reported type to Cells, across pages', async () => {
    const trino = await open();
    const { columns, rows } = await trino.query('SELECT * FROM typed ORDER BY id');
    expect(columns).toEqual([
      { name: 'id', engineType: 'integer' },
      { name: 'big', engineType: 'bigint' },
      { name: 'int', engineType: 'integer' },
      { name: 'small', engineType: 'smallint' },
      { name: 'tiny', engineType: 'tinyint' },
      { name: 'dbl', engineType: 'double' },
      { name: 'rl', engineType: 'real' },
      { name: 'dec', engineType: 'decimal(10,2)' },
      { name: 'txt', engineType: 'varchar' },
      { name: 'flag', engineType: 'boolean' },
      { name: 'day', engineType: 'date' },
      { name: 'ts', engineType: 'timestamp(3)' },
      { name: 'tstz', engineType: 'timestamp(3) with time zone' },
      { name: 'arr', engineType: 'array(integer)' },
    ]);
    expect(rows).toEqual(expected);
    // 5 rows at 2 a page: three data pages, each fetched once through nextUri.
    expect(server.queries.get(lastQueryId()!)?.pagesServed).toEqual([0, 1, 2]);
  });

  it('streams one batch per page, following nextUri to the end', async () => {
    const trino = await open();
    const batches: unknown[][] = [];
    for await (const batch of trino.stream('SELECT * FROM typed ORDER BY id')) batches.push(batch);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(batches.flat()).toEqual(expected);
    const id = lastQueryId();
    const gets = server.requests.filter((r) => r.method === 'GET' && r.queryId === id).map((r) => r.path);
    expect(gets).toEqual([
      expect.stringMatching(/^\/v1\/statement\/queued\/.+\/1$/),
      expect.stringMatching(/^\/v1\/statement\/executing\/.+\/0$/),
      expect.stringMatching(/^\/v1\/statement\/executing\/.+\/1$/),
      expect.stringMatching(/^\/v1\/statement\/executing\/.+\/2$/),
    ]);
    expect(deletesOf(id)).toEqual([]);
    expect(server.queries.get(id!)?.state).toBe('FINISHED');
  });

  it('handles empty results and statements', async () => {
    const trino = await open();
    expect(await trino.query('SELECT id FROM typed WHERE id > 100')).toEqual({
      columns: [{ name: 'id', engineType: 'integer' }],
      rows: [],
    });
    expect(await collect(trino.stream('SELECT id FROM typed WHERE id > 100'))).toEqual([]);
    await trino.execute('CREATE TABLE made_here AS SELECT 1 AS one');
    expect((await trino.query('SELECT one FROM made_here')).rows).toEqual([[1]]);
  });
});

describe('session', () => {
  it('sends the explicit user, catalog, schema and source', async () => {
    server = await startTrinoServer();
    await server.duckdb.run('CREATE SCHEMA analytics; CREATE TABLE analytics.films AS SELECT 7 AS n');
    const trino = await open({ catalog: 'iceberg', schema: 'analytics' });
    // unqualified: resolved in the session schema the headers name
    expect((await trino.query('SELECT n FROM films')).rows).toEqual([[7]]);
    const post = posts().at(-1)!;
    expect(post.body).toBe('SELECT n FROM films');
    expect(post.headers['x-trino-user']).toBe('alice');
    expect(post.headers['x-trino-catalog']).toBe('iceberg');
    expect(post.headers['x-trino-schema']).toBe('analytics');
    expect(post.headers['x-trino-source']).toBe('strata');
    expect(post.headers.authorization).toBeUndefined();
    expect(server.queries.get(post.queryId!)).toMatchObject({
      user: 'alice',
      catalog: 'iceberg',
      schema: 'analytics',
    });
  });

  it('passes extra headers without letting them replace the user', async () => {
    server = await startTrinoServer();
    const trino = await open({
      source: 'nightly',
      extraHeaders: { 'X-Trino-Client-Tags': 'strata', 'X-Trino-User': 'mallory' },
    });
    await trino.query('SELECT 1');
    const post = posts().at(-1)!;
    expect(post.headers['x-trino-user']).toBe('alice');
    expect(post.headers['x-trino-client-tags']).toBe('strata');
    expect(post.headers['x-trino-source']).toBe('nightly');
  });

  it('is refused without a user, like Trino', async () => {
    server = await startTrinoServer();
    const response = await fetch(`${server.url}/v1/statement`, { method: 'POST', body: 'SELECT 1' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="Trino"');
    expect(await response.text()).toBe('Basic authentication or X-Trino-User must be sent');
    await expect(TrinoEngine.connect({ server: server.url, user: '' })).rejects.toThrow(QueryError);
  });

  it('reports an unreachable server as a QueryError', async () => {
    server = await startTrinoServer();
    const url = server.url;
    await server.close();
    server = await startTrinoServer();
    const error = await rejection(TrinoEngine.connect({ server: url, user: 'alice' }));
    expect(error.message).toMatch(/^trino: cannot connect to http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('table versions', () => {
  it("reads each table's newest snapshot from Iceberg $snapshots in one statement, and when data last arrived", async () => {
    server = await startTrinoServer();
    await server.duckdb.run(`
      CREATE SCHEMA studio;
      CREATE TABLE studio."movie$snapshots" AS SELECT * FROM (VALUES
        (TIMESTAMPTZ '2026-03-01 10:00:00+00', 1001::BIGINT, 'append'),
        (TIMESTAMPTZ '2026-03-01 11:00:00+00', 1002::BIGINT, 'overwrite'),
        (TIMESTAMPTZ '2026-03-01 12:00:00+00', 9007199254740993::BIGINT, 'replace')
      ) v(committed_at, snapshot_id, operation);
      CREATE TABLE studio."crew$snapshots" AS SELECT * FROM (VALUES
        (TIMESTAMPTZ '2026-03-01 10:30:00+00', 2001::BIGINT, 'append')
      ) v(committed_at, snapshot_id, operation);
      CREATE TABLE studio.plain AS SELECT 1 AS one`);
    const trino = await open();
    const before = posts().length;
    // A name of one part is a source query's CTE: not asked about.
    expect(await trino.tableVersions(['studio.movie', 'studio.crew', 'recent'])).toEqual({
      // Snapshot ids are 64-bit: read as text, never rounded.
      fingerprint: 'studio.movie=9007199254740993;studio.crew=2001',
      source: 'iceberg_snapshots',
      // A `replace` only reorganises files: the data last arrived at 11:00.
      changedAt: '2026-03-01T11:00:00.000Z',
    });
    expect(posts().length - before).toBe(1);
    expect(posts().at(-1)!.body).toContain('FROM studio."movie$snapshots"');

    await server.duckdb.run(
      `INSERT INTO studio."crew$snapshots" VALUES (TIMESTAMPTZ '2026-03-01 13:00:00+00', 2002, 'append')`,
    );
    expect(await trino.tableVersions(['studio.movie', 'studio.crew'])).toMatchObject({
      fingerprint: 'studio.movie=9007199254740993;studio.crew=2002',
      changedAt: '2026-03-01T13:00:00.000Z',
    });
    // Not an Iceberg table (no $snapshots): versions unknown, so an on_change tracker always runs.
    expect(await trino.tableVersions(['studio.plain'])).toBeUndefined();
  });
});

describe('basic auth', () => {
  beforeEach(async () => {
    server = await startTrinoServer({ password: 's3cret' });
  });

  it('authenticates with the password', async () => {
    const trino = await open({ password: 's3cret' });
    expect((await trino.query('SELECT 40 + 2 AS answer')).rows).toEqual([[42]]);
    const post = posts().at(-1)!;
    expect(post.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(post.headers['x-trino-user']).toBe('alice');
  });

  it('surfaces a refusal without echoing the credentials', async () => {
    const trino = await open({ password: 'wrong-password' });
    const error = await rejection(trino.query('SELECT 1'));
    expect(error.message).toMatch(
      /^trino: HTTP 401 from http:\/\/127\.0\.0\.1:\d+: Access Denied: Invalid credentials$/,
    );
    expect(error.message).not.toContain('wrong-password');
    const noPassword = await TrinoEngine.connect({ server: server.url, user: 'alice' });
    try {
      expect((await rejection(noPassword.query('SELECT 1'))).message).toContain('HTTP 401');
    } finally {
      await noPassword.close();
    }
  });
});

describe('errors', () => {
  beforeEach(async () => {
    server = await startTrinoServer();
  });

  it("rejects with Trino's own message", async () => {
    const trino = await open();
    const syntax = await rejection(trino.query('SELEC 1'));
    expect(syntax.engine).toBe('trino');
    expect(syntax.message).toBe('trino: Parser Error: syntax error at or near "SELEC"');
    const missing = await rejection(collect(trino.stream('SELECT * FROM no_such_table')));
    expect(missing.message).toMatch(/^trino: Catalog Error: Table with name no_such_table does not exist!/);
    await expect(trino.execute('DROP TABLE no_such_table')).rejects.toThrow(QueryError);
    // the engine stays usable
    expect((await trino.query('SELECT 1 AS ok')).rows).toEqual([[1]]);
  });

  it('reads a failure reported in the POST response itself', async () => {
    await server.close();
    server = await startTrinoServer({ failOnPost: true });
    const trino = await open();
    const error = await rejection(trino.query('SELEC 1'));
    expect(error.message).toBe('trino: Parser Error: syntax error at or near "SELEC"');
    expect(server.requests.filter((r) => r.queryId === lastQueryId()).map((r) => r.method)).toEqual(['POST']);
    expect((await trino.query('SELECT 2 AS two')).rows).toEqual([[2]]);
  });

  it('serves Trino-shaped failures', async () => {
    const trino = await open();
    await trino.query('SELEC 1').catch(() => undefined);
    const id = lastQueryId()!;
    const path = server.requests.filter((r) => r.queryId === id && r.method === 'GET').at(-1)!.path;
    const response = await fetch(`${server.url}${path}`);
    const page = (await response.json()) as Record<string, unknown>;
    expect(page).toMatchObject({
      id,
      stats: { state: 'FAILED' },
      error: {
        message: 'Parser Error: syntax error at or near "SELEC"',
        errorCode: 1,
        errorName: 'SYNTAX_ERROR',
        errorType: 'USER_ERROR',
        failureInfo: { type: 'io.trino.sql.parser.ParsingException' },
      },
    });
    expect(page.nextUri).toBeUndefined();
  });
});

describe('cancellation', () => {
  beforeEach(async () => {
    server = await startTrinoServer({ pageSize: 1 });
    await server.duckdb.run('CREATE TABLE numbers AS SELECT range AS n FROM range(50)');
  });

  it('DELETEs the nextUri when a stream is abandoned', async () => {
    const trino = await open();
    const seen: unknown[] = [];
    for await (const batch of trino.stream('SELECT n FROM numbers ORDER BY n')) {
      seen.push(...batch);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([[0], [1]]);
    const id = lastQueryId()!;
    const deletes = deletesOf(id);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.path).toMatch(/^\/v1\/statement\/executing\/.+\/2$/);
    expect(deletes[0]!.headers['x-trino-user']).toBe('alice');
    expect(server.queries.get(id)).toMatchObject({ cancelled: true, state: 'FAILED' });
    expect(server.queries.get(id)!.pagesServed).toEqual([0, 1]);
  });

  it('cancels through an AbortSignal', async () => {
    const trino = await open();
    const controller = new AbortController();
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const batch of trino.stream('SELECT n FROM numbers ORDER BY n', {
        signal: controller.signal,
      })) {
        seen.push(...batch);
        if (seen.length === 3) controller.abort();
      }
    })();
    const error = await rejection(reading);
    expect(error.message).toBe('trino: query cancelled');
    expect(seen).toHaveLength(3);
    expect(deletesOf(lastQueryId())).toHaveLength(1);
    expect(server.queries.get(lastQueryId()!)?.cancelled).toBe(true);
  });

  it('cancels while a page is in flight', async () => {
    await server.close();
    // Pages take 4 s: a query that waited for one before giving up would take that long.
    server = await startTrinoServer({ pageSize: 1, delayMs: 4000 });
    await server.duckdb.run('CREATE TABLE numbers AS SELECT range AS n FROM range(50)');
    const trino = await open();
    const started = Date.now();
    const error = await rejection(trino.query('SELECT n FROM numbers', { signal: AbortSignal.timeout(100) }));
    expect(error.message).toMatch(/^trino: query cancelled/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(deletesOf(lastQueryId())).toHaveLength(1);
    expect(server.queries.get(lastQueryId()!)?.cancelled).toBe(true);
  });

  it('cancels a query whose POST is still in flight, once it has a nextUri', async () => {
    await server.close();
    // The POST takes 4 s: a query that waited for its answer before giving up would take that long.
    server = await startTrinoServer({ postDelayMs: 4000 });
    const trino = await open();
    const started = Date.now();
    const error = await rejection(trino.query('SELECT 1', { signal: AbortSignal.timeout(100) }));
    expect(error.message).toMatch(/^trino: query cancelled/);
    expect(Date.now() - started).toBeLessThan(3000);
    await trino.close(); // waits for the DELETE that follows the POST's answer
    const id = lastQueryId();
    expect(deletesOf(id).map((r) => r.path)).toEqual([
      expect.stringMatching(/^\/v1\/statement\/queued\/.+\/1$/),
    ]);
    expect(server.queries.get(id!)?.cancelled).toBe(true);
    await expect(trino.query('SELECT 1')).rejects.toThrow('trino: the engine is closed');
  });

  it('cancels running queries through cancel(), and never starts after an abort', async () => {
    const trino = await open();
    const iterator = trino.stream('SELECT n FROM numbers ORDER BY n')[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual([[0]]);
    await trino.cancel();
    const id = lastQueryId();
    expect(deletesOf(id)).toHaveLength(1);
    expect((await rejection(iterator.next())).message).toBe('trino: query cancelled');

    const before = server.requests.length;
    const aborted = AbortSignal.abort();
    await rejection(trino.query('SELECT 1', { signal: aborted }));
    expect(server.requests.length).toBe(before);
  });

  it('does not DELETE a query that ran to the end', async () => {
    const trino = await open();
    expect(await collect(trino.stream('SELECT n FROM numbers WHERE n < 3 ORDER BY n'))).toEqual([
      [0],
      [1],
      [2],
    ]);
    expect(deletesOf(lastQueryId())).toEqual([]);
  });
});

describe('trinoOptionsFromEnv', () => {
  it('reads strata.yaml values, resolving env: references', () => {
    const env = { TRINO_PW: 'from-env' };
    expect(
      trinoOptionsFromEnv(
        {
          server: 'http://trino:8080',
          catalog: 'iceberg',
          schema: 'studio',
          user: 'strata',
          password: 'env:TRINO_PW',
        },
        env,
      ),
    ).toEqual({
      server: 'http://trino:8080',
      catalog: 'iceberg',
      schema: 'studio',
      user: 'strata',
      password: 'from-env',
    });
  });

  it('lets STRATA_TRINO_* override the config', () => {
    const env = {
      STRATA_TRINO_SERVER: 'https://prod:8443',
      STRATA_TRINO_CATALOG: 'lake',
      STRATA_TRINO_SCHEMA: 'ops',
      STRATA_TRINO_USER: 'ci',
      STRATA_TRINO_PASSWORD: 'pw',
    };
    expect(
      trinoOptionsFromEnv({ server: 'http://trino:8080', user: 'strata', schema: 'studio' }, env),
    ).toEqual({
      server: 'https://prod:8443',
      catalog: 'lake',
      schema: 'ops',
      user: 'ci',
      password: 'pw',
    });
    // empty variables do not count
    expect(trinoOptionsFromEnv({ server: 'http://t', user: 'u' }, { STRATA_TRINO_USER: '' })).toEqual({
      server: 'http://t',
      user: 'u',
    });
  });

  it('requires an explicit server and user (never $USER)', () => {
    expect(() => trinoOptionsFromEnv({ server: 'http://t' }, { USER: 'someone' })).toThrow(/no user/);
    expect(() => trinoOptionsFromEnv({ user: 'u' }, {})).toThrow(/no server/);
    expect(() => trinoOptionsFromEnv({ server: 'http://t', user: 'env:MISSING' }, {})).toThrow(
      /MISSING is not set/,
    );
  });
});

describe('cellFromTrino', () => {
  it('reads Trino JSON encodings', () => {
    expect(cellFromTrino('123.45', 'decimal(10,2)')).toBe(123.45);
    expect(cellFromTrino('NaN', 'double')).toBeNaN();
    expect(cellFromTrino('Infinity', 'real')).toBe(Infinity);
    expect(cellFromTrino('ab   ', 'char(5)')).toBe('ab   ');
    expect(cellFromTrino(null, 'bigint')).toBeNull();
    expect(cellFromTrino('2026-01-31 12:00:00.123456789', 'timestamp(9)')).toBe('2026-01-31T12:00:00.123Z');
    expect(cellFromTrino('2026-01-31 12:00:00', 'timestamp(0)')).toBe('2026-01-31T12:00:00.000Z');
    expect(cellFromTrino('2026-01-31 12:00:00.000 UTC', 'timestamp(3) with time zone')).toBe(
      '2026-01-31T12:00:00.000Z',
    );
    expect(cellFromTrino('2026-01-31 17:30:00.000 +05:30', 'timestamp(3) with time zone')).toBe(
      '2026-01-31T12:00:00.000Z',
    );
    expect(cellFromTrino('2026-07-01 14:00:00.250 Europe/Paris', 'timestamp(3) with time zone')).toBe(
      '2026-07-01T12:00:00.250Z',
    );
    expect(cellFromTrino('2026-01-31 07:00:00.000 America/New_York', 'timestamp(6) with time zone')).toBe(
      '2026-01-31T12:00:00.000Z',
    );
  });

  it('gives other types as JSON text', () => {
    expect(cellFromTrino([1, null, 3], 'array(integer)')).toBe('[1,null,3]');
    expect(cellFromTrino({ a: 1 }, 'map(varchar,integer)')).toBe('{"a":1}');
    expect(cellFromTrino([1, 'x'], 'row(a integer,b varchar)')).toBe('[1,"x"]');
    expect(cellFromTrino('{"k":true}', 'json')).toBe('{"k":true}');
    expect(cellFromTrino('12:00:00.000', 'time(3)')).toBe('12:00:00.000');
  });
});
