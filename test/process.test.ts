import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, TEST_ENV, uniqueEmail } from './app.js';
import { createTestDatabase } from './db.js';

// The built service, exactly as `npm start` runs it (`npm test` builds first).
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startService(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, stderr: () => stderr, exited };
}

async function waitForHealth(base: string, started: Started): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`service exited: ${started.stderr()}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('service did not become healthy');
}

describe('the service process', () => {
  it('is built', () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it('stops at start with one line naming a wrong setting, and no stack trace', async () => {
    const started = startService({
      ACCESS_TOKEN_TTL: 'fifteen minutes',
      DATABASE_URL: 'memory://',
    });
    expect(await started.exited).toBe(1);
    const lines = started.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hyperion-auth: ACCESS_TOKEN_TTL: /);
  });

  it('serves sign-up → sign-in → me, bootstraps the admin, and exits cleanly on SIGTERM', async () => {
    const database = await createTestDatabase({ empty: true });
    afterAll(() => database.drop());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const adminEmail = uniqueEmail('root');
    const started = startService({
      ...TEST_ENV,
      MIGRATE_ON_START: 'true',
      DATABASE_URL: database.url ?? 'memory://',
      PORT: String(port),
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD: 'Bootstrap-Admin-2026',
    });
    afterAll(() => started.child.kill('SIGKILL'));
    await waitForHealth(base, started);

    const post = (path: string, body: object) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const email = uniqueEmail('curl');
    expect((await post('/api/auth/signup', { email, password: GOOD_PASSWORD })).status).toBe(201);
    const signin = await post('/api/auth/signin', { email, password: GOOD_PASSWORD });
    expect(signin.status).toBe(200);
    const { access_token } = (await signin.json()) as { access_token: string };
    const me = await fetch(`${base}/api/auth/me`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe(email);

    const admin = await post('/api/auth/signin', {
      email: adminEmail,
      password: 'Bootstrap-Admin-2026',
    });
    expect(((await admin.json()) as { user: { roles: string[] } }).user.roles).toContain('admin');

    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });
});
