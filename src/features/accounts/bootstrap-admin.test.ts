import { describe, expect, it } from 'vitest';
import { signIn, signUp, startTestApp, uniqueEmail } from '../../../test/app.js';
import { BootstrapError, ensureBootstrapAdmin } from './bootstrap-admin.js';

const { app, deps } = await startTestApp();
const { accounts } = deps.services;

describe('bootstrap admin (ADMIN_EMAIL / ADMIN_PASSWORD)', () => {
  it('refuses a weak ADMIN_PASSWORD, naming the variable', async () => {
    await expect(
      ensureBootstrapAdmin(accounts, { email: uniqueEmail('root'), password: 'password' }),
    ).rejects.toThrow(/^ADMIN_PASSWORD: is too common$/);
    expect(await accounts.adminExists()).toBe(false);
  });

  it('refuses to promote an existing ordinary account', async () => {
    const { email } = await signUp(app);
    const attempt = ensureBootstrapAdmin(accounts, { email, password: 'Bootstrap-Admin-2026' });
    await expect(attempt).rejects.toBeInstanceOf(BootstrapError);
    await expect(attempt).rejects.toThrow(/^ADMIN_EMAIL: /);
    expect(await accounts.adminExists()).toBe(false);
  });

  it('creates a verified admin when none exists, and does nothing once one does', async () => {
    const email = uniqueEmail('root');
    const password = 'Bootstrap-Admin-2026';
    expect(await ensureBootstrapAdmin(accounts, { email, password })).toBe('created');
    expect(await ensureBootstrapAdmin(accounts, { email: uniqueEmail('other'), password })).toBe(
      'admin-exists',
    );
    const tokens = await signIn(app, email, password);
    expect(tokens.user.roles).toEqual(['admin', 'user']);
    expect(tokens.user).toMatchObject({ email_verified: true });
    const admins = await deps.db
      .selectFrom('user_roles')
      .select('user_id')
      .where('role_name', '=', 'admin')
      .execute();
    expect(admins).toHaveLength(1);
  });

  it('creates exactly one admin when two instances bootstrap at once', async () => {
    const second = await startTestApp();
    const third = await startTestApp({ database: second.database, clock: second.clock });
    const email = uniqueEmail('root');
    const results = await Promise.allSettled([
      ensureBootstrapAdmin(second.deps.services.accounts, {
        email,
        password: 'Bootstrap-Admin-2026',
      }),
      ensureBootstrapAdmin(third.deps.services.accounts, {
        email,
        password: 'Bootstrap-Admin-2026',
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const admins = await second.deps.db
      .selectFrom('user_roles')
      .select('user_id')
      .where('role_name', '=', 'admin')
      .execute();
    expect(admins).toHaveLength(1);
  });
});
