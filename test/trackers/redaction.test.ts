/** Issue 7 §5: the redaction every printed, logged or stored message goes through. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configuredSecrets, REDACTED, Redactor } from '../../src/engines/secrets.js';

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('Redactor', () => {
  it('masks a secret as is, URL-encoded, JSON-escaped and in base64', () => {
    const secret = 'pat.S3cr3t/+="tok"';
    const redactor = new Redactor();
    redactor.add(secret);
    const echoes = [
      `Invalid token ${secret}`,
      `GET /v0/x?token=${encodeURIComponent(secret)}`,
      JSON.stringify({ msg: `rejected ${secret}` }),
      `Authorization: Basic ${base64(secret)}`,
    ];
    for (const echo of echoes) {
      const masked = redactor.redact(echo);
      expect(masked).toContain(REDACTED);
      expect(masked).not.toContain('S3cr3t');
    }
    // A JSON line stays JSON: the escaped form is masked whole.
    expect(JSON.parse(redactor.redact(echoes[2]!))).toEqual({ msg: `rejected ${REDACTED}` });
  });

  it('of a connection URL masks the password and its Basic auth header, not the server', () => {
    const redactor = new Redactor();
    redactor.add('postgres://report%40bi:p%40ss-word@db.internal:5432/bi');
    expect(redactor.redact('password authentication failed: p@ss-word at db.internal:5432/bi')).toBe(
      `password authentication failed: ${REDACTED} at db.internal:5432/bi`,
    );
    expect(redactor.redact(`echo ${base64('report@bi:p@ss-word')}`)).toBe(`echo ${REDACTED}`);
    redactor.add('redis://127.0.0.1:6379/0');
    expect(redactor.redact('redis://127.0.0.1:6379/0 is down')).toBe('redis://127.0.0.1:6379/0 is down');
  });

  it('masks strings anywhere in objects, arrays and errors, and ignores very short values', () => {
    const redactor = new Redactor();
    redactor.add('hunter22');
    redactor.add('abc');
    const error = new Error('echo hunter22');
    const masked = redactor.redactDeep({ a: ['x hunter22'], b: { c: 'hunter22', n: 1 }, error, abc: 'abc' });
    expect(masked).toMatchObject({ a: [`x ${REDACTED}`], b: { c: REDACTED, n: 1 }, abc: 'abc' });
    expect(masked.error).toBeInstanceOf(Error);
    expect(masked.error.message).toBe(`echo ${REDACTED}`);
    expect(masked.error.stack).not.toContain('hunter22');
  });
});

describe('configuredSecrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are env: references of strata.yaml and trackers, credential variables and the Google private key', () => {
    const keyFile = join(dir, 'key.json');
    writeFileSync(
      keyFile,
      JSON.stringify({ client_email: 'a@b', private_key: '-----BEGIN KEY-----\nMIIkey\n' }),
    );
    const env = {
      CATALOG_URL: 'postgres://u:catalog-pw@db/cat',
      BASE_ID: 'appBase123',
      STRATA_AIRTABLE_TOKEN: 'pat-token',
      STRATA_GOOGLE_CREDENTIALS: keyFile,
      MYSQL_URL: 'mysql://u:maria-pw@db/test',
      UNRELATED: 'not a secret',
    };
    const values = configuredSecrets(
      {
        config: { warehouse: { catalog: 'postgres', connection: 'env:CATALOG_URL' } },
        trackers: [{ definition: { destinations: [{ type: 'airtable', baseId: 'env:BASE_ID' }] } }],
      },
      env,
    );
    expect(values.sort()).toEqual(
      [
        env.CATALOG_URL,
        env.BASE_ID,
        env.STRATA_AIRTABLE_TOKEN,
        env.MYSQL_URL,
        '-----BEGIN KEY-----\nMIIkey\n',
      ].sort(),
    );
  });

  it("include the pipelines' env: references: source connection, NATS url, enrichment endpoint and headers", () => {
    const env = {
      STUDIO_DB_URL: 'postgres://repl:db-pw-1@db/studio',
      NATS_URL: 'nats://user:nats-pw-2@nats:4222',
      EDGE_URL: 'https://edge.example/graphql',
      EDGE_TOKEN: 'Bearer edge-token-3',
    };
    const values = configuredSecrets(
      {
        pipelines: [
          { definition: { source: { type: 'postgres', connection: 'env:STUDIO_DB_URL' } } },
          {
            definition: {
              source: { type: 'debezium', nats: { url: 'env:NATS_URL', stream: 's' } },
              processors: [
                {
                  type: 'graphql_enrich',
                  endpoint: 'env:EDGE_URL',
                  headers: { Authorization: 'env:EDGE_TOKEN' },
                },
              ],
            },
          },
        ],
      },
      env,
    );
    expect(values).toEqual(expect.arrayContaining(Object.values(env)));
  });
});
