/**
 * Why a request was refused, as the client is told. Every message is fixed text: none quotes
 * the credential presented (not even a prefix) nor a library's error, which might.
 */
export const FAILURES = {
  auth_not_configured: {
    status: 401,
    message:
      'this service has no authentication configured, so it serves nothing but GET /health and GET /metrics: ' +
      'add an auth: block (API keys or JWT) to strata.yaml, see docs/auth.md',
  },
  missing_credential: {
    status: 401,
    message:
      'this route needs a credential: send Authorization: Bearer <API key or JWT>, or X-Api-Key: <API key>',
  },
  malformed_credential: {
    status: 401,
    message: 'the credential is malformed: send Authorization: Bearer <credential> or X-Api-Key: <API key>',
  },
  several_credentials: {
    status: 401,
    message: 'send one credential: Authorization or X-Api-Key, not both',
  },
  api_keys_not_accepted: { status: 401, message: 'this service accepts no API keys (only JWTs)' },
  unknown_api_key: { status: 401, message: 'unknown API key' },
  revoked_api_key: { status: 401, message: 'this API key has been revoked' },
  jwt_not_accepted: { status: 401, message: 'this service accepts no JWTs (only API keys)' },
  malformed_token: { status: 401, message: 'the token is not a well-formed JWT' },
  token_expired: { status: 401, message: 'the token has expired' },
  token_not_yet_valid: { status: 401, message: 'the token is not valid yet (nbf)' },
  token_missing_expiry: {
    status: 401,
    message: 'the token has no expiry (exp): such tokens are not accepted',
  },
  invalid_signature: { status: 401, message: 'the token signature does not verify' },
  unknown_signing_key: { status: 401, message: 'the token is signed with a key the issuer does not publish' },
  unsupported_algorithm: {
    status: 401,
    message: 'the token is signed with an algorithm this service does not accept',
  },
  wrong_issuer: { status: 401, message: 'the token comes from an issuer this service does not accept (iss)' },
  wrong_audience: { status: 401, message: 'the token is meant for another audience (aud)' },
  invalid_claims: { status: 401, message: 'the token claims are invalid' },
  invalid_roles_claim: {
    status: 401,
    message: 'the token roles claim is neither a string nor a list of strings',
  },
  invalid_attribute_claim: {
    status: 401,
    message: 'a token claim mapped to a caller attribute is not a string, number or boolean',
  },
  signing_keys_unavailable: {
    status: 503,
    message: "the issuer's signing keys cannot be fetched right now: try again shortly",
  },
  auth_misconfigured: {
    status: 503,
    message: 'authentication is misconfigured on this service: its log says why',
  },
} as const satisfies Record<string, { status: 401 | 503; message: string }>;

export type FailureReason = keyof typeof FAILURES;

/** A refusal: what the client is told (the reason code and its fixed message). */
export interface AuthFailure {
  ok: false;
  reason: FailureReason;
}

export function failure(reason: FailureReason): AuthFailure {
  return { ok: false, reason };
}

/** The JSON body of a refusal. */
export function failureBody(reason: FailureReason): {
  statusCode: number;
  error: string;
  reason: FailureReason;
  message: string;
} {
  const { status, message } = FAILURES[reason];
  return {
    statusCode: status,
    error: status === 401 ? 'Unauthorized' : 'Service Unavailable',
    reason,
    message,
  };
}

/** Reasons where no credential was judged: RFC 6750 sends a bare challenge then. */
const NO_CREDENTIAL_JUDGED: ReadonlySet<FailureReason> = new Set([
  'auth_not_configured',
  'missing_credential',
]);

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): `invalid_request` for a credential
 * that cannot be parsed, `invalid_token` for one that was read and refused.
 */
export function challenge(reason: FailureReason): string {
  const base = 'Bearer realm="strata"';
  if (NO_CREDENTIAL_JUDGED.has(reason)) return base;
  const error =
    reason === 'malformed_credential' || reason === 'several_credentials'
      ? 'invalid_request'
      : 'invalid_token';
  return `${base}, error="${error}", error_description="${FAILURES[reason].message.replace(/["\\]/g, "'")}"`;
}
