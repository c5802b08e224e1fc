import { beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json } from '../../test/app.js';
import { blankDatabaseEnv, capture } from '../../test/cli.js';
import { openClientGrant } from '../../test/oidc.js';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/config.js';
import { createDeps } from '../deps.js';
import type { OAuthClientView } from '../features/oauth-clients/oauth-clients.schemas.js';
import { runCli } from './cli.js';

const env = await blankDatabaseEnv();

/** The service on the CLI's database, for checking what a command did. */
async function withService<T>(
  work: (service: {
    app: Awaited<ReturnType<typeof buildApp>>;
    deps: Awaited<ReturnType<typeof createDeps>>;
  }) => Promise<T>,
): Promise<T> {
  const deps = await createDeps(loadConfig(env), { startWorkers: false });
  const app = await buildApp(deps, { logger: false });
  try {
    return await work({ app, deps });
  } finally {
    await app.close();
    await deps.close();
  }
}

beforeAll(async () => {
  expect(await runCli(['migrate'], env, capture())).toBe(0);
});

describe('clients create', () => {
  it('registers a confidential client and prints its secret once; only the hash is kept', async () => {
    const io = capture();
    const code = await runCli(
      [
        'clients',
        'create',
        '--name',
        'Chat',
        '--type',
        'confidential',
        '--redirect-uri',
        'https://chat.example/callback',
      ],
      env,
      io,
    );
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    const clientId = /^created confidential client (hc_[0-9a-f]{32}) \(Chat\)$/.exec(
      io.stdout[0] ?? '',
    )?.[1];
    expect(clientId).toBeDefined();
    const secret = /^client_secret: (hcs_[A-Za-z0-9_-]{43})$/.exec(io.stdout[1] ?? '')?.[1];
    expect(secret).toBeDefined();
    expect(io.stdout[2]).toMatch(/shown only now/);

    await withService(async ({ deps }) => {
      const client = await deps.services.oauthClients.authenticateClient({
        clientId: clientId!,
        clientSecret: secret,
      });
      expect(client).toMatchObject({
        name: 'Chat',
        grant_types: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'profile', 'email', 'offline_access'],
      });
      const row = await deps.db
        .selectFrom('oauth_clients')
        .select(['secret_hash', 'created_by'])
        .where('client_id', '=', clientId!)
        .executeTakeFirstOrThrow();
      expect(row.secret_hash).not.toContain(secret!);
      expect(row.created_by).toBeNull();
      const event = await deps.db
        .selectFrom('audit_events')
        .select(['actor_id', 'data'])
        .where('type', '=', 'oauth.client_created')
        .executeTakeFirstOrThrow();
      expect(event.actor_id).toBeNull();
      expect(event.data).toMatchObject({ client_id: clientId });
      expect(JSON.stringify(event.data)).not.toContain(secret!);
    });

    // The secret is never shown again.
    const list = capture();
    expect(await runCli(['clients', 'list', '--json'], env, list)).toBe(0);
    expect(list.stdout.join('\n')).not.toContain(secret!);
  });

  it('registers a public client from repeated and listed options, as JSON', async () => {
    const io = capture();
    const code = await runCli(
      [
        'clients',
        'create',
        '--name',
        'Native app',
        '--type',
        'public',
        '--client-id',
        'native-app',
        '--redirect-uri',
        'com.example.app:/cb',
        '--redirect-uri',
        'http://127.0.0.1:7777/cb',
        '--post-logout-redirect-uri',
        'com.example.app:/bye',
        '--grant-type',
        'authorization_code',
        '--scope',
        'openid email',
        '--scope',
        'phone',
        '--first-party',
        '--json',
      ],
      env,
      io,
    );
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    expect(io.stdout).toHaveLength(1);
    const created = JSON.parse(io.stdout[0]!) as OAuthClientView;
    expect(created).not.toHaveProperty('client_secret');
    expect(created).toMatchObject({
      client_id: 'native-app',
      name: 'Native app',
      type: 'public',
      redirect_uris: ['com.example.app:/cb', 'http://127.0.0.1:7777/cb'],
      post_logout_redirect_uris: ['com.example.app:/bye'],
      grant_types: ['authorization_code'],
      scopes: ['openid', 'email', 'phone'],
      first_party: true,
    });
  });

  it('refuses what the admin API refuses (exit 1, saying why) and bad usage (exit 2)', async () => {
    const base = ['clients', 'create', '--name', 'x', '--type', 'public'];
    for (const [args, reason] of [
      [['--redirect-uri', 'http://app.example/cb'], 'redirect_uris.0 must use https'],
      [
        ['--redirect-uri', 'https://app.example/cb#x'],
        'redirect_uris.0 must not contain a fragment',
      ],
      [['--redirect-uri', 'https://a.example/cb', '--scope', 'openid users:read'], 'scopes.1'],
      [['--redirect-uri', 'https://a.example/cb', '--grant-type', 'password'], 'grant_types.0'],
      [['--redirect-uri', 'https://a.example/cb', '--client-id', 'no'], 'client_id'],
      [['--redirect-uri', 'https://a.example/cb', '--client-id', 'native-app'], 'exists'],
      // Only a device-only client may go without one.
      [[], 'redirect_uris must list at least one URI'],
    ] as const) {
      const io = capture();
      expect(await runCli([...base, ...args], env, io), reason).toBe(1);
      expect(io.stdout).toEqual([]);
      expect(io.stderr).toHaveLength(1);
      expect(io.stderr[0], reason).toContain(reason);
    }
    for (const [args, reason] of [
      [
        ['clients', 'create', '--type', 'public', '--redirect-uri', 'https://a.example/cb'],
        '--name',
      ],
      [['clients', 'create', '--name', 'x', '--redirect-uri', 'https://a.example/cb'], '--type'],
      [['clients', 'create', '--name', 'x', '--type', 'secret'], '--type'],
    ] as const) {
      const io = capture();
      expect(await runCli([...args], env, io), reason).toBe(2);
      expect(io.stderr[0]).toContain(reason);
    }
    await withService(async ({ deps }) => {
      const page = await deps.services.oauthClients.list({ limit: 100 });
      expect(page.items.map((c) => c.name).sort()).toEqual(['Chat', 'Native app']);
    });
  });
});

describe('clients list', () => {
  it('prints a table or JSON lines, newest first, within --limit', async () => {
    const table = capture();
    expect(await runCli(['clients', 'list'], env, table)).toBe(0);
    expect(table.stdout[0]).toBe('client_id\tname\ttype\tfirst_party\tredirect_uris\tcreated');
    expect(table.stdout.slice(1).map((line) => line.split('\t').slice(0, 5))).toEqual([
      ['native-app', 'Native app', 'public', 'yes', 'com.example.app:/cb,http://127.0.0.1:7777/cb'],
      [
        expect.stringMatching(/^hc_/),
        'Chat',
        'confidential',
        'no',
        'https://chat.example/callback',
      ],
    ]);
    const limited = capture();
    expect(await runCli(['clients', 'list', '--limit', '1', '--json'], env, limited)).toBe(0);
    expect(limited.stdout.map((line) => (JSON.parse(line) as OAuthClientView).client_id)).toEqual([
      'native-app',
    ]);
    expect(await runCli(['clients', 'list', '--limit', 'all'], env, capture())).toBe(2);
  });
});

describe('clients delete', () => {
  it('deletes the client and ends its grants at once; an unknown client exits 1', async () => {
    const grant = await withService(async ({ app, deps }) => {
      const user = await deps.services.accounts.createAdmin({
        email: 'grant.holder@example.com',
        password: GOOD_PASSWORD,
      });
      const { auth, session } = await openClientGrant(deps, new Date(), {
        userId: user.id,
        clientId: 'native-app',
      });
      const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: auth });
      expect(me.statusCode).toBe(200);
      return { auth, sessionId: session.id };
    });

    const io = capture();
    expect(await runCli(['clients', 'delete', 'native-app'], env, io)).toBe(0);
    expect(io.stdout).toEqual(['deleted client native-app']);

    await withService(async ({ app, deps }) => {
      const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: grant.auth });
      expect(me.statusCode).toBe(401);
      expect(json(me)['code']).toBe('unauthorized');
      expect(await deps.services.oauthClients.findClient('native-app')).toBeUndefined();
      const event = await deps.db
        .selectFrom('audit_events')
        .select(['actor_id', 'data'])
        .where('type', '=', 'oauth.client_deleted')
        .executeTakeFirstOrThrow();
      expect(event).toMatchObject({ actor_id: null, data: { client_id: 'native-app' } });
    });

    const again = capture();
    expect(await runCli(['clients', 'delete', 'native-app'], env, again)).toBe(1);
    expect(again.stderr[0]).toContain('No such client');
    const none = capture();
    expect(await runCli(['clients', 'delete'], env, none)).toBe(2);
    expect(none.stderr[0]).toContain('give exactly one client id');
  });
});
