import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../../test/app.js';
import { blankDatabaseEnv, capture } from '../../test/cli.js';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/config.js';
import { createDeps } from '../deps.js';
import { runCli } from './cli.js';

const env = await blankDatabaseEnv();
const dir = await mkdtemp(join(tmpdir(), 'hyperion-import-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const OLD_PASSWORD = 'my-old-service-password';
const bcryptHash = await bcrypt.hash(OLD_PASSWORD, 4);
const argonHash = await argon2.hash(OLD_PASSWORD, { type: argon2.argon2i, memoryCost: 1024 });

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** The service on the CLI's database, for checking what an import or revocation did. */
async function withService<T>(
  work: (service: Awaited<ReturnType<typeof openService>>) => Promise<T>,
): Promise<T> {
  const service = await openService();
  try {
    return await work(service);
  } finally {
    await service.app.close();
    await service.deps.close();
  }
}

async function openService() {
  const deps = await createDeps(loadConfig(env), { startWorkers: false });
  const app = await buildApp(deps, { logger: false });
  return { app, deps };
}

const signIn = (
  service: Awaited<ReturnType<typeof openService>>,
  email: string,
  password: string,
) => service.app.inject({ method: 'POST', url: '/api/auth/signin', payload: { email, password } });

beforeAll(async () => {
  expect(await runCli(['migrate'], env, capture())).toBe(0);
});

describe('users import', () => {
  it('imports JSON lines, reporting each line; a bad line fails alone (exit 1)', async () => {
    const path = await file(
      'users.jsonl',
      [
        JSON.stringify({ email: 'Ada@Example.com', name: 'Ada', password_hash: bcryptHash }),
        '',
        JSON.stringify({
          email: 'grace@example.com',
          password_hash: argonHash,
          roles: ['admin', 'user'],
          email_verified: true,
        }),
        JSON.stringify({ email: 'bad@example.com', password_hash: '$2b$10$tooShort' }),
        JSON.stringify({ email: 'role@example.com', password_hash: bcryptHash, roles: ['ghost'] }),
        '{not json',
        JSON.stringify({ email: 'nope', password_hash: bcryptHash }),
      ].join('\n'),
    );
    const io = capture();
    expect(await runCli(['users', 'import', path], env, io)).toBe(1);
    expect(io.stdout).toEqual([
      'line 1: created ada@example.com',
      'line 3: created grace@example.com',
      'line 4: failed: password_hash is not a bcrypt ($2a$, $2b$, $2y$) or argon2 (PHC) hash',
      expect.stringMatching(/^line 5: failed: No such role: ghost/),
      expect.stringMatching(/^line 6: failed: /),
      expect.stringMatching(/^line 7: failed: email is missing/),
      '2 created, 0 already existed, 4 failed',
    ]);
    expect(io.stdout.join('\n')).not.toContain(bcryptHash);

    await withService(async ({ deps }) => {
      const grace = await deps.services.accounts.findUserByEmail('grace@example.com');
      const full = await deps.services.accounts.getUser(grace!.id);
      expect(full).toMatchObject({ roles: ['admin', 'user'], email_verified: true });
      const ada = await deps.services.accounts.findUserByEmail('ada@example.com');
      expect(ada).toMatchObject({ name: 'Ada', email_verified: false });
      expect(await deps.services.accounts.roleNamesOf(ada!.id)).toEqual(['user']);
      const events = await deps.db
        .selectFrom('audit_events')
        .select(['data', 'actor_id'])
        .where('user_id', '=', ada!.id)
        .where('type', '=', 'user.signup')
        .execute();
      expect(events).toEqual([{ actor_id: null, data: { imported: true, roles: ['user'] } }]);
      expect(await deps.services.accounts.findUserByEmail('bad@example.com')).toBeUndefined();
    });
  });

  it('imported users sign in with their old password and are re-hashed to argon2id', async () => {
    await withService(async (service) => {
      const wrong = await signIn(service, 'ada@example.com', 'not-the-password');
      expect(wrong.statusCode).toBe(401);
      for (const email of ['ada@example.com', 'grace@example.com']) {
        const response = await signIn(service, email, OLD_PASSWORD);
        expect(response.statusCode, email).toBe(200);
        expect(json<{ user: { email: string } }>(response).user.email).toBe(email);
        const row = await service.deps.db
          .selectFrom('credentials')
          .innerJoin('users', 'users.id', 'credentials.user_id')
          .select('credentials.password_hash')
          .where('users.email', '=', email)
          .executeTakeFirstOrThrow();
        expect(row.password_hash).toMatch(/^\$argon2id\$/);
      }
      // Still the same password after the re-hash.
      expect((await signIn(service, 'ada@example.com', OLD_PASSWORD)).statusCode).toBe(200);
    });
  });

  it('is idempotent: a second run reports exists and changes nothing', async () => {
    const path = await file(
      'again.jsonl',
      `${JSON.stringify({ email: 'ada@example.com', name: 'Someone Else', password_hash: bcryptHash })}\n`,
    );
    const io = capture();
    expect(await runCli(['users', 'import', path], env, io)).toBe(0);
    expect(io.stdout).toEqual([
      'line 1: exists ada@example.com',
      '0 created, 1 already existed, 0 failed',
    ]);
    await withService(async ({ deps }) => {
      expect((await deps.services.accounts.findUserByEmail('ada@example.com'))?.name).toBe('Ada');
    });
  });

  it('reads CSV: header, BOM, CRLF, quoted commas, quotes and line breaks, roles by ;', async () => {
    const csv =
      '\uFEFFemail,name,password_hash,roles,email_verified\r\n' +
      `alan@example.com,"Turing, Alan",${bcryptHash},user;admin,yes\r\n` +
      `"kay@example.com","Alan ""Kay""\nXerox",${bcryptHash},,false\r\n` +
      `short@example.com,Short\r\n`;
    const path = await file('users.csv', csv);
    const io = capture();
    expect(await runCli(['users', 'import', path], env, io)).toBe(1);
    expect(io.stdout).toEqual([
      'line 2: created alan@example.com',
      'line 3: created kay@example.com',
      'line 5: failed: 2 fields where the header has 5',
      '2 created, 0 already existed, 1 failed',
    ]);
    await withService(async ({ deps }) => {
      const alan = await deps.services.accounts.findUserByEmail('alan@example.com');
      expect(alan).toMatchObject({ name: 'Turing, Alan', email_verified: true });
      expect(await deps.services.accounts.roleNamesOf(alan!.id)).toEqual(['admin', 'user']);
      const kay = await deps.services.accounts.findUserByEmail('kay@example.com');
      expect(kay?.name).toBe('Alan "Kay"\nXerox');
    });
  });

  it('--dry-run reports what it would do and writes nothing; - reads standard input', async () => {
    const input = `${JSON.stringify({ email: 'dry@example.com', password_hash: bcryptHash })}\n`;
    const io = capture(input);
    expect(await runCli(['users', 'import', '-', '--dry-run'], env, io)).toBe(0);
    expect(io.stdout).toEqual([
      'line 1: would create dry@example.com',
      'dry run: 1 would be created, 0 already existed, 0 failed',
    ]);
    await withService(async ({ deps }) => {
      expect(await deps.services.accounts.findUserByEmail('dry@example.com')).toBeUndefined();
    });
  });

  it('imports a user without password_hash, who cannot sign in until a reset', async () => {
    const path = await file(
      'nopass.ndjson',
      `\uFEFF${JSON.stringify({ email: 'nopass@example.com', email_verified: true })}\r\n`,
    );
    const io = capture();
    expect(await runCli(['users', 'import', path], env, io)).toBe(0);
    expect(io.stdout).toEqual([
      'line 1: created nopass@example.com (no password: must reset it)',
      '1 created, 0 already existed, 0 failed',
    ]);
    await withService(async (service) => {
      for (const password of ['', OLD_PASSWORD, 'anything-at-all-1'])
        expect((await signIn(service, 'nopass@example.com', password)).statusCode).not.toBe(200);
      const row = await service.deps.db
        .selectFrom('credentials')
        .innerJoin('users', 'users.id', 'credentials.user_id')
        .select('credentials.password_hash')
        .where('users.email', '=', 'nopass@example.com')
        .executeTakeFirstOrThrow();
      // A credentials row a reset can update; its secret was never kept.
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
    });
  });

  it('--dry-run reports a repeated address as a real run would', async () => {
    const line = JSON.stringify({ email: 'twice@example.com', password_hash: bcryptHash });
    const io = capture(`${line}\n${line.replace('twice@', 'TWICE@')}\n`);
    expect(await runCli(['users', 'import', '--dry-run', '-'], env, io)).toBe(0);
    expect(io.stdout).toEqual([
      'line 1: would create twice@example.com',
      'line 2: exists twice@example.com',
      'dry run: 1 would be created, 1 already existed, 0 failed',
    ]);
    const real = capture(`${line}\n${line.replace('twice@', 'TWICE@')}\n`);
    expect(await runCli(['users', 'import', '-'], env, real)).toBe(0);
    expect(real.stdout).toEqual([
      'line 1: created twice@example.com',
      'line 2: exists twice@example.com',
      '1 created, 1 already existed, 0 failed',
    ]);
  });

  it('--format overrides the extension', async () => {
    const path = await file('users.txt', `email,password_hash\nfmt@example.com,${bcryptHash}\n`);
    const io = capture();
    expect(await runCli(['users', 'import', path, '--format', 'csv', '--dry-run'], env, io)).toBe(
      0,
    );
    expect(io.stdout[0]).toBe('line 2: would create fmt@example.com');
    const asJson = capture();
    expect(await runCli(['users', 'import', path, '--dry-run'], env, asJson)).toBe(1);
    expect(asJson.stdout[0]).toMatch(/^line 1: failed: /);
  });

  it('streams: each line is reported before the next one is read', async () => {
    const input = new PassThrough();
    const io = { ...capture(), openStdin: () => input };
    const run = runCli(['users', 'import', '--dry-run', '-'], env, io);
    const reported = async (count: number) => {
      for (let i = 0; i < 400 && io.stdout.length < count; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(io.stdout).toHaveLength(count);
    };
    // The input stays open: a reader that waited for the whole file would report nothing.
    input.write(`${JSON.stringify({ email: 'stream1@example.com' })}\n`);
    await reported(1);
    input.write(`${JSON.stringify({ email: 'stream2@example.com' })}\n`);
    await reported(2);
    input.end();
    expect(await run).toBe(0);
    expect(io.stdout).toEqual([
      'line 1: would create stream1@example.com (no password: must reset it)',
      'line 2: would create stream2@example.com (no password: must reset it)',
      'dry run: 2 would be created, 0 already existed, 0 failed',
    ]);
  });

  it('asks for exactly one file and a known format', async () => {
    expect(await runCli(['users', 'import'], env, capture())).toBe(2);
    expect(await runCli(['users', 'import', 'a', 'b'], env, capture())).toBe(2);
    expect(await runCli(['users', 'import', 'x.csv', '--format', 'xml'], env, capture())).toBe(2);
  });
});

describe('users list', () => {
  it('filters by text, role and status; --json prints one user per line', async () => {
    const io = capture();
    expect(await runCli(['users', 'list', '--role', 'admin', '--json'], env, io)).toBe(0);
    const admins = io.stdout.map((line) => JSON.parse(line) as { email: string; roles: string[] });
    expect(admins.map((user) => user.email).sort()).toEqual([
      'alan@example.com',
      'grace@example.com',
    ]);
    expect(io.stdout.join('\n')).not.toMatch(/password|argon2|\$2b\$/);

    const table = capture();
    expect(await runCli(['users', 'list', '--q', 'turing', '--active'], env, table)).toBe(0);
    expect(table.stdout[0]).toBe('id\temail\tname\troles\tactive\tcreated');
    expect(table.stdout).toHaveLength(2);
    expect(table.stdout[1]).toMatch(
      /^[0-9a-f-]{36}\talan@example\.com\tTuring, Alan\tadmin,user\tyes\t\d{4}-\d\d-\d\dT/,
    );

    const inactive = capture();
    expect(await runCli(['users', 'list', '--inactive', '--json'], env, inactive)).toBe(0);
    expect(inactive.stdout).toEqual([]);

    const limited = capture();
    expect(await runCli(['users', 'list', '--limit', '1', '--json'], env, limited)).toBe(0);
    expect(limited.stdout).toHaveLength(1);
    expect(await runCli(['users', 'list', '--limit', 'many'], env, capture())).toBe(2);
    expect(await runCli(['users', 'list', '--active', '--inactive'], env, capture())).toBe(2);
  });
});

describe('sessions revoke', () => {
  it('signs the user out everywhere; they can sign in again', async () => {
    const refreshToken = await withService(async (service) => {
      const response = await signIn(service, 'alan@example.com', OLD_PASSWORD);
      return json<{ refresh_token: string }>(response).refresh_token;
    });
    const io = capture();
    expect(await runCli(['sessions', 'revoke', '--user', 'Alan@Example.com'], env, io)).toBe(0);
    expect(io.stdout).toEqual(['signed out every session of Alan@Example.com (1 revoked)']);
    await withService(async (service) => {
      const refresh = await service.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        payload: { refresh_token: refreshToken },
      });
      expect(refresh.statusCode).toBe(401);
      expect((await signIn(service, 'alan@example.com', OLD_PASSWORD)).statusCode).toBe(200);
      const event = await service.deps.db
        .selectFrom('audit_events')
        .select(['data', 'actor_id', 'user_id'])
        .where('type', '=', 'user.signout')
        .executeTakeFirstOrThrow();
      expect(event.data).toMatchObject({ all: true, by_operator: true });
      expect(event.actor_id).toBeNull();
      const revoked = await service.deps.db
        .selectFrom('sessions')
        .select('revoked_reason')
        .where('user_id', '=', event.user_id!)
        .where('revoked_at', 'is not', null)
        .execute();
      expect(revoked).toEqual([{ revoked_reason: 'revoked_by_operator' }]);
    });
  });

  it('exits 1 for an unknown user and 2 without --user', async () => {
    const unknown = capture();
    expect(await runCli(['sessions', 'revoke', '--user', 'nobody@example.com'], env, unknown)).toBe(
      1,
    );
    expect(unknown.stderr[0]).toContain('no user nobody@example.com');
    expect(await runCli(['sessions', 'revoke'], env, capture())).toBe(2);
  });
});

describe('keys rotate', () => {
  it('records keys.rotated in the audit trail', async () => {
    const io = capture();
    expect(await runCli(['keys', 'rotate'], env, io)).toBe(0);
    const kid = /now (\S+)/.exec(io.stdout[0] ?? '')?.[1];
    await withService(async ({ deps }) => {
      const events = await deps.db
        .selectFrom('audit_events')
        .select('data')
        .where('type', '=', 'keys.rotated')
        .execute();
      expect(events.map((event) => event.data)).toContainEqual({ kid });
    });
  });
});
