import { type ChildProcess, spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, TEST_ENV, uniqueEmail } from './app.js';
import { createDb } from '../src/db/create-db.js';
import { createTestDatabase } from './db.js';
import { startSmtpSink } from './smtp.js';
import { cleanUpAfter } from './cleanup.js';
import { freePort } from './free-port.js';

// The built service (`npm test` builds first), started exactly as `npm start` and the image
// start it: through the start script and its runtime defaults.
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const START = new URL('../scripts/start.sh', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startService(env: Record<string, string>): Started {
  const child = spawn('sh', [START], {
    // The script runs `node`: the one running these tests.
    env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`, ...env },
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

/** GET over a new connection (no keep-alive pool): 'refused' when nothing listens any more. */
function freshGet(url: string): Promise<number | 'refused'> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNREFUSED' ? resolve('refused') : reject(error),
    );
  });
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

// Each test starts the built service and migrates its database: slow on a loaded machine.
describe('the service process', { timeout: 90_000 }, () => {
  it('is built', () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it("runs with the start script's memory defaults, which the environment may override", async () => {
    const environOf = async (env: Record<string, string>) => {
      const port = await freePort();
      const started = startService({
        ...TEST_ENV,
        ...env,
        MIGRATE_ON_START: 'true',
        DATABASE_URL: 'memory://',
        PORT: String(port),
      });
      cleanUpAfter(() => started.child.kill('SIGKILL'));
      await waitForHealth(`http://127.0.0.1:${port}`, started);
      // `sh` has exec'd node: the child's pid is the service's, its environment the one it runs with.
      const pid = started.child.pid ?? 0;
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      started.child.kill('SIGTERM');
      await started.exited;
      return { environ, cmdline };
    };
    const shipped = await environOf({});
    expect(shipped.environ).toContain('MALLOC_ARENA_MAX=2');
    expect(shipped.environ).toContain('MALLOC_MMAP_THRESHOLD_=33554432');
    expect(shipped.environ).toContain('MALLOC_TRIM_THRESHOLD_=67108864');
    expect(shipped.environ).toContain('NODE_OPTIONS=--max-semi-space-size=8');
    expect(shipped.cmdline).toContain(MAIN.replace('/dist/', '/scripts/../dist/'));
    const overridden = await environOf({
      MALLOC_ARENA_MAX: '4',
      NODE_OPTIONS: '--max-semi-space-size=16',
    });
    expect(overridden.environ).toContain('MALLOC_ARENA_MAX=4');
    // The caller's flag comes last, and V8 takes the last.
    expect(overridden.environ).toContain(
      'NODE_OPTIONS=--max-semi-space-size=8 --max-semi-space-size=16',
    );
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
    cleanUpAfter(() => database.drop());
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
    cleanUpAfter(() => started.child.kill('SIGKILL'));
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

  it('on SIGTERM finishes the request and the mail in flight, refuses new connections, exits 0', async () => {
    // A slow hash (about a second) keeps a sign-up in flight; a slow SMTP server keeps a mail
    // in flight. On PGlite the service keeps its data on disk, so the test reads it after.
    const sink = await startSmtpSink({ replyDelayMs: 1_500 });
    const server = await createTestDatabase({ empty: true });
    cleanUpAfter(() => server.drop());
    const dataDir = mkdtempSync(join(tmpdir(), 'hyperion-shutdown-'));
    cleanUpAfter(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = startService({
      ...TEST_ENV,
      ARGON2_MEMORY_KIB: '19456',
      ARGON2_ITERATIONS: '60',
      MIGRATE_ON_START: 'true',
      EMAIL_VERIFICATION_REQUIRED: 'true',
      SMTP_URL: sink.url,
      PORT: String(port),
      ...(server.url ? { DATABASE_URL: server.url } : { DATA_DIR: dataDir }),
    });
    cleanUpAfter(() => started.child.kill('SIGKILL'));
    await waitForHealth(base, started);
    const signUp = (email: string) =>
      fetch(`${base}/api/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: GOOD_PASSWORD }),
      });

    const first = uniqueEmail('first');
    expect((await signUp(first)).status).toBe(201);
    // The verification mail has reached the server, which holds its reply: a send in flight.
    await sink.waitForMail((mail) => mail.to === first, 10_000);
    const second = uniqueEmail('second');
    const inFlight = signUp(second);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalledAt = Date.now();
    started.child.kill('SIGTERM');

    expect((await inFlight).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await freshGet(`${base}/health`)).toBe('refused');
    expect(await started.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);

    const db = await createDb(
      server.target.kind === 'postgres'
        ? server.target
        : {
            kind: 'embedded',
            dataDir,
          },
    );
    try {
      const users = await db.selectFrom('users').select('email').orderBy('email').execute();
      expect(users.map((user) => user.email).sort()).toEqual([first, second].sort());
      const mails = await db
        .selectFrom('mail_outbox')
        .select(['recipient', 'sent_at', 'failed_at'])
        .execute();
      const byRecipient = new Map(mails.map((mail) => [mail.recipient, mail]));
      // The send in flight finished and was recorded; the later mail waits for the next start.
      expect(byRecipient.get(first)?.sent_at).not.toBeNull();
      expect(byRecipient.get(second)).toMatchObject({ failed_at: null });
      expect(sink.mailTo(first)).toHaveLength(1);
    } finally {
      await db.destroy();
    }
  });
});
