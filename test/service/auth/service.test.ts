/**
 * `strata serve` with authentication: the real NestJS app called with fetch. API keys from a
 * file (revoked without a restart), HS256 tokens, a JWKS served here, no `auth:` at all; and
 * no credential in any log line or response.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { REDACTED, redact } from '../../../src/engines/secrets.js';
import { generateApiKey, hashApiKey, type ApiKeyEntry } from '../../../src/service/auth/api-keys.js';
import { createService } from '../../../src/service/create-service.js';
import {
  capturingLogger,
  createProject,
  deleteKeys,
  REDIS_URL,
  uniquePrefix,
  type TestProject,
} from '../support.js';
import {
  AUDIENCE,
  HS256_SECRET,
  hs256Token,
  ISSUER,
  signedToken,
  signingKey,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from './support.js';

const SECRET_VARIABLE = 'STRATA_TEST_AUTH_HS256_SECRET';
const prefix = uniquePrefix('auth');
const projects: TestProject[] = [];
const apps: INestApplication[] = [];

beforeAll(() => {
  process.env[SECRET_VARIABLE] = HS256_SECRET;
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await deleteKeys(prefix);
  for (const project of projects) project.cleanup();
  delete process.env[SECRET_VARIABLE];
});

interface Reply {
  status: number;
  challenge: string | null;
  text: string;
  body: Record<string, unknown>;
}

/** A project whose strata.yaml holds `auth`, and the service started on it (logs captured). */
async function serve(
  auth: Record<string, unknown> | undefined,
  options: { watch?: boolean; reloadIntervalMs?: number; keys?: ApiKeyEntry[] } = {},
) {
  const project = await createProject();
  projects.push(project);
  writeFileSync(
    join(project.dir, 'strata.yaml'),
    JSON.stringify({ duckdb: { database: project.database }, ...(auth ? { auth } : {}) }),
  );
  if (options.keys) writeFileSync(join(project.dir, 'keys.yaml'), JSON.stringify({ keys: options.keys }));
  const { logger, lines } = capturingLogger();
  const app = await createService({
    projectDir: project.dir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger,
    debounceMs: 50,
    reloadIntervalMs: options.reloadIntervalMs ?? 0,
    watch: options.watch ?? true,
  });
  apps.push(app);
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async (path: string, headers: Record<string, string> = {}): Promise<Reply> => {
    const response = await fetch(`${base}${path}`, { headers });
    const text = await response.text();
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      text,
      body: JSON.parse(text) as Record<string, unknown>,
    };
  };
  return {
    project,
    lines,
    call,
    whoami: (headers: Record<string, string> = {}) => call('/auth/whoami', headers),
  };
}

const bearer = (credential: string) => ({ Authorization: `Bearer ${credential}` });
const waitFor = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 10_000, interval: 50 });

/** Every credential a test presented: none may appear, whole or in part, in a log line or a reply. */
const presented: string[] = [];
function present<T extends string>(credential: T): T {
  presented.push(credential);
  return credential;
}

/** Pieces of a credential: every 8 characters of its random part (a JWT's signature). */
function pieces(credential: string): string[] {
  const secret = credential.includes('.') ? credential.split('.')[2]! : credential.replace(/^strata_/, '');
  const slices: string[] = [credential];
  for (let i = 0; i + 8 <= secret.length; i++) slices.push(secret.slice(i, i + 8));
  return slices;
}

function expectNoCredentialIn(texts: readonly string[]): void {
  for (const credential of presented)
    for (const piece of pieces(credential))
      for (const text of texts)
        expect(text.includes(piece), `a piece of a credential in: ${text}`).toBe(false);
}

function keyEntry(id: string, key: string, more: Partial<ApiKeyEntry> = {}): ApiKeyEntry {
  return { id, hash: hashApiKey(key), roles: ['vendor'], attributes: { vendor_id: 'VND-054' }, ...more };
}

describe('API keys and HS256 tokens', () => {
  let service: Awaited<ReturnType<typeof serve>>;
  const portal = present(generateApiKey());
  const retired = present(generateApiKey());
  const writeKeys = (entries: ApiKeyEntry[]) =>
    writeFileSync(join(service.project.dir, 'keys.yaml'), JSON.stringify({ keys: entries }));

  beforeAll(async () => {
    service = await serve({
      apiKeys: { file: 'keys.yaml' },
      jwt: {
        secret: `env:${SECRET_VARIABLE}`,
        issuer: ISSUER,
        audience: AUDIENCE,
        roles: 'realm_access.roles',
        attributes: { vendor_id: 'vendor.id' },
      },
    });
    writeKeys([keyEntry('portal', portal), keyEntry('retired', retired, { revoked: true })]);
    // The file appeared after the service started: it is picked up without a restart.
    await waitFor(async () => expect((await service.whoami({ 'X-Api-Key': portal })).status).toBe(200));
  });

  test('GET /health needs no credential', async () => {
    expect((await service.call('/health')).status).toBe(200);
  });

  test('no credential: 401 with a Bearer challenge and a reason', async () => {
    const reply = await service.whoami();
    expect(reply).toMatchObject({
      status: 401,
      challenge: 'Bearer realm="strata"',
      body: { statusCode: 401, error: 'Unauthorized', reason: 'missing_credential' },
    });
    expect(reply.body.message).toMatch(/Authorization: Bearer <API key or JWT>, or X-Api-Key/);
  });

  test('an API key, as X-Api-Key or Bearer, is its entry', async () => {
    const expected = {
      method: 'api_key',
      subject: 'portal',
      roles: ['vendor'],
      attributes: { vendor_id: 'VND-054' },
    };
    expect(await service.whoami({ 'X-Api-Key': portal })).toMatchObject({ status: 200, body: expected });
    expect(await service.whoami(bearer(portal))).toMatchObject({ status: 200, body: expected });
  });

  test('unknown, revoked, malformed and doubled credentials are refused, each with its reason', async () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ 'X-Api-Key': present(generateApiKey()) }, 'unknown_api_key', 'invalid_token'],
      [bearer(retired), 'revoked_api_key', 'invalid_token'],
      [
        { Authorization: `Basic ${Buffer.from(`user:${portal}`).toString('base64')}` },
        'malformed_credential',
        'invalid_request',
      ],
      [{ ...bearer(portal), 'X-Api-Key': portal }, 'several_credentials', 'invalid_request'],
    ];
    for (const [headers, reason, error] of cases) {
      const reply = await service.whoami(headers);
      expect(reply).toMatchObject({ status: 401, body: { reason } });
      expect(reply.challenge).toMatch(
        new RegExp(`^Bearer realm="strata", error="${error}", error_description="`),
      );
    }
  });

  test('revoking a key in the file takes effect without a restart; so does adding one', async () => {
    const added = present(generateApiKey());
    writeKeys([
      keyEntry('portal', portal, { revoked: true }),
      keyEntry('added', added, { roles: ['finance'] }),
    ]);
    await waitFor(async () =>
      expect((await service.whoami({ 'X-Api-Key': portal })).body.reason).toBe('revoked_api_key'),
    );
    expect(await service.whoami({ 'X-Api-Key': added })).toMatchObject({
      status: 200,
      body: { subject: 'added', roles: ['finance'] },
    });

    // A broken edit admits none of the file's keys (it never brings a revoked one back)...
    writeFileSync(join(service.project.dir, 'keys.yaml'), 'keys: [ {');
    await waitFor(async () =>
      expect((await service.whoami({ 'X-Api-Key': added })).body.reason).toBe('unknown_api_key'),
    );
    expect(service.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        component: 'auth',
        msg: expect.stringMatching(/^API keys: .*keys\.yaml:1:\d+: error: /),
      }),
    );
    // ...until it is fixed.
    writeKeys([keyEntry('portal', portal)]);
    await waitFor(async () => expect((await service.whoami({ 'X-Api-Key': portal })).status).toBe(200));
    expect(service.lines).toContainEqual(expect.objectContaining({ msg: 'API keys are valid again' }));
  });

  test('an HS256 token is its caller, from the configured claims', async () => {
    const token = present(
      await hs256Token({
        claims: { realm_access: { roles: ['vendor', 'studio'] }, vendor: { id: 'VND-054' } },
      }),
    );
    expect(await service.whoami(bearer(token))).toMatchObject({
      status: 200,
      body: {
        method: 'jwt',
        subject: 'user-1',
        roles: ['vendor', 'studio'],
        attributes: { vendor_id: 'VND-054' },
      },
    });
  });

  test.each([
    ['expired', { expiresIn: -120 }, 'token_expired'],
    ['not yet valid', { notBefore: 120 }, 'token_not_yet_valid'],
    ['for another audience', { audience: 'another-app' }, 'wrong_audience'],
    ['from another issuer', { issuer: 'https://elsewhere.test/' }, 'wrong_issuer'],
  ])('a token %s: 401', async (_what, options, reason) => {
    const reply = await service.whoami(bearer(present(await hs256Token(options))));
    expect(reply).toMatchObject({ status: 401, body: { reason } });
    expect(reply.challenge).toMatch(/error="invalid_token"/);
  });

  test('a token signed with another secret: 401 wrong signature', async () => {
    const forged = present(await hs256Token({}, 'another-secret-of-at-least-32-bytes-length'));
    expect(await service.whoami(bearer(forged))).toMatchObject({
      status: 401,
      body: { reason: 'invalid_signature' },
    });
  });

  test('no credential in the logs nor the replies; refusals logged by reason; the HS256 secret is redacted', async () => {
    const replies = await Promise.all(
      presented.flatMap((credential) => [
        service.whoami(bearer(credential)),
        service.whoami({ 'X-Api-Key': credential }),
      ]),
    );
    expectNoCredentialIn(replies.flatMap((r) => [r.text, r.challenge ?? '']));
    const logged = service.lines.map((line) => JSON.stringify(line));
    expectNoCredentialIn(logged);
    expect(service.lines).toContainEqual(
      expect.objectContaining({
        component: 'auth',
        msg: 'request refused',
        reason: 'revoked_api_key',
        path: '/auth/whoami',
      }),
    );
    expect(redact(`secret ${HS256_SECRET}`)).toBe(`secret ${REDACTED}`);
    expect(logged.join('\n')).not.toContain(HS256_SECRET);
  });
});

describe('tokens signed by an identity provider (JWKS)', () => {
  let service: Awaited<ReturnType<typeof serve>>;
  let jwks: JwksServer;
  let rsa: SigningKey;
  let ec: SigningKey;
  let unpublished: SigningKey;

  beforeAll(async () => {
    [rsa, ec, unpublished] = await Promise.all([
      signingKey('RS256', 'rsa-1'),
      signingKey('ES256', 'ec-1'),
      signingKey('ES256', 'ec-9'),
    ]);
    jwks = await startJwksServer([rsa.jwk, ec.jwk]);
    service = await serve({
      jwt: {
        jwksUrl: jwks.url,
        issuer: ISSUER,
        audience: AUDIENCE,
        roles: 'scope',
        attributes: { vendor_id: 'vid' },
      },
    });
  });
  afterAll(() => jwks?.close());

  test('RS256 and ES256 tokens of the published keys are accepted', async () => {
    for (const key of [rsa, ec]) {
      const token = present(await signedToken(key, { claims: { scope: 'vendor reader', vid: 'VND-054' } }));
      expect(await service.whoami(bearer(token))).toMatchObject({
        status: 200,
        body: { method: 'jwt', roles: ['vendor', 'reader'], attributes: { vendor_id: 'VND-054' } },
      });
    }
    expect(jwks.requests).toBeGreaterThan(0);
  });

  test('an unpublished key, the wrong audience: 401; API keys are not accepted here', async () => {
    const stranger = present(await signedToken(unpublished));
    expect(await service.whoami(bearer(stranger))).toMatchObject({
      status: 401,
      body: { reason: 'unknown_signing_key' },
    });
    const elsewhere = present(await signedToken(ec, { audience: 'other' }));
    expect(await service.whoami(bearer(elsewhere))).toMatchObject({
      status: 401,
      body: { reason: 'wrong_audience' },
    });
    expect(await service.whoami({ 'X-Api-Key': present(generateApiKey()) })).toMatchObject({
      status: 401,
      body: { reason: 'api_keys_not_accepted' },
    });
    expectNoCredentialIn(service.lines.map((line) => JSON.stringify(line)));
  });
});

describe('without file watching', () => {
  test('a revocation takes effect at the next reload of the definitions', async () => {
    const key = present(generateApiKey());
    const service = await serve(
      { apiKeys: { file: 'keys.yaml' } },
      { watch: false, reloadIntervalMs: 200, keys: [keyEntry('portal', key)] },
    );
    expect((await service.whoami({ 'X-Api-Key': key })).status).toBe(200);
    writeFileSync(
      join(service.project.dir, 'keys.yaml'),
      JSON.stringify({ keys: [keyEntry('portal', key, { revoked: true })] }),
    );
    await waitFor(async () =>
      expect((await service.whoami({ 'X-Api-Key': key })).body.reason).toBe('revoked_api_key'),
    );
  });
});

describe('auth settings the service cannot use', () => {
  test('a missing JWT secret: 503 for everyone, the log says why', async () => {
    const service = await serve({ jwt: { secret: 'env:STRATA_TEST_AUTH_UNSET_SECRET' } });
    const reply = await service.whoami(bearer(present(await hs256Token())));
    expect(reply).toMatchObject({ status: 503, challenge: null, body: { reason: 'auth_misconfigured' } });
    expect(service.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        component: 'auth',
        msg: 'auth.jwt.secret: environment variable STRATA_TEST_AUTH_UNSET_SECRET is not set: every request is refused (503)',
      }),
    );
    expect((await service.call('/health')).status).toBe(200);
  });
});

describe('no auth: configured', () => {
  test('every route but /health answers 401, saying how to configure it', async () => {
    const service = await serve(undefined);
    expect((await service.call('/health')).status).toBe(200);
    const reply = await service.whoami(bearer(present(generateApiKey())));
    expect(reply).toMatchObject({
      status: 401,
      challenge: 'Bearer realm="strata"',
      body: { reason: 'auth_not_configured' },
    });
    expect(reply.body.message).toMatch(/add an auth: block .* to strata\.yaml, see docs\/auth\.md/);
    expect(service.lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        component: 'auth',
        msg: expect.stringMatching(/no authentication configured/),
      }),
    );
  });
});
