import { type JWK, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { type TestApp, json, signedInUser, startTestApp } from '../../../test/app.js';
import { addSeconds } from '../../lib/clock.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

const [eddsa, es256, hs256] = await Promise.all([
  // A trailing slash on PUBLIC_URL must not leak into the issuer or the derived URLs.
  startTestApp({ env: { PUBLIC_URL: 'https://id.example.com/auth/' } }),
  startTestApp({ env: { JWT_ALGORITHM: 'ES256' } }),
  startTestApp({
    env: { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'discovery-secret-of-more-than-32-bytes' },
  }),
]);

const get = (target: TestApp, url: string) => target.app.inject({ method: 'GET', url });

/** The max-age of a Cache-Control header, or undefined. */
function maxAge(header: unknown): number | undefined {
  const match = /(?:^|,)\s*max-age=(\d+)/.exec(String(header ?? ''));
  return match ? Number(match[1]) : undefined;
}

describe('GET /.well-known/openid-configuration', () => {
  it('describes the issuer, its endpoints, grant types and algorithm', async () => {
    const response = await get(eddsa, '/.well-known/openid-configuration');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(maxAge(response.headers['cache-control'])).toBeGreaterThan(0);
    const body = json(response);
    expect(body).toMatchObject({
      issuer: 'https://id.example.com/auth',
      jwks_uri: 'https://id.example.com/auth/.well-known/jwks.json',
      token_endpoint: 'https://id.example.com/auth/api/auth/token',
      id_token_signing_alg_values_supported: ['EdDSA'],
      // OAUTH_CIMD is on by default (off: metadata-document-clients.test.ts).
      client_id_metadata_document_supported: true,
    });
    expect(body['grant_types_supported']).toEqual(
      expect.arrayContaining(['password', 'refresh_token', 'client_credentials']),
    );
    expect(body['claims_supported']).toEqual(
      expect.arrayContaining(['iss', 'aud', 'sub', 'sid', 'iat', 'exp', 'jti', 'email', 'roles']),
    );
    expect(body['claims_supported']).toEqual(expect.arrayContaining(['scope', 'client_id']));
    expect(body['token_endpoint_auth_methods_supported']).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
  });

  it('names the issuer that access tokens carry, and a jwks_uri this service answers', async () => {
    const body = json<{ issuer: string; jwks_uri: string }>(
      await get(eddsa, '/.well-known/openid-configuration'),
    );
    const { tokens } = await signedInUser(eddsa.app);
    expect(decodeJwt(tokens.access_token).iss).toBe(body.issuer);
    // PUBLIC_URL's path is where a proxy mounts the service; below it, the route exists.
    const path = new URL(body.jwks_uri).pathname.replace(/^\/auth/, '');
    const jwks = await get(eddsa, path);
    expect(jwks.statusCode).toBe(200);
    expect(json<{ keys: JWK[] }>(jwks).keys.map((k) => k.kid)).toEqual([
      eddsa.deps.keys.current.kid,
    ]);
  });

  it.each([
    ['ES256', es256],
    ['HS256', hs256],
  ])('advertises %s when that is the configured algorithm', async (alg, target) => {
    const body = json(await get(target, '/.well-known/openid-configuration'));
    expect(body['id_token_signing_alg_values_supported']).toEqual([alg]);
    expect(body['issuer']).toBe('http://auth.test');
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('publishes the current public key, cacheable for a bounded time', async () => {
    const response = await get(es256, '/.well-known/jwks.json');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    const seconds = maxAge(response.headers['cache-control']);
    // Long enough to spare the service, short against a key that must be trusted less.
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(es256.config.accessTokenTtl);
    const { keys } = json<{ keys: JWK[] }>(response);
    expect(keys).toEqual([
      {
        kty: 'EC',
        crv: 'P-256',
        x: expect.any(String),
        y: expect.any(String),
        kid: es256.deps.keys.current.kid,
        alg: 'ES256',
        use: 'sig',
      },
    ]);
  });

  it('publishes nothing for HS256: the shared secret never leaves configuration', async () => {
    const response = await get(hs256, '/.well-known/jwks.json');
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ keys: [] });
  });

  it('never publishes private members, even of a stored key that (wrongly) holds them', async () => {
    // An RSA private JWK has every private member there is; store it as a "public" key.
    const pair = await generateKeyPair('RS256', { extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
      expect(privateJwk).toHaveProperty(member);
    const now = eddsa.clock.now();
    await eddsa.deps.db
      .insertInto('signing_keys')
      .values({
        kid: 'leaky',
        algorithm: 'RS256',
        public_jwk: JSON.stringify(privateJwk),
        private_jwk: JSON.stringify(privateJwk),
        created_at: addSeconds(now, -60),
        retired_at: now,
        verify_until: addSeconds(now, 3600),
      })
      .execute();
    try {
      await eddsa.deps.keys.reload();
      const expected = { kty: 'RSA', n: privateJwk.n, e: 'AQAB', kid: 'leaky', alg: 'RS256' };
      // Both layers hold on their own: the key store's JWKS and the route's serializer.
      expect(eddsa.deps.keys.jwks().keys).toContainEqual({ ...expected, use: 'sig' });
      const { keys } = json<{ keys: JWK[] }>(await get(eddsa, '/.well-known/jwks.json'));
      expect(keys.find((k) => k.kid === 'leaky')).toEqual({ ...expected, use: 'sig' });
    } finally {
      await eddsa.deps.db.deleteFrom('signing_keys').where('kid', '=', 'leaky').execute();
      await eddsa.deps.keys.reload();
    }
  });

  it('serializes through an allow-list, whatever the key store hands the route', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    // Not a fresh literal, so the extra (private) members pass the type check, as a bug would.
    const leaky = {
      ...privateJwk,
      k: 'secret',
      kty: 'EC',
      kid: 'x',
      alg: 'ES256',
      use: 'sig' as const,
    };
    const jwks = vi.spyOn(es256.deps.keys, 'jwks').mockReturnValue({ keys: [leaky] });
    try {
      const response = await get(es256, '/.well-known/jwks.json');
      const [key] = json<{ keys: Record<string, unknown>[] }>(response).keys;
      expect(key).toMatchObject({ kty: 'EC', kid: 'x', x: privateJwk.x });
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    } finally {
      jwks.mockRestore();
    }
  });
});
