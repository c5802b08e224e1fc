import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcTestApp, startOidcApp } from '../../../test/oidc.js';
import { VerifyError, createVerifier } from '../src/index.js';
import { registerResource, resourceToken } from './kit.js';

// The verifier against the running service over real HTTP: discovery, the JWKS, and every
// check a resource server must make (RFC 9068 / RFC 8707 / RFC 6750).

const API_A = 'https://files.example.com/api';
const API_B = 'https://mail.example.com/api';

let t: OidcTestApp;

beforeAll(async () => {
  t = await startOidcApp();
  await registerResource(t, API_A, ['files:read', 'files:write']);
  await registerResource(t, API_B, ['mail:read']);
});
afterAll(async () => t.close());

async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

describe('createVerifier', () => {
  it('accepts a token for its audience and reads who and what from it', async () => {
    const verifier = createVerifier({ issuer: t.issuer, audience: API_A });
    const sid = crypto.randomUUID();
    const token = await resourceToken(t, API_A, { scope: 'files:read files:write', sid });
    const verified = await verifier.verify(token);
    expect(verified).toMatchObject({
      sub: expect.any(String),
      scopes: ['files:read', 'files:write'],
      clientId: 'kit-test-client',
      sessionId: sid,
      audience: [API_A],
      token,
    });
    expect(verified.claims['iss']).toBe(t.issuer);
    expect((await verifier.metadata()).issuer).toBe(t.issuer);
  });

  it('refuses a token bound to another resource (aud)', async () => {
    const forB = createVerifier({ issuer: t.issuer, audience: API_B });
    const tokenForA = await resourceToken(t, API_A, { scope: 'files:read' });
    const error = await refusal(forB.verify(tokenForA));
    expect(error).toMatchObject({ code: 'invalid_token', status: 401 });
  });

  it('refuses an expired token', async () => {
    const verifier = createVerifier({ issuer: t.issuer, audience: API_A });
    t.clock.advance(-3600);
    let token: string;
    try {
      token = await resourceToken(t, API_A, { scope: 'files:read', ttl: 60 });
    } finally {
      t.clock.advance(3600);
    }
    const error = await refusal(verifier.verify(token));
    expect(error).toMatchObject({ code: 'invalid_token', status: 401 });
    expect(error.message).toMatch(/expired/);
  });

  it('refuses a bad signature, HS256, none and a token that is not an access token', async () => {
    const verifier = createVerifier({ issuer: t.issuer, audience: API_A });
    const good = await resourceToken(t, API_A, { scope: 'files:read' });
    const { kid, alg } = decodeProtectedHeader(good);
    const claims = { iss: t.issuer, aud: API_A, sub: 'someone', scope: 'files:read' };
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: alg!, kid: kid!, typ: 'at+jwt' })
      .setExpirationTime('5m')
      .sign(stranger.privateKey);
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: kid!, typ: 'at+jwt' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a'.repeat(32)));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: Date.now() / 1000 + 300 })).toString('base64url')}.`;
    // Signed by the service's own key, but typ JWT: an ID token, never an access token.
    const { key, algorithm } = t.deps.keys.signingKey();
    const idToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: algorithm, kid: kid!, typ: 'JWT' })
      .setExpirationTime('5m')
      .sign(key);
    for (const token of [forged, hs256, unsigned, idToken, 'not-a-jwt'])
      expect(await refusal(verifier.verify(token))).toMatchObject({ status: 401 });
  });

  it('refuses a token without a required scope: 403 insufficient_scope', async () => {
    const verifier = createVerifier({
      issuer: t.issuer,
      audience: API_A,
      requiredScopes: ['files:read'],
    });
    const writeOnly = await resourceToken(t, API_A, { scope: 'files:write' });
    const error = await refusal(verifier.verify(writeOnly));
    expect(error).toMatchObject({ code: 'insufficient_scope', status: 403 });
    expect(error.requiredScopes).toEqual(['files:read']);
    const reader = await resourceToken(t, API_A, { scope: 'files:read' });
    await expect(verifier.verify(reader, { scopes: ['files:write'] })).rejects.toMatchObject({
      code: 'insufficient_scope',
      requiredScopes: ['files:read', 'files:write'],
    });
  });

  it('follows a key rotation without a restart: an unknown kid fetches the keys again', async () => {
    const verifier = createVerifier({ issuer: t.issuer, audience: API_A, jwksCooldown: 0 });
    const before = await resourceToken(t, API_A, { scope: 'files:read' });
    await verifier.verify(before);
    const newKid = await t.deps.keys.rotate();
    const after = await resourceToken(t, API_A, { scope: 'files:read' });
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    await expect(verifier.verify(after)).resolves.toMatchObject({ scopes: ['files:read'] });
    // The old key stays published until its tokens have expired.
    await expect(verifier.verify(before)).resolves.toBeDefined();
  });

  it('treats an unreachable issuer as an outage, not as a verdict on the token', async () => {
    const verifier = createVerifier({ issuer: 'http://127.0.0.1:9', audience: API_A });
    const token = await resourceToken(t, API_A, { scope: 'files:read' });
    const error = await verifier.verify(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(VerifyError);
  });
});
