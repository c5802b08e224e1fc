import { type JsonWebKey, createPublicKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  type JWK,
  type JWTPayload,
  SignJWT,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { type TestApp, json, signedInUser, startTestApp } from '../../test/app.js';
import { toEpochSeconds } from '../lib/clock.js';
import { generateOpaqueToken, hashOpaqueToken } from './opaque-token.js';

const HS_SECRET = 'test-secret-of-more-than-32-bytes-0123456789';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** A test app listening on a real port, so a standard JWT library can fetch its JWKS. */
async function listeningApp(env: Record<string, string> = {}) {
  const started = await startTestApp({ env });
  await started.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = started.app.server.address() as AddressInfo;
  const jwksUrl = new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`);
  return { ...started, jwksUrl, remoteJwks: createRemoteJWKSet(jwksUrl) };
}

const [eddsa, es256, rs256, hs256] = await Promise.all([
  listeningApp(),
  listeningApp({ JWT_ALGORITHM: 'ES256' }),
  listeningApp({ JWT_ALGORITHM: 'RS256' }),
  listeningApp({ JWT_ALGORITHM: 'HS256', JWT_SECRET: HS_SECRET }),
]);

const me = (target: TestApp, token: string) =>
  target.app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${token}` },
  });

async function expect401(target: TestApp, token: string, code = 'unauthorized') {
  const response = await me(target, token);
  expect(response.statusCode).toBe(401);
  expect(json(response)['code']).toBe(code);
}

async function publishedKeys(target: TestApp): Promise<JWK[]> {
  const response = await target.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(response.statusCode).toBe(200);
  return json<{ keys: JWK[] }>(response).keys;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs `claims` with the app's own current key unless told otherwise. Every refusal test
 * below also shows that the unaltered forgery is accepted, so a 401 is due to the one change.
 */
async function forge(
  target: TestApp,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
  key?: Uint8Array | CryptoKey,
) {
  const { kid, algorithm, key: ownKey } = target.deps.keys.current;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: algorithm, kid, typ: 'at+jwt', ...header })
    .sign(key ?? ownKey);
}

describe('access tokens verified by a standard JWT library against the published JWKS', () => {
  it('carries the header and claims API.md lists, bound to a real session', async () => {
    const { user, tokens } = await signedInUser(eddsa.app);
    const { config, clock, deps } = eddsa;
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, eddsa.remoteJwks, {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      currentDate: clock.now(),
    });
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: 'at+jwt', kid: deps.keys.current.kid });
    expect(payload).toMatchObject({
      iss: 'http://auth.test',
      aud: 'hyperion',
      sub: user.id,
      email: user.email,
      roles: ['user'],
    });
    expect(payload.iat).toBe(toEpochSeconds(clock.now()));
    expect(payload.exp).toBe(payload.iat! + config.accessTokenTtl);
    expect(payload.jti).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // `sid` names the session the sign-in opened for this user.
    const session = await deps.db
      .selectFrom('sessions')
      .select(['id', 'user_id'])
      .where('id', '=', String(payload['sid']))
      .executeTakeFirst();
    expect(session).toEqual({ id: payload['sid'], user_id: user.id });
    // No `scope` on a user token, and each token has its own jti.
    expect(payload).not.toHaveProperty('scope');
    const again = await signedInUser(eddsa.app);
    expect(decodeJwt(again.tokens.access_token).jti).not.toBe(payload.jti);
  });

  it.each([
    ['EdDSA', eddsa, { kty: 'OKP', crv: 'Ed25519' }],
    ['ES256', es256, { kty: 'EC', crv: 'P-256' }],
    ['RS256', rs256, { kty: 'RSA', e: 'AQAB' }],
  ])('works end to end with %s', async (alg, target, shape) => {
    const { tokens, auth } = await signedInUser(target.app);
    const { protectedHeader } = await jwtVerify(tokens.access_token, target.remoteJwks, {
      issuer: target.config.jwt.issuer,
      audience: target.config.jwt.audience,
      algorithms: [alg],
      typ: 'at+jwt',
      currentDate: target.clock.now(),
    });
    expect(protectedHeader.alg).toBe(alg);
    const keys = await publishedKeys(target);
    expect(keys).toEqual([
      expect.objectContaining({ ...shape, kid: protectedHeader.kid, alg, use: 'sig' }),
    ]);
    for (const key of keys)
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    const response = await target.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });
    expect(response.statusCode).toBe(200);
  });

  it('works with HS256, verifiable with the shared secret, which the JWKS never publishes', async () => {
    const { user, tokens } = await signedInUser(hs256.app);
    const { payload, protectedHeader } = await jwtVerify(
      tokens.access_token,
      new TextEncoder().encode(HS_SECRET),
      {
        issuer: hs256.config.jwt.issuer,
        audience: hs256.config.jwt.audience,
        algorithms: ['HS256'],
        typ: 'at+jwt',
        currentDate: hs256.clock.now(),
      },
    );
    expect(protectedHeader).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(payload.sub).toBe(user.id);
    const keys = await publishedKeys(hs256);
    expect(keys.filter((k) => k.kty === 'oct' || 'k' in k)).toEqual([]);
    expect(JSON.stringify(keys)).not.toContain(Buffer.from(HS_SECRET).toString('base64url'));
    expect((await me(hs256, tokens.access_token)).statusCode).toBe(200);
  });
});

describe('verification by the service is pinned', () => {
  it('accepts the unaltered forgery (the control for every refusal below)', async () => {
    const { tokens } = await signedInUser(eddsa.app);
    const token = await forge(eddsa, decodeJwt(tokens.access_token));
    expect((await me(eddsa, token)).statusCode).toBe(200);
  });

  it('refuses an unsigned token (alg: none), with or without a signature part', async () => {
    const { tokens } = await signedInUser(eddsa.app);
    const claims = decodeJwt(tokens.access_token);
    const header = { alg: 'none', typ: 'at+jwt', kid: eddsa.deps.keys.current.kid };
    for (const token of [`${b64(header)}.${b64(claims)}.`, `${b64(header)}.${b64(claims)}`]) {
      await expect401(eddsa, token);
    }
  });

  it.each([
    ['EdDSA', eddsa],
    ['RS256', rs256],
  ])(
    'refuses HS256 signed with the %s public key as HMAC secret (algorithm confusion)',
    async (_alg, target) => {
      const { tokens } = await signedInUser(target.app);
      const claims = decodeJwt(tokens.access_token);
      // Everything an attacker can derive from the published JWK, used as the HMAC secret.
      const [published] = await publishedKeys(target);
      const publicKey = createPublicKey({ key: published as JsonWebKey, format: 'jwk' });
      const secrets = [
        Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string),
        publicKey.export({ type: 'spki', format: 'der' }),
        Buffer.from(JSON.stringify(published)),
      ];
      if (published?.x) secrets.push(Buffer.from(published.x, 'base64url'));
      for (const secret of secrets) {
        await expect401(
          target,
          await forge(target, claims, { alg: 'HS256' }, new Uint8Array(secret)),
        );
      }
    },
  );

  it("a resource's token, once verified for a token exchange, is still refused by the routes", async () => {
    const { user } = await signedInUser(eddsa.app);
    const session = (
      await eddsa.deps.db
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow()
    ).id;
    const api = 'https://api.example.com/';
    const token = await eddsa.deps.tokens.sign({ sub: user.id, sid: session }, 300, {
      audience: api,
    });
    // Accepted where the audience is asked for (and so remembered in the verified cache)…
    expect((await eddsa.deps.tokens.verify(token, [api])).aud).toEqual([api]);
    // …and still refused where JWT_AUDIENCE is required, from the cache as afresh.
    await expect(eddsa.deps.tokens.verify(token)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect401(eddsa, token);
  });

  it('refuses a token signed by a valid key that is not in the store', async () => {
    const { tokens } = await signedInUser(eddsa.app);
    const claims = decodeJwt(tokens.access_token);
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const strangerKid = await calculateJwkThumbprint(await exportJWK(stranger.publicKey));
    await expect401(eddsa, await forge(eddsa, claims, {}, stranger.privateKey));
    await expect401(eddsa, await forge(eddsa, claims, { kid: strangerKid }, stranger.privateKey));
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.example' }, {}],
    ['a wrong audience', { aud: 'another-service' }, {}],
    ['no audience', { aud: undefined }, {}],
    ['a wrong typ', {}, { typ: 'JWT' }],
    ['no typ', {}, { typ: undefined }],
    ['no kid', {}, { kid: undefined }],
    ['an unknown kid', {}, { kid: 'no-such-key' }],
  ])(
    'refuses a token with %s, signed by our own key',
    async (_label, claimChanges, headerChanges) => {
      const { tokens } = await signedInUser(eddsa.app);
      const claims = { ...decodeJwt(tokens.access_token), ...claimChanges };
      await expect401(eddsa, await forge(eddsa, claims, headerChanges));
    },
  );

  it('refuses a token of another algorithm under our kid (the algorithm is pinned per key)', async () => {
    const { tokens } = await signedInUser(es256.app);
    // An ES256 token, valid on its own instance, presented with the EdDSA instance's kid.
    const claims = decodeJwt(tokens.access_token);
    const token = await forge(es256, claims, { kid: eddsa.deps.keys.current.kid });
    await expect401(eddsa, token);
  });

  it('fails closed with 503, not a verdict on the token, when the key store cannot be read', async () => {
    const { tokens } = await signedInUser(eddsa.app);
    // An unknown kid makes the service re-read the store, which is down (57P01: admin shutdown).
    const outage = Object.assign(new Error('terminating connection'), { code: '57P01' });
    const reload = vi.spyOn(eddsa.deps.keys, 'reload').mockRejectedValue(outage);
    try {
      eddsa.clock.advance(10);
      const token = await forge(eddsa, decodeJwt(tokens.access_token), {
        kid: 'rotated-elsewhere',
      });
      const response = await me(eddsa, token);
      expect(response.statusCode).toBe(503);
      expect(json(response)['code']).toBe('service_unavailable');
      expect(reload).toHaveBeenCalled();
    } finally {
      reload.mockRestore();
    }
  });

  it('stops accepting a token it accepted before once its key has left the store', async () => {
    // Verified tokens are remembered; the key that vouched for one is looked up every time.
    const target = await startTestApp();
    const { tokens } = await signedInUser(target.app);
    expect((await me(target, tokens.access_token)).statusCode).toBe(200);
    const oldKid = target.deps.keys.current.kid;
    await target.deps.keys.rotate();
    expect((await me(target, tokens.access_token)).statusCode).toBe(200);
    await target.deps.db.deleteFrom('signing_keys').where('kid', '=', oldKid).execute();
    await target.deps.keys.reload();
    await expect401(target, tokens.access_token);
    await target.close();
  });

  it('answers token_expired from exp on, and never for a badly signed expired token', async () => {
    const { tokens } = await signedInUser(eddsa.app);
    const ttl = eddsa.config.accessTokenTtl;
    eddsa.clock.advance(ttl - 1);
    expect((await me(eddsa, tokens.access_token)).statusCode).toBe(200);
    eddsa.clock.advance(1);
    await expect401(eddsa, tokens.access_token, 'token_expired');
    // Expiry is only reported once the signature checked out: a forgery learns nothing.
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await forge(eddsa, decodeJwt(tokens.access_token), {}, stranger.privateKey);
    await expect401(eddsa, forged, 'unauthorized');
  });
});

describe('opaque tokens', () => {
  it('are 256 random bits, URL-safe, and distinct', () => {
    const tokens = Array.from({ length: 200 }, () => generateOpaqueToken());
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(32);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('are hashed with SHA-256 to lower-case hex, deterministically', () => {
    // SHA-256("abc") from FIPS 180-2.
    expect(hashOpaqueToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const token = generateOpaqueToken();
    expect(hashOpaqueToken(token)).toBe(hashOpaqueToken(token));
    expect(hashOpaqueToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashOpaqueToken(token)).not.toBe(hashOpaqueToken(generateOpaqueToken()));
  });
});
