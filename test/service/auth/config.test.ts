/** strata.yaml `auth:`: what `strata validate` accepts and what it says about the rest. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatDiagnostic } from '../../../src/core/diagnostics.js';
import { readConfig } from '../../../src/project/load-project.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-auth-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(yaml: string): string[] {
  writeFileSync(join(dir, 'strata.yaml'), yaml);
  return readConfig(dir).diagnostics.map(formatDiagnostic);
}

describe('strata.yaml auth:', () => {
  test('API keys and an HS256 or JWKS JWT setup are accepted', () => {
    expect(problems('auth:\n  apiKeys: { file: keys.yaml }\n  jwt:\n    secret: env:JWT_SECRET\n')).toEqual(
      [],
    );
    expect(
      problems(
        [
          'auth:',
          '  jwt:',
          '    jwksUrl: https://idp.example.com/realms/studio/protocol/openid-connect/certs',
          '    issuer: https://idp.example.com/realms/studio',
          '    audience: [strata, strata-api]',
          '    algorithms: [RS256]',
          '    clockTolerance: 1m',
          '    roles: realm_access.roles',
          '    attributes: { vendor_id: vendor.id, tenant: https://example.com/tenant }',
          '',
        ].join('\n'),
      ),
    ).toEqual([]);
    expect(readConfig(dir).config.auth?.jwt?.attributes).toEqual({
      vendor_id: 'vendor.id',
      tenant: 'https://example.com/tenant',
    });
  });

  test.each([
    [
      'a secret written inline',
      'jwt: { secret: hunter2hunter2 }',
      /credentials come from the environment: write env:NAME/,
    ],
    [
      'both a secret and a JWKS',
      'jwt: { secret: env:S, jwksUrl: "https://idp.test/jwks", issuer: i, audience: a }',
      /either `secret` \(HS256\) or `jwksUrl`/,
    ],
    ['neither', 'jwt: { issuer: i }', /either `secret` \(HS256\) or `jwksUrl`/],
    [
      'a JWKS without audience',
      'jwt: { jwksUrl: "https://idp.test/jwks", issuer: i }',
      /with jwksUrl, give `audience`/,
    ],
    [
      'a JWKS over plain HTTP elsewhere',
      'jwt: { jwksUrl: "http://idp.test/jwks", issuer: i, audience: a }',
      /must be https \(http only to localhost\)/,
    ],
    [
      'an RS algorithm with a secret',
      'jwt: { secret: env:S, algorithms: [RS256] }',
      /RS256 does not go with `secret`/,
    ],
    ['a large clock tolerance', 'jwt: { secret: env:S, clockTolerance: 1h }', /at most 5m/],
    [
      'a bad attribute name',
      'jwt: { secret: env:S, attributes: { vendor-id: vendor } }',
      /invalid key 'vendor-id' at auth\.jwt\.attributes: an attribute name/,
    ],
    [
      'an unknown key',
      'apiKeys: { files: keys.yaml }',
      /unknown key 'files' at auth\.apiKeys \(did you mean file\?\)/,
    ],
  ])('refused: %s', (_what, block, message) => {
    const found = problems(`auth:\n  ${block}\n`);
    expect(found).toContainEqual(expect.stringMatching(message));
    for (const problem of found) expect(problem).toMatch(/strata\.yaml:\d+:\d+: error: /);
  });
});
