/**
 * JWT bearer tokens (jose): HS256 with a shared secret, or RS256/ES256 with the identity
 * provider's JWKS. Signature, `exp` (required), `nbf`, `iss` and `aud` are checked with a small
 * clock tolerance; the caller's roles and attributes come from configurable claim paths.
 */
import {
  createRemoteJWKSet,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyOptions,
  type JWTVerifyResult,
} from 'jose';
import type { Caller } from '../../core/access/policy.js';
import { durationMs, type JwtAuthConfig } from '../../core/definitions/schema.js';
import { resolveSecret } from '../../engines/secrets.js';
import { failure, type AuthFailure, type FailureReason } from './failures.js';
import type { Principal } from './principal.js';

export const DEFAULT_CLOCK_TOLERANCE = '30s';
export const DEFAULT_ROLES_CLAIM = 'roles';
/** RFC 7518 §3.2: an HS256 key at least as long as the hash (256 bits). */
export const MIN_HS256_SECRET_BYTES = 32;
/** How long a JWKS fetch may take before the request is answered 503. */
const JWKS_TIMEOUT_MS = 5000;

export class AuthConfigError extends Error {
  override name = 'AuthConfigError';
}

type Verify = (token: string, options: JWTVerifyOptions) => Promise<JWTVerifyResult>;

/** Why a refusal happened, for the service's log only (never for the client). */
export type JwtFailure = AuthFailure & { detail?: string };

export class JwtVerifier {
  private readonly options: JWTVerifyOptions;
  private readonly rolesClaim: string;
  private readonly attributeClaims: Readonly<Record<string, string>>;

  constructor(
    private readonly verifyWith: Verify,
    config: JwtAuthConfig,
  ) {
    this.options = {
      algorithms: config.algorithms ?? (config.secret ? ['HS256'] : ['RS256', 'ES256']),
      clockTolerance: durationMs(config.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE) / 1000,
      requiredClaims: ['exp'],
      ...(config.issuer ? { issuer: config.issuer } : {}),
      ...(config.audience ? { audience: config.audience } : {}),
    };
    this.rolesClaim = config.roles ?? DEFAULT_ROLES_CLAIM;
    this.attributeClaims = config.attributes ?? {};
  }

  async verify(token: string): Promise<Principal | JwtFailure> {
    let payload: JWTPayload;
    try {
      ({ payload } = await this.verifyWith(token, this.options));
    } catch (e) {
      return refusalOf(e);
    }
    const caller = callerFromClaims(payload, this.rolesClaim, this.attributeClaims);
    if ('ok' in caller) return caller;
    return { method: 'jwt', subject: subjectOf(payload), caller };
  }
}

/**
 * Whom a token speaks for, for logs and per-caller limits: `sub`, else the client a machine
 * token was issued to (`azp`, `client_id`), so that such clients are not all one subject.
 */
export function subjectOf(payload: JWTPayload): string {
  for (const claim of ['sub', 'azp', 'client_id'])
    if (typeof payload[claim] === 'string' && payload[claim] !== '') return payload[claim];
  return '(no subject)';
}

/** A verifier for `auth.jwt`; throws AuthConfigError when its secret is missing or too short. */
export function createJwtVerifier(config: JwtAuthConfig, env: NodeJS.ProcessEnv = process.env): JwtVerifier {
  if (config.secret) {
    const secret = hs256Secret(config.secret, env);
    return new JwtVerifier((token, options) => jwtVerify(token, secret, options), config);
  }
  if (!config.jwksUrl) throw new AuthConfigError('auth.jwt: give either `secret` or `jwksUrl`');
  // Caches the keys and refetches (at most every 30 s) when a token names an unknown key id.
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: JWKS_TIMEOUT_MS });
  return new JwtVerifier((token, options) => jwtVerify(token, jwks, options), config);
}

/** resolveSecret also registers the value with the redactor: it is masked in every log line. */
function hs256Secret(reference: string, env: NodeJS.ProcessEnv): Uint8Array {
  let value: string;
  try {
    value = resolveSecret(reference, env);
  } catch (e) {
    throw new AuthConfigError(`auth.jwt.secret: ${(e as Error).message}`);
  }
  const bytes = new TextEncoder().encode(value);
  if (bytes.length < MIN_HS256_SECRET_BYTES)
    throw new AuthConfigError(
      `auth.jwt.secret: ${reference.slice(4)} holds ${bytes.length} bytes; HS256 needs at least ${MIN_HS256_SECRET_BYTES}`,
    );
  return bytes;
}

/** jose's error codes, as the reasons a client is told. */
const REASON_OF_CODE: Readonly<Record<string, FailureReason>> = {
  ERR_JWT_EXPIRED: 'token_expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'invalid_signature',
  ERR_JWS_INVALID: 'malformed_token',
  ERR_JWT_INVALID: 'malformed_token',
  ERR_JOSE_ALG_NOT_ALLOWED: 'unsupported_algorithm',
  ERR_JOSE_NOT_SUPPORTED: 'unsupported_algorithm',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_signing_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_signing_key',
};

const REASON_OF_CLAIM: Readonly<Record<string, FailureReason>> = {
  nbf: 'token_not_yet_valid',
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  exp: 'token_missing_expiry',
};

/**
 * The refusal for a jose error. Anything else (the JWKS endpoint down, slow or answering
 * nonsense) is not the client's fault: 503, with the cause for the log.
 */
function refusalOf(e: unknown): JwtFailure {
  const { code, claim, message } = e as { code?: unknown; claim?: unknown; message?: unknown };
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
    return failure((typeof claim === 'string' && REASON_OF_CLAIM[claim]) || 'invalid_claims');
  const reason = typeof code === 'string' ? REASON_OF_CODE[code] : undefined;
  if (reason) return failure(reason);
  return {
    ...failure('signing_keys_unavailable'),
    detail: typeof message === 'string' ? message : String(e),
  };
}

/**
 * The value at a claim path. At each level the longest run of segments that is a key wins, so
 * `https://example.com/roles` (a key with dots) and `realm_access.roles` both resolve.
 */
export function claimAt(claims: unknown, path: string): unknown {
  return lookup(claims, path.split('.'));
}

function lookup(value: unknown, segments: readonly string[]): unknown {
  if (segments.length === 0) return value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  for (let take = segments.length; take > 0; take--) {
    const key = segments.slice(0, take).join('.');
    if (Object.prototype.hasOwnProperty.call(value, key))
      return lookup((value as Record<string, unknown>)[key], segments.slice(take));
  }
  return undefined;
}

/**
 * Roles from a claim: a list of strings, or one string of roles separated by spaces or commas
 * (as OAuth `scope` is). A missing claim means no roles: the caller reads public sources only.
 */
export function rolesFromClaim(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return [...value];
  return undefined;
}

/** The caller a token's claims describe, or why they do not describe one. */
export function callerFromClaims(
  claims: JWTPayload,
  rolesPath: string,
  attributePaths: Readonly<Record<string, string>>,
): Caller | AuthFailure {
  const roles = rolesFromClaim(claimAt(claims, rolesPath));
  if (!roles) return failure('invalid_roles_claim');
  const attributes: Record<string, string | number | boolean> = {};
  for (const [attribute, path] of Object.entries(attributePaths)) {
    const value = claimAt(claims, path);
    // A missing attribute is left out: a row filter that needs it then denies the read.
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      return failure('invalid_attribute_claim');
    attributes[attribute] = value;
  }
  return { roles, attributes };
}
