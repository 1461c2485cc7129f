import { afterEach, describe, expect, it } from 'vitest';
import { AirtableDestination, type AirtableDestinationOptions } from '../../src/destinations/airtable.js';
import type { AirtableDestination as AirtableDefinition } from '../../src/core/definitions/schema.js';
import type { Cell } from '../../src/core/values/cell.js';
import {
  DestinationError,
  type DestinationContext,
  type SyncColumn,
  type SyncTable,
} from '../../src/destinations/destination.js';
import { DEFAULT_RETRY, HttpError } from '../../src/destinations/http.js';
import { InMemoryRunLedger } from '../../src/destinations/ledger.js';
import { InMemoryRateLimiter } from '../../src/destinations/limiter.js';
import {
  FakeClock,
  startFakeAirtable,
  type FakeAirtable,
  type FakeAirtableOptions,
  type LoggedRequest,
} from '../support/fake-airtable.js';

const BASE = 'appTest0001';
const TABLE = 'Movies';

const COLUMNS: SyncColumn[] = [
  { name: 'movie_id', label: 'Movie ID', type: 'integer' },
  { name: 'title', label: 'Title', type: 'string' },
  { name: 'budget', label: 'Budget', type: 'decimal' },
  { name: 'released', label: 'Released', type: 'date' },
  { name: 'in_production', label: 'In production', type: 'boolean' },
  { name: 'updated_at', label: 'Updated at', type: 'timestamp' },
];
const LABELS = COLUMNS.map((c) => c.label);

function movie(id: number): Cell[] {
  return [
    id,
    `Movie ${id}`,
    1_000_000 + id * 0.25,
    `2026-01-${String((id % 28) + 1).padStart(2, '0')}`,
    id % 2 === 0,
    new Date(Date.UTC(2026, 0, 1, 0, id)).toISOString(),
  ];
}

function movies(count: number, from = 1): Cell[][] {
  return Array.from({ length: count }, (_, i) => movie(from + i));
}

function result(rows: Cell[][]): SyncTable {
  return { columns: COLUMNS, rows };
}

interface Harness {
  clock: FakeClock;
  server: FakeAirtable;
  ctx: DestinationContext;
  logs: { level: string; message: string; fields?: Record<string, unknown> }[];
  destination(
    definition?: Partial<AirtableDefinition>,
    options?: AirtableDestinationOptions,
  ): AirtableDestination;
}

const servers: FakeAirtable[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function harness(
  serverOptions: FakeAirtableOptions = {},
  fields: string[] = LABELS,
  retries = DEFAULT_RETRY.retries,
): Promise<Harness> {
  const clock = new FakeClock();
  const server = await startFakeAirtable({ clock, ...serverOptions });
  servers.push(server);
  server.createTable(BASE, TABLE, fields);
  const logs: Harness['logs'] = [];
  const ctx: DestinationContext = {
    limiter: new InMemoryRateLimiter(clock.now, clock.sleep),
    retry: { ...DEFAULT_RETRY, retries, sleep: clock.sleep, random: () => 0.5 },
    runId: 'run-1',
    ledger: new InMemoryRunLedger(),
    tracker: 'movie-status',
    env: { STRATA_AIRTABLE_TOKEN: server.token, STRATA_AIRTABLE_ENDPOINT_URL: server.url },
    log: {
      info: (message, f) => logs.push({ level: 'info', message, fields: f }),
      warn: (message, f) => logs.push({ level: 'warn', message, fields: f }),
    },
  };
  return {
    clock,
    server,
    ctx,
    logs,
    destination: (definition = {}, options = {}) =>
      new AirtableDestination(
        { type: 'airtable', baseId: BASE, table: TABLE, mode: 'upsert', key: ['movie_id'], ...definition },
        { fetch: clock.fetch(), now: clock.now, ...options },
      ),
  };
}

const bodyOf = (r: LoggedRequest) =>
  r.body as {
    records: { id?: string; fields: Record<string, unknown> }[];
    performUpsert?: { fieldsToMergeOn: string[] };
    typecast?: boolean;
  };

/** Every sliding window of `windowMs` holds at most `limit` request arrivals. */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

function byMovieId(h: Harness): Map<number, { id: string; fields: Record<string, unknown> }> {
  return new Map(h.server.records(BASE, TABLE).map((r) => [r.fields['Movie ID'] as number, r]));
}

describe('AirtableDestination upsert', () => {
  it('creates new keys through PATCH performUpsert, 10 records a request, with typed values', async () => {
    const h = await harness();
    const outcome = await h.destination().write(result(movies(25)), h.ctx);
    expect(outcome).toMatchObject({ created: 25, updated: 0, deleted: 0, unchanged: 0 });

    const writes = h.server.writes();
    expect(writes.map((w) => [w.method, bodyOf(w).records.length])).toEqual([
      ['PATCH', 10],
      ['PATCH', 10],
      ['PATCH', 5],
    ]);
    for (const w of writes) {
      expect(bodyOf(w).performUpsert).toEqual({ fieldsToMergeOn: ['Movie ID'] });
      expect(bodyOf(w).records.every((r) => r.id === undefined)).toBe(true);
    }
    const stored = byMovieId(h).get(2)!.fields;
    expect(stored).toEqual({
      'Movie ID': 2,
      Title: 'Movie 2',
      Budget: 1_000_000.5,
      Released: '2026-01-03',
      'In production': true,
      'Updated at': '2026-01-01T00:02:00.000Z',
    });
    // A false checkbox is not sent (nothing to clear on a new record) and is listed as absent.
    expect(byMovieId(h).get(1)!.fields['In production']).toBeUndefined();
    expect(outcome.apiCalls).toBe(h.server.requests.length);
    expect(outcome.bytes).toBe(h.server.requests.reduce((n, r) => n + r.bytes, 0));
  });

  it('sends only the changed records and fields, never PUT, leaving stakeholder fields alone', async () => {
    const h = await harness();
    await h.destination().write(result(movies(30)), h.ctx);
    // A stakeholder adds a Notes field of their own and edits one of the tracked fields.
    h.server.addField(BASE, TABLE, 'Notes', (r) => `note for ${String(r.fields['Movie ID'])}`);
    const ids = byMovieId(h);
    h.server.setFields(BASE, TABLE, ids.get(7)!.id, { Title: 'Edited by hand' });
    h.server.requests.length = 0;

    const rows = movies(31); // movie 31 is new
    rows[2]![2] = 42.5; // movie 3: budget
    rows[4]![4] = true; // movie 5: in production false -> true
    rows[9]![1] = null; // movie 10: title cleared
    const outcome = await h.destination().write(result(rows), h.ctx);
    expect(outcome).toMatchObject({ created: 1, updated: 4, deleted: 0, unchanged: 26 });

    const writes = h.server.writes();
    expect(writes.map((w) => w.method)).toEqual(['PATCH', 'PATCH']);
    expect(h.server.requests.some((r) => r.method === 'PUT')).toBe(false);
    expect(bodyOf(writes[0]!)).toEqual({
      records: [
        { id: ids.get(3)!.id, fields: { Budget: 42.5 } },
        { id: ids.get(5)!.id, fields: { 'In production': true } },
        { id: ids.get(7)!.id, fields: { Title: 'Movie 7' } },
        { id: ids.get(10)!.id, fields: { Title: null } },
      ],
      typecast: true,
    });
    expect(bodyOf(writes[1]!)).toEqual({
      performUpsert: { fieldsToMergeOn: ['Movie ID'] },
      records: [{ fields: Object.fromEntries(LABELS.map((l, i) => [l, movie(31)[i]])) }],
      typecast: true,
    });

    const after = byMovieId(h);
    for (const [id, record] of after) {
      expect(record.fields['Notes']).toBe(id === 31 ? undefined : `note for ${id}`);
    }
    expect(after.get(10)!.fields['Title']).toBeUndefined();
    expect(after.get(7)!.fields['Title']).toBe('Movie 7');

    // Nothing left to do: only the listing.
    h.server.requests.length = 0;
    const again = await h.destination().write(result(rows), h.ctx);
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 31, apiCalls: 1 });
    expect(h.server.writes()).toEqual([]);
  });

  it('reads missing fields as empty: NULL, false and "" are not rewritten', async () => {
    const h = await harness();
    const rows: Cell[][] = [
      [1, null, null, null, false, null],
      [2, '', 0, '2026-02-01', null, '2026-02-01T10:00:00Z'],
    ];
    await h.destination().write(result(rows), h.ctx);
    h.server.requests.length = 0;
    const outcome = await h.destination().write(result(rows), h.ctx);
    expect(outcome).toMatchObject({ updated: 0, unchanged: 2 });
    expect(h.server.writes()).toEqual([]);
  });

  it('pages through the listing with offsets and updates while it is still reading', async () => {
    const h = await harness();
    await h.destination().write(result(movies(95)), h.ctx);
    h.server.requests.length = 0;
    const rows = movies(95).map((row) => [...row.slice(0, 2), 7, ...row.slice(3)]);
    const outcome = await h.destination({}, { pageSize: 20 }).write(result(rows), h.ctx);
    expect(outcome).toMatchObject({ updated: 95, unchanged: 0 });
    const reads = h.server.requests.filter((r) => r.method === 'GET');
    expect(reads.map((r) => r.query.get('offset') === null)).toEqual([true, false, false, false, false]);
    expect(reads[0]!.query.getAll('fields[]')).toEqual(LABELS);
    // The first updates went out before the last page was read.
    const firstWrite = h.server.requests.findIndex((r) => r.method === 'PATCH');
    expect(firstWrite).toBeLessThan(h.server.requests.indexOf(reads.at(-1)!));
    expect(h.server.writes().map((w) => bodyOf(w).records.length)).toEqual([
      10, 10, 10, 10, 10, 10, 10, 10, 10, 5,
    ]);
    expect([...byMovieId(h).values()].every((r) => r.fields['Budget'] === 7)).toBe(true);
  });

  it('deletes vanished keys with onMissing delete, 10 per DELETE, and keeps them by default', async () => {
    const h = await harness();
    await h.destination().write(result(movies(30)), h.ctx);
    const ids = byMovieId(h);

    h.server.requests.length = 0;
    const kept = await h.destination().write(result(movies(18)), h.ctx);
    expect(kept).toMatchObject({ deleted: 0, unchanged: 18 });
    expect(h.server.writes()).toEqual([]);

    const outcome = await h.destination({ onMissing: 'delete' }).write(result(movies(18)), h.ctx);
    expect(outcome).toMatchObject({ deleted: 12, unchanged: 18 });
    const deletes = h.server.writes();
    expect(deletes.map((d) => [d.method, d.path, d.body])).toEqual([
      ['DELETE', `/v0/${BASE}/${TABLE}`, undefined],
      ['DELETE', `/v0/${BASE}/${TABLE}`, undefined],
    ]);
    expect(deletes.flatMap((d) => d.query.getAll('records[]'))).toEqual(
      movies(12, 19).map((row) => ids.get(row[0] as number)!.id),
    );
    expect([...byMovieId(h).keys()].sort((a, b) => a - b)).toEqual(movies(18).map((r) => r[0]));
  });

  it('keeps the first of several records sharing a key in step and deletes the others with onMissing delete', async () => {
    const h = await harness();
    h.server.insert(BASE, TABLE, [
      { 'Movie ID': 1, Title: 'first' },
      { 'Movie ID': 1, Title: 'copy' },
    ]);
    const [first] = h.server.records(BASE, TABLE);
    const outcome = await h.destination({ onMissing: 'delete' }).write(result(movies(1)), h.ctx);
    expect(outcome).toMatchObject({ updated: 1, deleted: 1 });
    expect(h.server.records(BASE, TABLE)).toEqual([
      expect.objectContaining({ id: first!.id, fields: expect.objectContaining({ Title: 'Movie 1' }) }),
    ]);
    expect(h.logs.some((l) => l.level === 'warn' && l.message.includes('share a key'))).toBe(true);
  });

  it('creates with POST when the key has more fields than performUpsert can merge on (3)', async () => {
    const h = await harness();
    const key = ['movie_id', 'title', 'budget', 'released'];
    await h.destination({ key }).write(result(movies(3)), h.ctx);
    expect(h.server.writes().map((w) => [w.method, bodyOf(w).performUpsert])).toEqual([['POST', undefined]]);
    h.server.requests.length = 0;
    expect(await h.destination({ key }).write(result(movies(3)), h.ctx)).toMatchObject({ unchanged: 3 });
  });

  it('lists through POST .../listRecords when the URL would be too long', async () => {
    const columns: SyncColumn[] = [
      { name: 'id', label: 'Id', type: 'integer' },
      ...Array.from({ length: 120 }, (_, i): SyncColumn => ({
        name: `c${i}`,
        label: `A rather long field label number ${i} `.padEnd(130, 'x'),
        type: 'string',
      })),
    ];
    const h = await harness(
      {},
      columns.map((c) => c.label),
    );
    const rows = [[1, ...columns.slice(1).map((_, i) => `v${i}`)]];
    await h.destination({ key: ['id'] }).write({ columns, rows }, h.ctx);
    const list = h.server.requests[0]!;
    expect([list.method, list.path]).toEqual(['POST', `/v0/${BASE}/${TABLE}/listRecords`]);
    expect((list.body as { fields: string[] }).fields).toHaveLength(121);
    h.server.requests.length = 0;
    expect(await h.destination({ key: ['id'] }).write({ columns, rows }, h.ctx)).toMatchObject({
      unchanged: 1,
    });
  });
});

describe('AirtableDestination replace', () => {
  it('upserts by key and deletes every record whose key is not in the result', async () => {
    const h = await harness();
    await h.destination().write(result(movies(12)), h.ctx);
    h.server.insert(BASE, TABLE, [{ Title: 'added by hand, no key' }]);
    h.server.addField(BASE, TABLE, 'Notes', () => 'keep me');
    h.server.requests.length = 0;

    const rows = movies(14, 3); // 1 and 2 vanish, 13..16 are new
    rows[0]![1] = 'Renamed';
    const outcome = await h.destination({ mode: 'replace' }).write(result(rows), h.ctx);
    expect(outcome).toMatchObject({ created: 4, updated: 1, deleted: 3, unchanged: 9 });
    expect(h.server.writes().map((w) => w.method)).toEqual(['PATCH', 'PATCH', 'DELETE']);
    const after = byMovieId(h);
    expect([...after.keys()].sort((a, b) => a - b)).toEqual(rows.map((r) => r[0]));
    expect(after.get(3)!.fields).toMatchObject({ Title: 'Renamed', Notes: 'keep me' });
  });

  it('is what a destination without a mode does, as validation reads it (not upsert)', async () => {
    const h = await harness();
    await h.destination().write(result(movies(4)), h.ctx);
    const outcome = await h.destination({ mode: undefined }).write(result(movies(3)), h.ctx);
    expect(outcome).toMatchObject({ deleted: 1, unchanged: 3 });
    expect(byMovieId(h).size).toBe(3);
  });

  it('without a key, matches records by content: unchanged ones (and their notes) stay', async () => {
    const h = await harness();
    const destination = h.destination({ mode: 'replace', key: undefined });
    await destination.write(result(movies(5)), h.ctx);
    h.server.addField(BASE, TABLE, 'Notes', () => 'note');
    const rows = movies(5);
    rows[4]![1] = 'Changed';
    rows.push(movie(1)); // a duplicate row is a second record
    const outcome = await destination.write(result(rows), h.ctx);
    expect(outcome).toMatchObject({ created: 2, deleted: 1, unchanged: 4 });
    const records = h.server.records(BASE, TABLE);
    expect(records).toHaveLength(6);
    expect(records.filter((r) => r.fields['Notes'] === 'note')).toHaveLength(4);
  });
});

describe('AirtableDestination append', () => {
  it('creates with POST in batches of 10', async () => {
    const h = await harness();
    const outcome = await h.destination({ mode: 'append', key: undefined }).write(result(movies(23)), h.ctx);
    expect(outcome).toMatchObject({ created: 23 });
    expect(h.server.writes().map((w) => [w.method, bodyOf(w).records.length])).toEqual([
      ['POST', 10],
      ['POST', 10],
      ['POST', 3],
    ]);
  });

  it('does not duplicate rows when a job is retried with the same runId after a crash', async () => {
    const h = await harness();
    const rows = movies(45);
    let posts = 0;
    const crashing: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && ++posts === 3) throw new Error('worker crashed');
      return fetch(input, init);
    };
    const first = h.destination({ mode: 'append', key: undefined }, { fetch: h.clock.fetch(crashing) });
    await expect(first.write(result(rows), h.ctx)).rejects.toThrow('worker crashed');
    const partial = h.server.records(BASE, TABLE).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(45);

    h.clock.advance(60_000);
    h.server.requests.length = 0;
    const retried = await h.destination({ mode: 'append', key: undefined }).write(result(rows), h.ctx);
    expect(retried.created).toBe(45 - partial);
    expect(retried.unchanged).toBe(partial);
    const stored = h.server
      .records(BASE, TABLE)
      .map((r) => r.fields['Movie ID'] as number)
      .sort((a, b) => a - b);
    expect(stored).toEqual(rows.map((r) => r[0]));
  });

  it('appends the rows again on every run, unchanged or not', async () => {
    const h = await harness();
    const destination = h.destination({ mode: 'append', key: undefined });
    const rows = movies(23);
    expect(await destination.write(result(rows), h.ctx)).toMatchObject({ created: 23, unchanged: 0 });
    // The next run, a minute later, has the same result: it is appended again.
    h.clock.advance(60_000);
    const next = await destination.write(result(rows), { ...h.ctx, runId: 'run-2' });
    expect(next).toMatchObject({ created: 23, unchanged: 0 });
    expect(h.server.records(BASE, TABLE)).toHaveLength(46);
  });

  it('a retried job never appends twice, nor skips a batch because another run wrote the same rows', async () => {
    const h = await harness({}, LABELS, 0);
    const rows = movies(25);
    // An earlier run appended the same rows moments ago: they must not be taken for this run's.
    await h.destination({ mode: 'append', key: undefined }).write(result(rows), { ...h.ctx, runId: 'run-0' });
    // This run's first attempt: its first POST is applied but the answer is lost; its worker
    // dies before sending the second.
    h.server.fail({ status: 422, method: 'POST', afterApply: true });
    let posts = 0;
    const dying: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && ++posts === 2) throw new Error('worker killed');
      return fetch(input, init);
    };
    const first = h.destination({ mode: 'append', key: undefined }, { fetch: h.clock.fetch(dying) });
    await expect(first.write(result(rows), h.ctx)).rejects.toThrow();
    const landed = h.server.records(BASE, TABLE).length - 25;
    expect(landed).toBeGreaterThanOrEqual(10);
    expect(landed).toBeLessThanOrEqual(15);

    h.clock.advance(5_000);
    const retried = await h.destination({ mode: 'append', key: undefined }).write(result(rows), h.ctx);
    expect(retried).toMatchObject({ created: 25 - landed, unchanged: landed });
    const titles = h.server.records(BASE, TABLE).map((r) => r.fields['Title']);
    expect(titles).toHaveLength(50);
    for (const row of rows) expect(titles.filter((t) => t === row[1])).toHaveLength(2);
    // Retrying the finished run appends nothing.
    const again = await h.destination({ mode: 'append', key: undefined }).write(result(rows), h.ctx);
    expect(again).toMatchObject({ created: 0, unchanged: 25 });
    expect(h.server.records(BASE, TABLE)).toHaveLength(50);
  });

  it('checks whether an ambiguously failed POST landed before sending it again', async () => {
    const h = await harness();
    h.server.fail({ status: 502, method: 'POST', afterApply: true });
    const outcome = await h.destination({ mode: 'append', key: undefined }).write(result(movies(15)), h.ctx);
    expect(outcome.created).toBe(15);
    expect(h.server.records(BASE, TABLE)).toHaveLength(15);
    expect(h.server.writes().filter((w) => w.method === 'POST')).toHaveLength(2);
  });

  it('with a key, skips rows whose key exists and creates the rest through performUpsert', async () => {
    const h = await harness();
    const destination = h.destination({ mode: 'append' });
    await destination.write(result(movies(8)), h.ctx);
    h.server.requests.length = 0;
    const outcome = await destination.write(result(movies(12)), h.ctx);
    expect(outcome).toMatchObject({ created: 4, unchanged: 8 });
    const list = h.server.requests[0]!;
    expect(list.query.getAll('fields[]')).toEqual(['Movie ID']);
    expect(bodyOf(h.server.writes()[0]!).performUpsert).toEqual({ fieldsToMergeOn: ['Movie ID'] });
    expect(h.server.records(BASE, TABLE)).toHaveLength(12);
  });
});

describe('AirtableDestination errors and limits', () => {
  it('waits out the 30-second lock after a 429, then succeeds', async () => {
    const h = await harness();
    h.server.lock(BASE); // someone else exceeded the base's limit just now
    const start = h.clock.now();
    const outcome = await h.destination().write(result(movies(3)), h.ctx);
    expect(outcome.created).toBe(3);
    const [limited, ...rest] = h.server.requests;
    expect(limited!.status).toBe(429);
    expect(rest.every((r) => r.status === 200)).toBe(true);
    expect(rest[0]!.at - start).toBeGreaterThanOrEqual(30_000);
    expect(h.logs.filter((l) => l.level === 'warn' && l.message.includes('rate limit'))).toHaveLength(1);
  });

  it('respects Retry-After when the 429 carries one', async () => {
    const h = await harness({ retryAfterSeconds: 45, lockMs: 45_000 });
    h.server.lock(BASE);
    const start = h.clock.now();
    await h.destination().write(result(movies(3)), h.ctx);
    expect(h.server.requests.filter((r) => r.status === 429)).toHaveLength(1);
    expect(h.server.requests[1]!.at - start).toBeGreaterThanOrEqual(45_000);
  });

  it('retries 5xx with backoff', async () => {
    const h = await harness();
    h.server.fail({ status: 503, method: 'PATCH', times: 2 });
    const outcome = await h.destination().write(result(movies(3)), h.ctx);
    expect(outcome.created).toBe(3);
    const patches = h.server.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.status)).toEqual([503, 503, 200]);
    expect(patches[2]!.at - patches[0]!.at).toBeGreaterThanOrEqual(250 + 500); // jittered 500 ms, 1 s
  });

  it('a DELETE applied before its response was lost counts as done on retry', async () => {
    const h = await harness();
    await h.destination().write(result(movies(4)), h.ctx);
    h.server.fail({ status: 500, method: 'DELETE', afterApply: true });
    const outcome = await h.destination({ onMissing: 'delete' }).write(result(movies(1)), h.ctx);
    expect(outcome.deleted).toBe(3);
    expect(h.server.records(BASE, TABLE)).toHaveLength(1);
  });

  it("surfaces Airtable's message for other errors without retrying", async () => {
    const h = await harness({}, ['Movie ID', 'Title']);
    const error = await h
      .destination()
      .write(result(movies(2)), h.ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(422);
    expect((error as Error).message).toContain('UNKNOWN_FIELD_NAME: Unknown field name: "Budget"');
    expect(h.server.requests).toHaveLength(1);
  });

  it('requires STRATA_AIRTABLE_TOKEN and never shows the token', async () => {
    const h = await harness();
    const withoutToken = { ...h.ctx, env: { STRATA_AIRTABLE_ENDPOINT_URL: h.server.url } };
    const missing = h.destination().write(result(movies(1)), withoutToken);
    await expect(missing).rejects.toBeInstanceOf(DestinationError);
    await expect(missing).rejects.toThrow(/STRATA_AIRTABLE_TOKEN is not set/);
    await expect(h.destination().plan(result(movies(1)), withoutToken)).rejects.toThrow(
      /STRATA_AIRTABLE_TOKEN/,
    );
    expect(h.server.requests).toHaveLength(0);

    const wrong = { ...h.ctx, env: { ...h.ctx.env, STRATA_AIRTABLE_TOKEN: 'patWRONGTOKEN123' } };
    const error = await h
      .destination()
      .write(result(movies(1)), wrong)
      .then(() => new Error('no error'))
      .catch((e: unknown) => e as Error);
    expect(error.message).toContain('401');
    expect(error.message).not.toContain('patWRONGTOKEN123');
    await h.destination().write(result(movies(30)), h.ctx);
    const said = JSON.stringify(h.logs) + h.destination().describe();
    expect(said).not.toContain(h.server.token);
    expect(h.server.requests.at(-1)!.authorization).toBe(`Bearer ${h.server.token}`);
  });

  it('reads the base id from env: and refuses bad definitions before any request', async () => {
    const h = await harness();
    const ctx = { ...h.ctx, env: { ...h.ctx.env, MOVIES_BASE: BASE } };
    expect(h.destination({ baseId: 'env:MOVIES_BASE' }).describe()).toBe('airtable env:MOVIES_BASE/Movies');
    expect(await h.destination({ baseId: 'env:MOVIES_BASE' }).write(result(movies(2)), ctx)).toMatchObject({
      created: 2,
    });
    await expect(h.destination({ baseId: 'env:NOPE' }).write(result(movies(2)), ctx)).rejects.toThrow(
      /environment variable NOPE is not set/,
    );
    await expect(h.destination({ key: undefined }).write(result(movies(2)), ctx)).rejects.toThrow(
      /upsert needs key/,
    );
    await expect(h.destination().write(result([movie(1), movie(1)]), ctx)).rejects.toThrow(/duplicate key/);
    await expect(h.destination().write(result([[null, 'x', null, null, null, null]]), ctx)).rejects.toThrow(
      /empty key/,
    );
    await expect(h.destination({ key: ['nope'] }).write(result(movies(1)), ctx)).rejects.toThrow(
      /key column nope/,
    );
    expect(h.server.requests.filter((r) => r.method !== 'GET').length).toBe(1);
  });
});

describe('AirtableDestination plan (dry run)', () => {
  it('reads only and lists the write calls it would make', async () => {
    const h = await harness();
    await h.destination().write(result(movies(25)), h.ctx);
    h.server.requests.length = 0;
    const rows = movies(31, 3);
    rows[0]![1] = 'Renamed';
    const plan = await h.destination({ onMissing: 'delete' }).plan(result(rows), h.ctx);
    expect(h.server.writes()).toEqual([]);
    expect(h.server.requests.every((r) => r.method === 'GET')).toBe(true);
    expect(plan).toMatchObject({
      destination: `airtable ${BASE}/${TABLE}`,
      creates: 8,
      updates: 1,
      deletes: 2,
      unchanged: 22,
      reads: 1,
    });
    expect(plan.apiCalls.map((c) => [c.method, c.endpoint, c.description])).toEqual([
      ['PATCH', `/v0/${BASE}/${TABLE}`, 'update 1 records'],
      ['PATCH', `/v0/${BASE}/${TABLE}`, 'create 8 records (upsert on Movie ID)'],
      ['DELETE', `/v0/${BASE}/${TABLE}`, 'delete 2 records'],
    ]);
    expect(plan.details[0]).toBe('update movie_id=3: Title "Movie 3" -> "Renamed"');
    expect(plan.details.at(-1)).toBe('... and 1 more');
    expect(JSON.stringify(plan)).not.toContain(h.server.token);
  });
});

describe('AirtableDestination throughput', () => {
  it('keeps a 200-record upsert at 5 requests per second or fewer, with no 429', async () => {
    const h = await harness();
    const start = h.clock.now();
    await h.destination().write(result(movies(200)), h.ctx);
    const times = h.server.requests.map((r) => r.at);
    expect(h.server.requests).toHaveLength(21); // 1 list + 20 PATCH
    expect(h.server.requests.every((r) => r.status === 200)).toBe(true);
    expect(maxInWindow(times, 1000)).toBe(5);
    // 21 requests: 5 at once, then 5 per 1,050 ms (a little slack so late arrivals never make
    // 6 in Airtable's second): the last leaves 4 x 1,050 ms after the first.
    expect(Math.max(...times) - start).toBe(4200);
  });

  it('stays within 3% of the pacing ceiling on a 10,000-record upsert (virtual time)', async () => {
    const h = await harness();
    h.server.insert(
      BASE,
      TABLE,
      movies(10_000).map((row) => Object.fromEntries(LABELS.map((l, i) => [l, row[i]]))),
    );
    const rows = movies(10_000).map((row) => [
      ...row.slice(0, 1),
      `${String(row[1])} (new cut)`,
      ...row.slice(2),
    ]);
    const start = h.clock.now();
    const outcome = await h.destination().write(result(rows), h.ctx);
    const seconds = (Math.max(...h.server.requests.map((r) => r.at)) - start) / 1000 + 0.2;
    expect(outcome).toMatchObject({ updated: 10_000, apiCalls: 1100 });
    expect(h.server.requests.every((r) => r.status === 200)).toBe(true);
    expect(
      maxInWindow(
        h.server.requests.map((r) => r.at),
        1000,
      ),
    ).toBe(5);
    // 1,100 requests (100 list pages, 1,000 writes) at 5 per 1,050 ms: at most 43.3 records/s.
    const ceiling = 10_000 / ((1100 / 5) * 1.05);
    expect(10_000 / seconds).toBeGreaterThanOrEqual(0.97 * ceiling);
  });

  it('pipelines requests on the real clock (80 ms round trips)', async () => {
    // The client paces at 5 per 1000 ms by its own clock; arrivals at the server jitter by a
    // few tens of ms (the first requests open connections), so a server counting a strict
    // 1000 ms window could see 6. This test is about pipelining, so the fake counts over
    // 800 ms; the fake-clock tests above check the pacing exactly.
    const server = await startFakeAirtable({ latencyMs: 80, rateLimit: { requests: 5, windowMs: 800 } });
    servers.push(server);
    server.createTable(BASE, TABLE, LABELS);
    server.insert(
      BASE,
      TABLE,
      movies(150).map((row) => Object.fromEntries(LABELS.map((l, i) => [l, row[i]]))),
    );
    const rows = movies(150).map((row) => [...row.slice(0, 2), 1, ...row.slice(3)]);
    const ctx: DestinationContext = {
      limiter: new InMemoryRateLimiter(),
      retry: DEFAULT_RETRY,
      runId: 'run-real',
      tracker: 'movie-status',
      env: { STRATA_AIRTABLE_TOKEN: server.token, STRATA_AIRTABLE_ENDPOINT_URL: server.url },
      log: { info: () => {}, warn: () => {} },
    };
    const destination = new AirtableDestination({
      type: 'airtable',
      baseId: BASE,
      table: TABLE,
      mode: 'upsert',
      key: ['movie_id'],
    });
    const outcome = await destination.write(result(rows), ctx);
    expect(outcome).toMatchObject({ updated: 150, apiCalls: 17 }); // 2 pages + 15 PATCH
    expect(server.requests.every((r) => r.status === 200)).toBe(true);
    // Pipelined: a request leaves while others are still on their 80 ms round trip. Counted by
    // the server, not timed, so a busy machine cannot make it fail (bench:sync measures speed).
    expect(server.maxInFlight).toBeGreaterThan(1);
  });
});
