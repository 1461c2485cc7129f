/**
 * The framework-free verification: credentials read from headers, API keys (hashed, revoked,
 * from a file and the environment), JWTs (HS256 and a JWKS served here), claims to callers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuthConfig } from '../../../src/core/definitions/schema.js';
import {
  ApiKeyStore,
  generateApiKey,
  hashApiKey,
  parseApiKeys,
  type ApiKeyEntry,
} from '../../../src/service/auth/api-keys.js';
import { createAuthenticator } from '../../../src/service/auth/authenticator.js';
import { readCredential } from '../../../src/service/auth/credentials.js';
import { challenge, FAILURES, type FailureReason } from '../../../src/service/auth/failures.js';
import {
  AuthConfigError,
  callerFromClaims,
  claimAt,
  createJwtVerifier,
  rolesFromClaim,
  subjectOf,
} from '../../../src/service/auth/jwt.js';
import { attachPrincipal, callerOf, principalOf } from '../../../src/service/auth/principal.js';
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

const ENV = { STRATA_TEST_JWT_SECRET: HS256_SECRET };
const reasonOf = (outcome: object) => ('reason' in outcome ? outcome.reason : 'accepted');

function entry(id: string, key: string, more: Partial<ApiKeyEntry> = {}): ApiKeyEntry {
  return { id, hash: hashApiKey(key), roles: ['vendor'], attributes: { vendor_id: 'VND-054' }, ...more };
}

describe('the credential of a request', () => {
  test('Bearer carries a JWT (by its shape) or an API key; X-Api-Key an API key', () => {
    expect(readCredential({ authorization: 'Bearer aaa.bbb.ccc' })).toEqual({
      kind: 'jwt',
      value: 'aaa.bbb.ccc',
    });
    expect(readCredential({ authorization: 'bearer strata_abc' })).toEqual({
      kind: 'api_key',
      value: 'strata_abc',
    });
    expect(readCredential({ 'x-api-key': 'strata_abc' })).toEqual({ kind: 'api_key', value: 'strata_abc' });
  });

  test('missing, malformed, or two of them', () => {
    expect(readCredential({})).toMatchObject({ reason: 'missing_credential' });
    for (const authorization of ['Basic dXNlcjpwdw==', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer é'])
      expect(readCredential({ authorization })).toMatchObject({ reason: 'malformed_credential' });
    expect(readCredential({ 'x-api-key': 'a, b' })).toMatchObject({ reason: 'malformed_credential' });
    expect(readCredential({ authorization: 'Bearer a', 'x-api-key': 'b' })).toMatchObject({
      reason: 'several_credentials',
    });
  });

  test('the challenge follows RFC 6750 and quotes no credential', () => {
    expect(challenge('missing_credential')).toBe('Bearer realm="strata"');
    expect(challenge('malformed_credential')).toMatch(
      /^Bearer realm="strata", error="invalid_request", error_description="/,
    );
    expect(challenge('token_expired')).toBe(
      'Bearer realm="strata", error="invalid_token", error_description="the token has expired"',
    );
  });
});

describe('API keys', () => {
  const active = generateApiKey();
  const revoked = generateApiKey();
  const store = new ApiKeyStore([entry('portal', active), entry('old', revoked, { revoked: true })]);

  test('keys are 256 random bits behind a recognizable prefix, stored as SHA-256', () => {
    expect(active).toMatch(/^strata_[A-Za-z0-9_-]{43}$/);
    expect(active).not.toBe(revoked);
    expect(hashApiKey(active)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test('a known key is its entry, as a caller', () => {
    expect(store.verify(active)).toEqual({
      method: 'api_key',
      subject: 'portal',
      caller: { roles: ['vendor'], attributes: { vendor_id: 'VND-054' } },
    });
  });

  test('unknown and revoked keys are refused', () => {
    expect(store.verify(generateApiKey())).toEqual({ ok: false, reason: 'unknown_api_key' });
    expect(store.verify(revoked)).toEqual({ ok: false, reason: 'revoked_api_key' });
    // The hash itself is not a key.
    expect(store.verify(hashApiKey(active))).toMatchObject({ reason: 'unknown_api_key' });
  });

  test('a key listed twice is revoked when either entry says so', () => {
    const twice = new ApiKeyStore([entry('env', active), entry('file', active, { revoked: true })]);
    expect(twice.verify(active)).toMatchObject({ reason: 'revoked_api_key' });
  });

  test('the file format: problems point at the file, line and column', () => {
    const ok = parseApiKeys(
      `keys:\n  - id: a\n    hash: ${hashApiKey(active)}\n    roles: [vendor]\n    attributes: { vendor_id: 7 }\n`,
      'keys.yaml',
    );
    expect(ok).toEqual({
      entries: [{ id: 'a', hash: hashApiKey(active), roles: ['vendor'], attributes: { vendor_id: 7 } }],
    });
    expect(
      parseApiKeys(JSON.stringify({ keys: [{ id: 'a', hash: hashApiKey(active) }] }), 'keys.json'),
    ).toEqual({
      entries: [{ id: 'a', hash: hashApiKey(active), roles: [], attributes: {} }],
    });
    expect(parseApiKeys('keys:\n  - id: a\n    hash: md5:abc\n', 'keys.yaml')).toEqual({
      problems: [
        expect.stringMatching(/^keys\.yaml:3:11: error: expected sha256:<64 lower-case hex digits>/),
      ],
    });
    expect(parseApiKeys('keys:\n  - id: a\n    hash: x\n    rolez: []\n', 'k.yaml')).toMatchObject({
      problems: expect.arrayContaining([
        expect.stringMatching(
          /k\.yaml:4:5: error: unknown key 'rolez' at keys\[0\] \(did you mean roles\?\)/,
        ),
      ]),
    });
    const dup = `keys:\n  - { id: a, hash: ${hashApiKey(active)} }\n  - { id: a, hash: ${hashApiKey(revoked)} }\n`;
    expect(parseApiKeys(dup, 'k.yaml')).toEqual({ problems: ["k.yaml: error: id 'a' appears twice"] });
    expect(parseApiKeys('keys: [', 'k.yaml')).toMatchObject({
      problems: [expect.stringMatching(/^k\.yaml:1:\d+: error/)],
    });
  });

  describe('from a file and STRATA_API_KEYS', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'strata-keys-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('both sources count; the file is re-read on reload; a broken file admits none of its keys', () => {
      const fromEnv = generateApiKey();
      writeFileSync(join(dir, 'keys.yaml'), JSON.stringify({ keys: [entry('file', active)] }));
      const env = { STRATA_API_KEYS: JSON.stringify({ keys: [entry('env', fromEnv)] }) };
      const authenticator = createAuthenticator({ apiKeys: { file: 'keys.yaml' } }, dir, env);
      const keys = authenticator.apiKeys!;
      expect(keys.file).toBe(join(dir, 'keys.yaml'));
      expect(keys.store.verify(active)).toMatchObject({ subject: 'file' });
      expect(keys.store.verify(fromEnv)).toMatchObject({ subject: 'env' });

      writeFileSync(
        join(dir, 'keys.yaml'),
        JSON.stringify({ keys: [entry('file', active, { revoked: true })] }),
      );
      expect(keys.reload()).toEqual([]);
      expect(keys.store.verify(active)).toMatchObject({ reason: 'revoked_api_key' });

      writeFileSync(join(dir, 'keys.yaml'), 'keys: [ {');
      expect(keys.reload()[0]).toMatch(/keys\.yaml:1:\d+: error: /);
      expect(keys.store.verify(active)).toMatchObject({ reason: 'unknown_api_key' });
      expect(keys.store.verify(fromEnv)).toMatchObject({ subject: 'env' });

      rmSync(join(dir, 'keys.yaml'));
      expect(keys.reload()).toEqual([`${join(dir, 'keys.yaml')}: error: the file does not exist`]);
    });

    test('STRATA_API_KEYS_FILE names the file; without any source, API keys are not accepted', async () => {
      writeFileSync(join(dir, 'other.yaml'), JSON.stringify({ keys: [entry('other', active)] }));
      const viaEnv = createAuthenticator(undefined, dir, { STRATA_API_KEYS_FILE: join(dir, 'other.yaml') });
      expect(await viaEnv.authenticate({ 'x-api-key': active })).toMatchObject({ subject: 'other' });

      const jwtOnly = createAuthenticator({ jwt: { secret: 'env:STRATA_TEST_JWT_SECRET' } }, dir, ENV);
      expect(await jwtOnly.authenticate({ 'x-api-key': active })).toMatchObject({
        reason: 'api_keys_not_accepted',
      });
      const none = createAuthenticator(undefined, dir, {});
      expect(none.configured).toBe(false);
      expect(await none.authenticate({ 'x-api-key': active })).toMatchObject({
        reason: 'auth_not_configured',
      });
    });
  });
});

describe('the principal of a request', () => {
  test('attached by the guard, read by handlers; an unauthenticated request has no caller', () => {
    const request = {};
    expect(principalOf(request)).toBeUndefined();
    expect(() => callerOf(request)).toThrow(/not authenticated/);
    const caller = { roles: ['vendor'], attributes: { vendor_id: 'VND-054' } };
    attachPrincipal(request, { method: 'api_key', subject: 'portal', caller });
    expect(callerOf(request)).toBe(caller);
    expect(principalOf({})).toBeUndefined();
  });
});

describe('claims to a caller', () => {
  test('claim paths: nested, and keys holding dots (namespaced claims)', () => {
    const claims = {
      realm_access: { roles: ['a'] },
      'https://strata.test/roles': 'b c',
      org: { 'id.v2': 7 },
    };
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['a']);
    expect(claimAt(claims, 'https://strata.test/roles')).toBe('b c');
    expect(claimAt(claims, 'org.id.v2')).toBe(7);
    expect(claimAt(claims, 'realm_access.missing.deeper')).toBeUndefined();
    expect(claimAt(claims, 'constructor')).toBeUndefined();
  });

  test('roles: a list, or one string separated by spaces or commas; missing means none', () => {
    expect(rolesFromClaim(['finance', 'studio'])).toEqual(['finance', 'studio']);
    expect(rolesFromClaim('finance studio,vendor')).toEqual(['finance', 'studio', 'vendor']);
    expect(rolesFromClaim(undefined)).toEqual([]);
    expect(rolesFromClaim([1])).toBeUndefined();
    expect(rolesFromClaim({ a: 1 })).toBeUndefined();
  });

  test('the subject: sub, else the client of a machine token', () => {
    expect(subjectOf({ sub: 'u1', azp: 'c1' })).toBe('u1');
    expect(subjectOf({ azp: 'c1' })).toBe('c1');
    expect(subjectOf({ client_id: 'c2' })).toBe('c2');
    expect(subjectOf({})).toBe('(no subject)');
  });

  test('attributes by claim path; a missing one is left out; a non-scalar refuses the token', () => {
    const claims = { roles: 'vendor', vendor: { id: 'VND-054' }, tier: 3, staff: false };
    expect(
      callerFromClaims(claims, 'roles', { vendor_id: 'vendor.id', tier: 'tier', staff: 'staff', x: 'nope' }),
    ).toEqual({
      roles: ['vendor'],
      attributes: { vendor_id: 'VND-054', tier: 3, staff: false },
    });
    expect(callerFromClaims(claims, 'roles', { vendor_id: 'vendor' })).toMatchObject({
      reason: 'invalid_attribute_claim',
    });
    expect(callerFromClaims({ roles: 5 }, 'roles', {})).toMatchObject({ reason: 'invalid_roles_claim' });
  });
});

describe('HS256 tokens', () => {
  const config = {
    secret: 'env:STRATA_TEST_JWT_SECRET',
    issuer: ISSUER,
    audience: AUDIENCE,
    roles: 'realm_access.roles',
    attributes: { vendor_id: 'vendor_id' },
  };
  const verifier = createJwtVerifier(config, ENV);
  const claims = { realm_access: { roles: ['vendor'] }, vendor_id: 'VND-054' };

  test('a valid token is its caller', async () => {
    expect(await verifier.verify(await hs256Token({ claims }))).toEqual({
      method: 'jwt',
      subject: 'user-1',
      caller: { roles: ['vendor'], attributes: { vendor_id: 'VND-054' } },
    });
  });

  test.each<[string, () => Promise<string>, FailureReason]>([
    ['expired', () => hs256Token({ expiresIn: -120 }), 'token_expired'],
    ['not yet valid', () => hs256Token({ notBefore: 120 }), 'token_not_yet_valid'],
    ['without exp', () => hs256Token({ expiresIn: null }), 'token_missing_expiry'],
    ['for another audience', () => hs256Token({ audience: 'another-app' }), 'wrong_audience'],
    ['from another issuer', () => hs256Token({ issuer: 'https://evil.test/' }), 'wrong_issuer'],
    ['signed with another secret', () => hs256Token({}, `${HS256_SECRET}-not`), 'invalid_signature'],
    ['whose header has no alg', async () => (await hs256Token()).replace(/^[^.]+/, 'e30'), 'malformed_token'],
    ['not a JWT', async () => 'aaa.bbb.ccc', 'malformed_token'],
  ])('a token %s is refused', async (_what, token, reason) => {
    expect(reasonOf(await verifier.verify(await token()))).toBe(reason);
  });

  test('a small clock skew is tolerated (30 s by default)', async () => {
    expect(reasonOf(await verifier.verify(await hs256Token({ claims, expiresIn: -5 })))).toBe('accepted');
    expect(reasonOf(await verifier.verify(await hs256Token({ claims, notBefore: 5 })))).toBe('accepted');
  });

  test('an unsigned token (alg none) is refused', async () => {
    const body = Buffer.from(JSON.stringify({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 })).toString(
      'base64url',
    );
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    expect(reasonOf(await verifier.verify(none))).toBe('unsupported_algorithm');
  });

  test('the secret must be set and long enough', () => {
    expect(() => createJwtVerifier(config, {})).toThrow(
      new AuthConfigError('auth.jwt.secret: environment variable STRATA_TEST_JWT_SECRET is not set'),
    );
    expect(() => createJwtVerifier(config, { STRATA_TEST_JWT_SECRET: 'short' })).toThrow(
      /STRATA_TEST_JWT_SECRET holds 5 bytes; HS256 needs at least 32/,
    );
  });
});

describe('tokens verified with a JWKS served here', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let stranger: SigningKey;
  let jwks: JwksServer;
  const jwtConfig = (url: string): NonNullable<AuthConfig['jwt']> => ({
    jwksUrl: url,
    issuer: ISSUER,
    audience: AUDIENCE,
  });

  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([
      signingKey('RS256', 'rsa-1'),
      signingKey('ES256', 'ec-1'),
      signingKey('ES256', 'ec-2'),
    ]);
    jwks = await startJwksServer([rsa.jwk, ec.jwk]);
  });
  afterAll(() => jwks?.close());

  test('RS256 and ES256 tokens of published keys are accepted', async () => {
    const verifier = createJwtVerifier(jwtConfig(jwks.url));
    expect(await verifier.verify(await signedToken(rsa))).toMatchObject({
      subject: 'user-1',
      caller: { roles: ['vendor'] },
    });
    expect(await verifier.verify(await signedToken(ec))).toMatchObject({ subject: 'user-1' });
  });

  test('an unpublished key, a forged signature, the wrong audience or issuer are refused', async () => {
    const verifier = createJwtVerifier(jwtConfig(jwks.url));
    expect(reasonOf(await verifier.verify(await signedToken(stranger)))).toBe('unknown_signing_key');
    const forged = await signedToken({ ...stranger, kid: ec.kid });
    expect(reasonOf(await verifier.verify(forged))).toBe('invalid_signature');
    expect(reasonOf(await verifier.verify(await signedToken(ec, { audience: 'x' })))).toBe('wrong_audience');
    expect(reasonOf(await verifier.verify(await signedToken(ec, { issuer: 'x' })))).toBe('wrong_issuer');
    // An HS256 token signed with the public key's text (the classic algorithm confusion).
    expect(reasonOf(await verifier.verify(await hs256Token({}, JSON.stringify(rsa.jwk))))).toBe(
      'unsupported_algorithm',
    );
  });

  test('a JWKS endpoint that fails is the service unavailable (503), not a bad token', async () => {
    const down = await startJwksServer([ec.jwk]);
    down.failing = true;
    const verifier = createJwtVerifier(jwtConfig(down.url));
    const outcome = await verifier.verify(await signedToken(ec));
    await down.close();
    expect(outcome).toMatchObject({
      reason: 'signing_keys_unavailable',
      detail: expect.stringContaining('200 OK'),
    });
    expect(FAILURES.signing_keys_unavailable.status).toBe(503);
  });
});
