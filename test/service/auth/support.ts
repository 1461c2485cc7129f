/** Tokens and a JWKS endpoint for the authentication tests: jose signs, a local HTTP server publishes. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'strata';
/** 48 bytes: comfortably over HS256's 32-byte minimum. */
export const HS256_SECRET = 'hs256-test-secret-0123456789-abcdefghijklmnopqrstu';

export interface SigningKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TokenOptions {
  claims?: JWTPayload;
  issuer?: string;
  audience?: string;
  /** Seconds from now; null: no exp claim. */
  expiresIn?: number | null;
  /** Seconds from now. */
  notBefore?: number;
}

function builder(options: TokenOptions): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ roles: ['vendor'], ...options.claims })
    .setSubject('user-1')
    .setIssuedAt(now)
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt;
}

export function hs256Token(options: TokenOptions = {}, secret = HS256_SECRET): Promise<string> {
  return builder(options).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

export function signedToken(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  return builder(options).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
}

/** A JWKS endpoint on this machine: publishes `keys`, or answers 500 while `failing`. */
export interface JwksServer {
  url: string;
  keys: JWK[];
  failing: boolean;
  requests: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, failing: false, requests: 0 };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    if (state.failing) res.writeHead(500).end('down');
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  });
}
