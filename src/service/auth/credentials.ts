/** The credential a request presents: `Authorization: Bearer <API key or JWT>` or `X-Api-Key: <API key>`. */
import type { IncomingHttpHeaders } from 'node:http';
import { failure, type AuthFailure } from './failures.js';

export type Credential = { kind: 'api_key'; value: string } | { kind: 'jwt'; value: string };

/** A compact JWS: three base64url parts (API keys never hold a dot). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Credentials are printable ASCII without spaces; anything else is not one. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/** The one credential in `headers`, or why there is none usable. */
export function readCredential(headers: IncomingHttpHeaders): Credential | AuthFailure {
  const authorization = single(headers.authorization);
  const apiKey = single(headers['x-api-key']);
  if (authorization === null || apiKey === null) return failure('several_credentials');
  if (authorization !== undefined && apiKey !== undefined) return failure('several_credentials');
  if (apiKey !== undefined)
    return TOKEN_CHARACTERS.test(apiKey)
      ? { kind: 'api_key', value: apiKey }
      : failure('malformed_credential');
  if (authorization === undefined) return failure('missing_credential');
  return bearer(authorization);
}

/** `Bearer <credential>` (the scheme is case-insensitive, RFC 7235); a JWT by its shape, else an API key. */
function bearer(header: string): Credential | AuthFailure {
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const value = match?.[1];
  if (value === undefined || !TOKEN_CHARACTERS.test(value)) return failure('malformed_credential');
  return JWT_SHAPE.test(value) ? { kind: 'jwt', value } : { kind: 'api_key', value };
}

/** A header's one value; null when it was sent several times (which one counts would be a guess). */
function single(value: string | string[] | undefined): string | null | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : null;
  return value;
}
