import {
  type JWK,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
} from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { type TestApp, json, signedInUser, startTestApp } from '../../test/app.js';
import { createTestDatabase } from '../../test/db.js';
import type { Db } from '../db/create-db.js';
import { ManualClock } from '../lib/clock.js';
import { KEY_REFRESH_INTERVAL_SECONDS, RETIRED_KEY_MARGIN_SECONDS } from './signing-keys.js';
import { cleanUpAfter } from '../../test/cleanup.js';

const first = await startTestApp();
const second = await startTestApp({ database: first.database, clock: first.clock });
const TTL = first.config.accessTokenTtl;

const keyRows = (db: Db) =>
  db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();

const me = (target: TestApp, token: string) =>
  target.app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: { authorization: `Bearer ${token}` },
  });

async function publishedKids(target: TestApp): Promise<string[]> {
  const response = await target.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return json<{ keys: JWK[] }>(response).keys.map((k) => k.kid ?? '');
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** A migrated database with no key yet, dropped after the file (its apps only borrow it). */
async function freshDatabase() {
  const database = await createTestDatabase();
  cleanUpAfter(() => database.drop());
  return database;
}

describe('key storage', () => {
  it('generates a key at first start and stores it, private half included, in signing_keys', async () => {
    const rows = await keyRows(first.deps.db);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({
      kid: first.deps.keys.current.kid,
      algorithm: 'EdDSA',
      retired_at: null,
      verify_until: null,
    });
    expect(row?.private_jwk).toHaveProperty('d');
    expect(row?.public_jwk).not.toHaveProperty('d');
    // The kid is the RFC 7638 thumbprint of the public key.
    expect(row?.kid).toBe(await calculateJwkThumbprint(row?.public_jwk as JWK));
    expect(await publishedKids(first)).toEqual([row?.kid]);
  });

  it('lets a second instance on the same database use the same key, and verify its tokens', async () => {
    expect(second.deps.keys.current.kid).toBe(first.deps.keys.current.kid);
    expect(await keyRows(second.deps.db)).toHaveLength(1);
    const fromFirst = await signedInUser(first.app);
    const fromSecond = await signedInUser(second.app);
    expect((await me(second, fromFirst.tokens.access_token)).statusCode).toBe(200);
    expect((await me(first, fromSecond.tokens.access_token)).statusCode).toBe(200);
  });

  it('creates exactly one current key when instances start at once on a fresh database', async () => {
    const database = await freshDatabase();
    const clock = new ManualClock();
    // Opened once first: concurrent open() calls on a PGlite test database would each make
    // a database of their own. On PostgreSQL every instance still gets its own pool.
    await database.open();
    const apps = await Promise.all(
      [1, 2, 3].map(() => startTestApp({ database, clock, env: { JWT_ALGORITHM: 'RS256' } })),
    );
    try {
      const kids = new Set(apps.map((a) => a.deps.keys.current.kid));
      expect(kids.size).toBe(1);
      const rows = await keyRows(apps[0]!.deps.db);
      expect(rows.map((r) => [r.kid, r.retired_at])).toEqual([[[...kids][0], null]]);
    } finally {
      for (const a of apps) await a.close();
    }
  });
});

describe('rotation', () => {
  it('on a JWT_ALGORITHM change at restart, makes a new key and keeps the old one verifying for a TTL', async () => {
    const database = await freshDatabase();
    const clock = new ManualClock();
    const before = await startTestApp({ database, clock });
    const oldKid = before.deps.keys.current.kid;
    const { tokens: oldTokens } = await signedInUser(before.app);
    await before.close();
    clock.advance(60);

    const after = await startTestApp({ database, clock, env: { JWT_ALGORITHM: 'ES256' } });
    try {
      const newKid = after.deps.keys.current.kid;
      expect(newKid).not.toBe(oldKid);
      expect(after.deps.keys.current.algorithm).toBe('ES256');
      const rows = await keyRows(after.deps.db);
      expect(rows.map((r) => [r.kid, r.algorithm])).toEqual([
        [oldKid, 'EdDSA'],
        [newKid, 'ES256'],
      ]);
      expect(rows[0]?.retired_at).toEqual(clock.now());
      const verifyUntil = clock.now().getTime() + (TTL + RETIRED_KEY_MARGIN_SECONDS) * 1000;
      expect(rows[0]?.verify_until?.getTime()).toBe(verifyUntil);
      expect(rows[1]?.retired_at).toBeNull();

      // Old tokens still verify, here and for anyone reading the new JWKS.
      expect((await publishedKids(after)).sort()).toEqual([oldKid, newKid].sort());
      expect((await me(after, oldTokens.access_token)).statusCode).toBe(200);
      const metadata = json<{ id_token_signing_alg_values_supported: string[] }>(
        await after.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' }),
      );
      expect(metadata.id_token_signing_alg_values_supported.sort()).toEqual(['ES256', 'EdDSA']);
      const jwks = await after.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      await jwtVerify(oldTokens.access_token, createLocalJWKSet(json(jwks)), {
        issuer: after.config.jwt.issuer,
        audience: after.config.jwt.audience,
        currentDate: clock.now(),
      });
      const { tokens: newTokens } = await signedInUser(after.app);
      expect(decodeProtectedHeader(newTokens.access_token)).toMatchObject({
        kid: newKid,
        alg: 'ES256',
      });

      // The old key leaves the JWKS once every token it signed has expired, not before.
      clock.advance(TTL + RETIRED_KEY_MARGIN_SECONDS - 1);
      expect(await publishedKids(after)).toContain(oldKid);
      clock.advance(1);
      expect(await publishedKids(after)).toEqual([newKid]);
      expect((await me(after, oldTokens.access_token)).statusCode).toBe(401);
    } finally {
      await after.close();
    }
  });

  it('SigningKeys.rotate() makes a new current key within one instance', async () => {
    const target = await startTestApp();
    try {
      const oldKid = target.deps.keys.current.kid;
      const { tokens: oldTokens } = await signedInUser(target.app);
      const newKid = await target.deps.keys.rotate();
      expect(newKid).not.toBe(oldKid);
      expect(target.deps.keys.current).toMatchObject({ kid: newKid, algorithm: 'EdDSA' });
      const current = (await keyRows(target.deps.db)).filter((r) => r.retired_at === null);
      expect(current.map((r) => r.kid)).toEqual([newKid]);

      const { tokens: newTokens } = await signedInUser(target.app);
      expect(kidOf(newTokens.access_token)).toBe(newKid);
      expect((await publishedKids(target)).sort()).toEqual([oldKid, newKid].sort());
      expect((await me(target, oldTokens.access_token)).statusCode).toBe(200);

      target.clock.advance(TTL + RETIRED_KEY_MARGIN_SECONDS);
      expect(await publishedKids(target)).toEqual([newKid]);
      expect((await me(target, oldTokens.access_token)).statusCode).toBe(401);
      const { tokens: later } = await signedInUser(target.app);
      expect((await me(target, later.access_token)).statusCode).toBe(200);
    } finally {
      await target.close();
    }
  });

  it('refuses to rotate an HS256 key, which only JWT_SECRET defines', async () => {
    const target = await startTestApp({
      env: { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'another-secret-of-more-than-32-bytes-42' },
    });
    try {
      await expect(target.deps.keys.rotate()).rejects.toThrow(/JWT_SECRET/);
    } finally {
      await target.close();
    }
  });
});

describe('instances that share a database', () => {
  it('pick up a rotation made elsewhere (another instance, or `keys rotate`)', async () => {
    const a = await startTestApp();
    const b = await startTestApp({ database: a.database, clock: a.clock });
    try {
      const oldKid = a.deps.keys.current.kid;
      const newKid = await b.deps.keys.rotate();
      const { tokens: fromB } = await signedInUser(b.app);
      expect(kidOf(fromB.access_token)).toBe(newKid);

      // Until it next reads the store, `a` still signs with the retired key. Its tokens
      // must stay verifiable everywhere for their whole lifetime: the margin covers this.
      a.clock.advance(KEY_REFRESH_INTERVAL_SECONDS - 1);
      const { tokens: late } = await signedInUser(a.app);
      expect([oldKid, newKid]).toContain(kidOf(late.access_token));
      a.clock.advance(TTL - 1);
      expect(await publishedKids(b)).toContain(kidOf(late.access_token));
      expect((await me(b, late.access_token)).statusCode).toBe(200);

      // Past the refresh interval, signing makes `a` re-read the store (in the background:
      // it may sign inside a transaction); then it publishes and signs with the new key.
      a.clock.advance(KEY_REFRESH_INTERVAL_SECONDS);
      const reload = vi.spyOn(a.deps.keys, 'reload');
      await signedInUser(a.app);
      expect(reload).toHaveBeenCalled();
      reload.mockRestore();
      await vi.waitFor(() => expect(a.deps.keys.current.kid).toBe(newKid));
      expect(await publishedKids(a)).toContain(newKid);
      const { tokens: fromA } = await signedInUser(a.app);
      expect(kidOf(fromA.access_token)).toBe(newKid);
      const { tokens: fresh } = await signedInUser(b.app);
      expect((await me(a, fresh.access_token)).statusCode).toBe(200);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('verify a token of another algorithm once another instance switched to it', async () => {
    const a = await startTestApp();
    const b = await startTestApp({
      database: a.database,
      clock: a.clock,
      env: { JWT_ALGORITHM: 'ES256' },
    });
    try {
      const { tokens } = await signedInUser(b.app);
      a.clock.advance(KEY_REFRESH_INTERVAL_SECONDS);
      expect((await me(a, tokens.access_token)).statusCode).toBe(200);
      const { tokens: fromA } = await signedInUser(a.app);
      expect(kidOf(fromA.access_token)).toBe(b.deps.keys.current.kid);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('re-read the store at most once for a burst of unknown kids', async () => {
    const { tokens } = await signedInUser(first.app);
    const [header, payload, signature] = tokens.access_token.split('.');
    first.clock.advance(KEY_REFRESH_INTERVAL_SECONDS);
    const reload = vi.spyOn(first.deps.keys, 'reload');
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const fake = JSON.parse(Buffer.from(header!, 'base64url').toString());
          const forged = Buffer.from(JSON.stringify({ ...fake, kid: `unknown-${i}` }));
          return me(first, `${forged.toString('base64url')}.${payload}.${signature}`);
        }),
      );
      expect(responses.map((r) => r.statusCode)).toEqual(Array.from({ length: 20 }, () => 401));
      // One reload for the burst (one more only if deps' periodic reload happened to fire).
      expect(reload.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(reload.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      reload.mockRestore();
    }
  });
});
