import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { describe, expect, it } from 'vitest';
import { auditEventsOf, json, startTestApp, uniqueEmail } from '../../../test/app.js';
import { startSmtpSink } from '../../../test/smtp.js';
import { ImportRecordError, toImportRecord } from './user-import.service.js';

const sink = await startSmtpSink();
const { app, deps } = await startTestApp({ env: { SMTP_URL: sink.url } });
const service = deps.services.userImport;

const OLD_PASSWORD = 'password-from-the-old-service';
const bcryptHash = await bcrypt.hash(OLD_PASSWORD, 4); // $2b$
const argon2iHash = await argon2.hash(OLD_PASSWORD, { type: argon2.argon2i, memoryCost: 1024 });
const argon2idHash = await argon2.hash(OLD_PASSWORD, {
  type: argon2.argon2id,
  memoryCost: 2048,
  timeCost: 2,
});

const signIn = (email: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/auth/signin', payload: { email, password } });

const storedHash = async (email: string) =>
  (
    await deps.db
      .selectFrom('credentials')
      .innerJoin('users', 'users.id', 'credentials.user_id')
      .select('credentials.password_hash')
      .where('users.email', '=', email)
      .executeTakeFirstOrThrow()
  ).password_hash;

const userCount = async () =>
  Number(
    (
      await deps.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

async function importOne(fields: Record<string, unknown>, dryRun = false) {
  return service.importRecord(toImportRecord(fields), { dryRun });
}

describe('toImportRecord', () => {
  it('normalizes the address and reads defaults', () => {
    expect(toImportRecord({ email: '  Ada@Example.COM ', password_hash: bcryptHash })).toEqual({
      email: 'ada@example.com',
      name: null,
      passwordHash: bcryptHash,
      roles: ['user'],
      emailVerified: false,
    });
    expect(
      toImportRecord({
        email: 'b@example.com',
        name: '  Bea ',
        roles: 'admin; user  admin',
        email_verified: 'TRUE',
      }),
    ).toEqual({
      email: 'b@example.com',
      name: 'Bea',
      passwordHash: null,
      roles: ['admin', 'user'],
      emailVerified: true,
    });
    expect(toImportRecord({ email: 'c@example.com', password_hash: '' }).passwordHash).toBeNull();
  });

  it.each([
    ['$2a$', bcryptHash.replace(/^\$2b\$/, '$2a$')],
    ['$2y$', bcryptHash.replace(/^\$2b\$/, '$2y$')],
    ['argon2i', argon2iHash],
    ['argon2id', argon2idHash],
  ])('accepts a %s hash', (_kind, hash) => {
    expect(toImportRecord({ email: 'h@example.com', password_hash: hash }).passwordHash).toBe(hash);
  });

  it.each([
    [{ password_hash: bcryptHash }, /^email is missing/],
    [{ email: 'not an address' }, /^email is missing/],
    [{ email: 'a@example.com', password_hash: bcryptHash.slice(0, -1) }, /^password_hash is not/],
    [{ email: 'a@example.com', password_hash: '$1$md5$abcdef' }, /^password_hash is not/],
    [{ email: 'a@example.com', password_hash: 'plain-text-password' }, /^password_hash is not/],
    [{ email: 'a@example.com', password_hash: 42 }, /^password_hash is not/],
    [{ email: 'a@example.com', roles: [1] }, /^roles must be a list/],
    [{ email: 'a@example.com', email_verified: 'maybe' }, /^email_verified must be/],
    [{ email: 'a@example.com', name: 7 }, /^name must be text/],
    [{ email: 'a@example.com', password: 'secret' }, /^unknown field password/],
  ])('refuses %j', (fields, reason) => {
    let error: unknown;
    try {
      toImportRecord(fields as Record<string, unknown>);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ImportRecordError);
    expect((error as Error).message).toMatch(reason);
    // The reason never repeats the hash it refused.
    expect((error as Error).message).not.toContain('$2b$04$');
    expect((error as Error).message).not.toContain('plain-text-password');
  });
});

describe('UserImportService', () => {
  it('creates the user, their roles and a user.signup event in one go', async () => {
    const email = uniqueEmail('imported');
    const before = await userCount();
    expect(
      await importOne({
        email: email.toUpperCase(),
        name: 'Imported',
        password_hash: bcryptHash,
        roles: ['admin', 'user'],
        email_verified: true,
      }),
    ).toBe('created');
    expect(await userCount()).toBe(before + 1);
    const user = await deps.services.accounts.findUserByEmail(email);
    expect(user).toMatchObject({ email, name: 'Imported', email_verified: true, is_active: true });
    expect(await deps.services.accounts.roleNamesOf(user!.id)).toEqual(['admin', 'user']);
    const events = await auditEventsOf(deps, user!.id, 'user.signup');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor_id: null,
      outcome: 'success',
      data: { imported: true, roles: ['admin', 'user'] },
    });
    expect(JSON.stringify(events)).not.toContain(bcryptHash);
  });

  it('is idempotent: an existing address (any case) is reported and left untouched', async () => {
    const email = uniqueEmail('again');
    expect(await importOne({ email, name: 'First', password_hash: bcryptHash })).toBe('created');
    const user = await deps.services.accounts.findUserByEmail(email);
    const before = await userCount();
    expect(
      await importOne({
        email: ` ${email.toUpperCase()}`,
        name: 'Second',
        password_hash: argon2idHash,
        roles: ['admin'],
      }),
    ).toBe('exists');
    expect(await userCount()).toBe(before);
    expect(await deps.services.accounts.findUserByEmail(email)).toEqual(user);
    expect(await deps.services.accounts.roleNamesOf(user!.id)).toEqual(['user']);
    expect(await storedHash(email)).toBe(bcryptHash);
    expect(await auditEventsOf(deps, user!.id, 'user.signup')).toHaveLength(1);
  });

  it('an address signed up through the API counts as existing', async () => {
    const email = uniqueEmail('signedup');
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: 'violet-Harbor-917-quiet' },
    });
    expect(response.statusCode).toBe(201);
    expect(await importOne({ email: email.toUpperCase(), password_hash: bcryptHash })).toBe(
      'exists',
    );
  });

  it('refuses an unknown role, creating nothing', async () => {
    const email = uniqueEmail('ghost');
    const before = await userCount();
    await expect(
      importOne({ email, password_hash: bcryptHash, roles: ['user', 'ghost'] }),
    ).rejects.toThrow(new ImportRecordError('No such role: ghost'));
    expect(await userCount()).toBe(before);
    expect(await deps.services.accounts.findUserByEmail(email)).toBeUndefined();
  });

  it('a dry run checks everything and writes nothing', async () => {
    const email = uniqueEmail('dry');
    const before = await userCount();
    const events = await deps.db.selectFrom('audit_events').select('id').execute();
    expect(await importOne({ email, password_hash: bcryptHash }, true)).toBe('would_create');
    await expect(importOne({ email, roles: ['ghost'] }, true)).rejects.toThrow(ImportRecordError);
    expect(await userCount()).toBe(before);
    expect(await deps.db.selectFrom('audit_events').select('id').execute()).toHaveLength(
      events.length,
    );
  });

  it('two imports of one address at once create it once', async () => {
    const email = uniqueEmail('race');
    const outcomes = await Promise.all([
      importOne({ email, password_hash: bcryptHash }),
      importOne({ email, password_hash: argon2idHash }),
    ]);
    expect(outcomes.sort()).toEqual(['created', 'exists']);
    const users = await deps.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .execute();
    expect(users).toHaveLength(1);
  });
});

describe('signing in after an import', () => {
  it.each([
    ['bcrypt $2b$', bcryptHash],
    ['bcrypt $2y$', bcryptHash.replace(/^\$2b\$/, '$2y$')],
    ['argon2i', argon2iHash],
    ['argon2id with other parameters', argon2idHash],
  ])('a %s user signs in with the old password; the hash becomes argon2id', async (_k, hash) => {
    const email = uniqueEmail('legacy');
    expect(await importOne({ email, password_hash: hash })).toBe('created');

    const wrong = await signIn(email, 'not-the-old-password');
    expect(wrong.statusCode).toBe(401);
    expect(await storedHash(email)).toBe(hash);

    const ok = await signIn(email, OLD_PASSWORD);
    expect(ok.statusCode).toBe(200);
    expect(json<{ user: { email: string; roles: string[] } }>(ok).user).toMatchObject({
      email,
      roles: ['user'],
    });
    const upgraded = await storedHash(email);
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=1024,p=\d+,t=1\$/);
    expect(upgraded).not.toBe(hash);
    expect((await signIn(email, OLD_PASSWORD)).statusCode).toBe(200);
    expect(await storedHash(email)).toBe(upgraded);
  });

  it('a user imported without a password cannot sign in, and sets one by reset', async () => {
    const email = uniqueEmail('nopass');
    expect(await importOne({ email, name: 'No Pass' })).toBe('created');
    for (const password of [OLD_PASSWORD, '', 'guess-Guess-123']) {
      const attempt = await signIn(email, password);
      expect(attempt.statusCode).not.toBe(200);
    }
    expect(await storedHash(email)).toMatch(/^\$argon2id\$/);

    const forgot = await app.inject({
      method: 'POST',
      url: '/api/auth/password/forgot',
      payload: { email },
    });
    expect(forgot.statusCode).toBe(202);
    const mail = await sink.waitForMail((m) => m.to === email && /reset/i.test(m.subject), 10_000);
    const token = /#token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    expect(token).toBeDefined();
    const newPassword = 'brand-New-Password-42';
    const reset = await app.inject({
      method: 'POST',
      url: '/api/auth/password/reset',
      payload: { token, password: newPassword },
    });
    expect(reset.statusCode).toBeLessThan(300);
    expect((await signIn(email, newPassword)).statusCode).toBe(200);
  });
});
