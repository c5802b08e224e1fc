import { describe, expect, it } from 'vitest';
import { blankDatabaseEnv, capture } from '../../test/cli.js';
import { createDb } from '../db/create-db.js';
import { runCli } from './cli.js';

const env = await blankDatabaseEnv();

describe('hyperion-auth CLI', () => {
  it('prints an overview for no command or --help, and exits 2 for an unknown one', async () => {
    const help = capture();
    expect(await runCli(['--help'], env, help)).toBe(0);
    expect(help.stdout.join('\n')).toMatch(/migrate[\s\S]*create-admin[\s\S]*keys rotate/);
    expect(help.stdout.join('\n')).toMatch(/users import[\s\S]*users list[\s\S]*sessions revoke/);
    expect(help.stdout.join('\n')).toMatch(
      /clients create[\s\S]*clients list[\s\S]*clients delete/,
    );
    expect(help.stderr).toEqual([]);
    const unknown = capture();
    expect(await runCli(['frobnicate'], env, unknown)).toBe(2);
    expect(unknown.stdout).toEqual([]);
    expect(unknown.stderr.join('\n')).toContain('unknown command frobnicate');
    expect(unknown.stderr.join('\n')).toContain('usage: hyperion-auth');
    const none = capture();
    expect(await runCli([], env, none)).toBe(0);
    expect(none.stdout.join('\n')).toContain('usage: hyperion-auth');
  });

  it.each([
    ['users', ['users import', 'users list']],
    ['keys', ['keys rotate']],
    ['sessions', ['sessions revoke']],
    ['clients', ['clients create', 'clients list', 'clients delete']],
  ])(
    '%s --help and -h list its commands; an unknown or missing one exits 2',
    async (group, names) => {
      for (const flag of ['--help', '-h']) {
        const io = capture();
        expect(await runCli([group, flag], env, io)).toBe(0);
        expect(io.stdout.join('\n')).toContain(`usage: hyperion-auth ${group} <command>`);
        for (const name of names) expect(io.stdout.join('\n')).toContain(name);
      }
      const unknown = capture();
      expect(await runCli([group, 'frob'], env, unknown)).toBe(2);
      expect(unknown.stdout).toEqual([]);
      expect(unknown.stderr.join('\n')).toContain(`unknown command frob`);
      expect(unknown.stderr.join('\n')).toContain(`usage: hyperion-auth ${group} <command>`);
      const missing = capture();
      expect(await runCli([group], env, missing)).toBe(2);
      expect(missing.stderr.join('\n')).toContain('name a command');
    },
  );

  it.each([
    'migrate',
    'create-admin',
    'keys rotate',
    'users import',
    'users list',
    'sessions revoke',
    'clients create',
    'clients list',
    'clients delete',
  ])(
    '%s --help / -h explains the command; an unknown flag exits 2 with the usage',
    async (command) => {
      for (const flag of ['--help', '-h']) {
        const io = capture();
        expect(await runCli([...command.split(' '), flag], env, io)).toBe(0);
        expect(io.stdout.join('\n')).toContain(`hyperion-auth ${command}`);
        expect(io.stderr).toEqual([]);
      }
      const bad = capture();
      expect(await runCli([...command.split(' '), '--frobnicate'], env, bad)).toBe(2);
      expect(bad.stdout).toEqual([]);
      expect(bad.stderr.join('\n')).toMatch(/--frobnicate/);
      expect(bad.stderr.join('\n')).toContain(`hyperion-auth ${command}`);
    },
  );

  it('migrate applies the migrations once, then says the database is up to date', async () => {
    const first = capture();
    expect(await runCli(['migrate'], env, first)).toBe(0);
    expect(first.stdout[0]).toMatch(/^applied \d+: /);
    const second = capture();
    expect(await runCli(['migrate'], env, second)).toBe(0);
    expect(second.stdout).toEqual(['database is up to date']);
  });

  it('create-admin makes a verified admin from a password on standard input', async () => {
    const io = capture('Operator-Chosen-Pass-1\n');
    expect(
      await runCli(['create-admin', '--email', 'Ops@Example.com', '--password-stdin'], env, io),
    ).toBe(0);
    expect(io.stdout[0]).toMatch(/^created admin ops@example\.com \(/);
    expect(io.stdout.join('\n')).not.toContain('Operator-Chosen-Pass-1');

    const again = capture('Operator-Chosen-Pass-1\n');
    expect(
      await runCli(['create-admin', '--email', 'ops@example.com', '--password-stdin'], env, again),
    ).toBe(1);
    expect(again.stderr[0]).toContain('already registered');
  });

  it('create-admin refuses a weak password and a missing e-mail, saying why', async () => {
    const weak = capture('password\n');
    expect(
      await runCli(['create-admin', '--email', 'weak@example.com', '--password-stdin'], env, weak),
    ).toBe(1);
    expect(weak.stderr[0]).toContain('password is too common');
    const missing = capture();
    expect(await runCli(['create-admin', '--password-stdin'], env, missing)).toBe(2);
    expect(missing.stderr[0]).toContain('--email is required');
  });

  it('keys rotate makes a new key current and keeps the old one verifying', async () => {
    const io = capture();
    expect(await runCli(['keys', 'rotate'], env, io)).toBe(0);
    const kid = /current signing key is now (\S+)/.exec(io.stdout[0] ?? '')?.[1];
    expect(kid).toBeDefined();
    const db = await createDb(
      env['DATABASE_URL']
        ? { kind: 'postgres', url: env['DATABASE_URL'] }
        : { kind: 'embedded', dataDir: env['DATA_DIR']! },
    );
    try {
      const keys = await db
        .selectFrom('signing_keys')
        .select(['kid', 'retired_at', 'verify_until'])
        .execute();
      expect(keys.find((k) => k.retired_at === null)?.kid).toBe(kid);
      const retired = keys.filter((k) => k.retired_at !== null);
      expect(retired.length).toBeGreaterThanOrEqual(1);
      for (const key of retired) expect(key.verify_until!.getTime()).toBeGreaterThan(Date.now());
    } finally {
      await db.destroy();
    }
  });

  it('stops with one line naming a wrong setting', async () => {
    const io = capture();
    expect(await runCli(['migrate'], { ...env, ACCESS_TOKEN_TTL: 'soon' }, io)).toBe(1);
    expect(io.stderr).toHaveLength(1);
    expect(io.stderr[0]).toMatch(/^hyperion-auth migrate: ACCESS_TOKEN_TTL: /);
  });
});
