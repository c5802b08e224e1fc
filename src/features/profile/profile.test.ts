import { describe, expect, it } from 'vitest';
import { json, signedInUser, startTestApp } from '../../../test/app.js';
import type { ProblemBody as Problem } from '../../http/problem.js';

const { app, deps, clock } = await startTestApp();

type Auth = { authorization: string };

interface Profile {
  user_id: string;
  full_name: string | null;
  avatar_url: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  updated_at: string | null;
}

const PROFILE_KEYS = [
  'avatar_url',
  'full_name',
  'locale',
  'phone',
  'timezone',
  'updated_at',
  'user_id',
];

const getProfile = (headers: Auth | Record<string, never>) =>
  app.inject({ method: 'GET', url: '/api/profile', headers });

const patchProfile = (headers: Auth | Record<string, never>, payload: unknown) =>
  app.inject({ method: 'PATCH', url: '/api/profile', headers, payload: payload as object });

/** The stored row, read directly from the database. */
const profileRow = (userId: string) =>
  deps.db.selectFrom('profiles').selectAll().where('user_id', '=', userId).executeTakeFirst();

const FILLED = {
  full_name: 'Ada Lovelace',
  avatar_url: 'https://cdn.example.com/ada.png',
  phone: '+447700900123',
  locale: 'en-GB',
  timezone: 'Europe/London',
};

/** A signed-in user whose profile has every field set. */
async function userWithFilledProfile() {
  const user = await signedInUser(app);
  const response = await patchProfile(user.auth, FILLED);
  expect(response.statusCode).toBe(200);
  return user;
}

describe('GET /api/profile', () => {
  it('answers an empty profile right after sign-up, with nulls for every field', async () => {
    const { user, auth } = await signedInUser(app);
    const response = await getProfile(auth);
    expect(response.statusCode).toBe(200);
    const profile = json<Profile>(response);
    expect(Object.keys(profile).sort()).toEqual(PROFILE_KEYS);
    expect(profile).toMatchObject({
      user_id: user.id,
      full_name: null,
      avatar_url: null,
      phone: null,
      locale: null,
      timezone: null,
    });
    const row = await profileRow(user.id);
    expect(profile.updated_at).toBe(row?.updated_at.toISOString());
  });

  it('answers 401 unauthorized without a token or with a garbage one', async () => {
    for (const headers of [{}, { authorization: 'Bearer nonsense' }]) {
      const response = await getProfile(headers as Auth);
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(json<Problem>(response).code).toBe('unauthorized');
    }
  });

  it('answers an all-null profile for a user who has no profile row (imported users)', async () => {
    const { user, auth } = await signedInUser(app);
    await deps.db.deleteFrom('profiles').where('user_id', '=', user.id).execute();
    const response = await getProfile(auth);
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response)).toEqual({
      user_id: user.id,
      full_name: null,
      avatar_url: null,
      phone: null,
      locale: null,
      timezone: null,
      updated_at: null,
    });
  });
});

describe('PATCH /api/profile', () => {
  it.each([
    ['full_name', 'Grace Hopper'],
    ['avatar_url', 'https://cdn.example.com/u/1.png?size=128'],
    ['avatar_url', 'http://images.example.org/a.jpg'],
    ['phone', '+14155550123'],
    ['locale', 'fr-CA'],
    ['timezone', 'America/Argentina/Buenos_Aires'],
  ])('sets %s to %j, answers it, reads it back and stores it', async (field, value) => {
    const { user, auth } = await signedInUser(app);
    clock.advance(60);
    const response = await patchProfile(auth, { [field]: value });
    expect(response.statusCode).toBe(200);
    const profile = json<Profile>(response);
    expect(profile).toMatchObject({ user_id: user.id, [field]: value });
    expect(profile.updated_at).toBe(clock.now().toISOString());
    // Only the named field changed.
    for (const other of Object.keys(FILLED).filter((key) => key !== field))
      expect(profile[other as keyof Profile]).toBeNull();

    expect(json<Profile>(await getProfile(auth))).toEqual(profile);
    const row = await profileRow(user.id);
    expect(row?.[field as keyof typeof FILLED]).toBe(value);
    expect(row?.updated_at.toISOString()).toBe(clock.now().toISOString());
  });

  it('sets every field at once and leaves absent fields alone on a later update', async () => {
    const { user, auth } = await userWithFilledProfile();
    const response = await patchProfile(auth, { phone: '+33612345678' });
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response)).toMatchObject({ ...FILLED, phone: '+33612345678' });
    expect(await profileRow(user.id)).toMatchObject({ ...FILLED, phone: '+33612345678' });
  });

  it('clears the fields sent as null and keeps the others', async () => {
    const { user, auth } = await userWithFilledProfile();
    const response = await patchProfile(auth, { avatar_url: null, phone: null, timezone: null });
    expect(response.statusCode).toBe(200);
    const expected = {
      full_name: FILLED.full_name,
      avatar_url: null,
      phone: null,
      locale: FILLED.locale,
      timezone: null,
    };
    expect(json<Profile>(response)).toMatchObject(expected);
    expect(await profileRow(user.id)).toMatchObject(expected);
  });

  it('trims the full name and treats a blank one as cleared', async () => {
    const { user, auth } = await userWithFilledProfile();
    let response = await patchProfile(auth, { full_name: '  Ada King  ' });
    expect(json<Profile>(response).full_name).toBe('Ada King');
    response = await patchProfile(auth, { full_name: '   ' });
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response).full_name).toBeNull();
    expect((await profileRow(user.id))?.full_name).toBeNull();
  });

  it.each([
    ['locale', 'en-us', 'en-US'],
    ['locale', 'ZH-hant-tw', 'zh-Hant-TW'],
    ['timezone', 'utc', 'UTC'],
    ['timezone', 'UTC', 'UTC'],
    ['timezone', 'europe/paris', 'Europe/Paris'],
    // An IANA alias that ICU resolves to another name is kept as written.
    ['timezone', 'Asia/Kolkata', 'Asia/Kolkata'],
  ])('stores %s %j in its canonical form %j', async (field, sent, stored) => {
    const { user, auth } = await signedInUser(app);
    const response = await patchProfile(auth, { [field]: sent });
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response)[field as keyof Profile]).toBe(stored);
    expect((await profileRow(user.id))?.[field as 'locale' | 'timezone']).toBe(stored);
  });

  it.each([
    ['full_name', 'n'.repeat(201)],
    ['avatar_url', 'javascript:alert(document.cookie)'],
    ['avatar_url', 'data:image/png;base64,iVBORw0KGgo='],
    ['avatar_url', 'ftp://files.example.com/a.png'],
    ['avatar_url', '/relative/avatar.png'],
    ['avatar_url', '//cdn.example.com/a.png'],
    ['avatar_url', 'http:cdn.example.com/a.png'],
    ['avatar_url', 'https://trusted.example.com@evil.example.net/a.png'],
    ['avatar_url', 'https://cdn.example.com/a b.png'],
    ['avatar_url', `https://cdn.example.com/${'a'.repeat(2030)}`],
    ['avatar_url', ''],
    ['phone', '4155550123'],
    ['phone', '+04155550123'],
    ['phone', '+1 415 555 0123'],
    ['phone', '+1234567890123456'],
    ['phone', ''],
    ['locale', 'en_US'],
    ['locale', 'not a locale'],
    ['locale', ''],
    ['locale', 'x'.repeat(65)],
    ['timezone', 'Mars/Olympus_Mons'],
    ['timezone', '+01:00'],
    ['timezone', ''],
    ['timezone', 'Europe/'.repeat(20)],
  ])('refuses %s %j with 400 naming the field, and changes nothing', async (field, value) => {
    const { user, auth } = await userWithFilledProfile();
    const before = await profileRow(user.id);
    clock.advance(60);
    const response = await patchProfile(auth, { [field]: value });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const body = json<Problem>(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.map((error) => error.field)).toContain(field);
    expect(await profileRow(user.id)).toEqual(before);
  });

  it('lists every invalid field at once and applies none of the valid ones', async () => {
    const { user, auth } = await userWithFilledProfile();
    const before = await profileRow(user.id);
    const response = await patchProfile(auth, {
      full_name: 'Someone Else',
      avatar_url: 'javascript:alert(1)',
      locale: 'en_US',
      timezone: 'Nowhere/Special',
    });
    expect(response.statusCode).toBe(400);
    const body = json<Problem>(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.map((error) => error.field).sort()).toEqual([
      'avatar_url',
      'locale',
      'timezone',
    ]);
    expect(await profileRow(user.id)).toEqual(before);
  });

  it.each([
    ['phone', 4155550123],
    ['full_name', true],
    ['locale', ['en']],
    ['timezone', { name: 'UTC' }],
  ])('refuses a wrong type for %s (%j) with 400 naming the field', async (field, value) => {
    const { user, auth } = await userWithFilledProfile();
    const before = await profileRow(user.id);
    const response = await patchProfile(auth, { [field]: value });
    expect(response.statusCode).toBe(400);
    const body = json<Problem>(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.map((error) => error.field)).toContain(field);
    expect(await profileRow(user.id)).toEqual(before);
  });

  it('ignores unknown fields: no other user_id, no forged updated_at, nothing stored', async () => {
    const victim = await userWithFilledProfile();
    const victimBefore = await profileRow(victim.user.id);
    const { user, auth } = await signedInUser(app);
    clock.advance(60);
    const response = await patchProfile(auth, {
      full_name: 'Mallory',
      user_id: victim.user.id,
      updated_at: '2000-01-01T00:00:00.000Z',
      roles: ['admin'],
    });
    expect(response.statusCode).toBe(200);
    const profile = json<Profile>(response);
    expect(Object.keys(profile).sort()).toEqual(PROFILE_KEYS);
    expect(profile).toMatchObject({ user_id: user.id, full_name: 'Mallory' });
    expect(profile.updated_at).toBe(clock.now().toISOString());
    expect(await profileRow(victim.user.id)).toEqual(victimBefore);
  });

  it('changes nothing for an empty object and answers the current profile', async () => {
    const { user, auth } = await userWithFilledProfile();
    const before = await profileRow(user.id);
    clock.advance(60);
    const response = await patchProfile(auth, {});
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response)).toEqual({
      user_id: user.id,
      ...FILLED,
      updated_at: before?.updated_at.toISOString(),
    });
    expect(await profileRow(user.id)).toEqual(before);
  });

  it('answers 401 without a token and changes nothing', async () => {
    const { user } = await userWithFilledProfile();
    const before = await profileRow(user.id);
    const response = await patchProfile({}, { full_name: 'Anonymous' });
    expect(response.statusCode).toBe(401);
    expect(json<Problem>(response).code).toBe('unauthorized');
    expect(await profileRow(user.id)).toEqual(before);
  });

  it('creates the row for a user who has none; an empty update creates nothing', async () => {
    const { user, auth } = await signedInUser(app);
    await deps.db.deleteFrom('profiles').where('user_id', '=', user.id).execute();

    const empty = await patchProfile(auth, {});
    expect(empty.statusCode).toBe(200);
    expect(json<Profile>(empty)).toMatchObject({ user_id: user.id, updated_at: null });
    expect(await profileRow(user.id)).toBeUndefined();

    const response = await patchProfile(auth, { locale: 'de-de' });
    expect(response.statusCode).toBe(200);
    expect(json<Profile>(response)).toMatchObject({
      user_id: user.id,
      locale: 'de-DE',
      full_name: null,
      updated_at: clock.now().toISOString(),
    });
    expect(await profileRow(user.id)).toMatchObject({ locale: 'de-DE', full_name: null });
  });
});

describe('one user, one profile', () => {
  it('a second user only ever sees and changes their own profile', async () => {
    const first = await userWithFilledProfile();
    const firstBefore = await profileRow(first.user.id);
    const second = await signedInUser(app);

    const seen = json<Profile>(await getProfile(second.auth));
    expect(seen).toMatchObject({ user_id: second.user.id, full_name: null, phone: null });

    const changed = await patchProfile(second.auth, {
      full_name: 'Second',
      phone: '+4915112345678',
    });
    expect(changed.statusCode).toBe(200);
    expect(json<Profile>(changed)).toMatchObject({ user_id: second.user.id, full_name: 'Second' });
    expect(await profileRow(second.user.id)).toMatchObject({ full_name: 'Second' });

    expect(await profileRow(first.user.id)).toEqual(firstBefore);
    expect(json<Profile>(await getProfile(first.auth))).toMatchObject({
      user_id: first.user.id,
      ...FILLED,
    });
  });
});

it('documents both operations in the OpenAPI document under the profile tag', async () => {
  const document = json<{
    paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>>;
  }>(await app.inject({ method: 'GET', url: '/openapi.json' }));
  const path = document.paths['/api/profile'];
  expect(path?.['get']?.tags).toEqual(['profile']);
  expect(path?.['patch']?.tags).toEqual(['profile']);
  // Besides the route's own, the errors any body-reading route may answer (see openapi.ts).
  expect(Object.keys(path?.['patch']?.responses ?? {}).sort()).toEqual([
    '200',
    '400',
    '401',
    '413',
    '415',
    '500',
    '503',
  ]);
});
