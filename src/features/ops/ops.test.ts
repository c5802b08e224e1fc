import { type Server, type Socket, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { json, startTestApp } from '../../../test/app.js';

// Liveness must touch nothing; readiness must tell a load balancer the truth about the
// database and Redis, and answer within its own timeout even when a dependency hangs.
const main = await startTestApp();

/** A few lines of RESP: enough of a Redis for ioredis to connect, subscribe and (maybe) PING. */
interface FakeRedisOptions {
  /** PING is never answered: a Redis that accepted the connection and then hung. */
  answerPing: boolean;
  /** The handshake (INFO) is held until this settles: a Redis still being connected to. */
  holdHandshake?: Promise<void>;
}

async function startFakeRedis(options: FakeRedisOptions): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', async (chunk) => {
      pending += chunk.toString('utf8');
      // Commands arrive as arrays of bulk strings: *2\r\n$4\r\nPING\r\n...
      const commands = [...pending.matchAll(/\*(\d+)\r\n((?:\$\d+\r\n[^\r]*\r\n)+)/g)];
      pending = '';
      for (const [, , args = ''] of commands) {
        const [name = '', ...rest] = [...args.matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((m) => m[1]);
        const command = name.toLowerCase();
        if (command === 'info') {
          await options.holdHandshake;
          socket.write(bulk('# Server\r\nredis_version:7.2.0\r\nloading:0\r\n'));
        } else if (command === 'ping') {
          if (options.answerPing) socket.write('+PONG\r\n');
        } else if (command === 'subscribe') {
          socket.write(`*3\r\n${bulk('subscribe')}${bulk(rest[0] ?? '')}:1\r\n`);
        } else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `redis://127.0.0.1:${address.port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** GET /ready, timed. */
async function ready(app: typeof main.app) {
  const started = performance.now();
  const response = await app.inject({ method: 'GET', url: '/ready' });
  return { response, elapsed: performance.now() - started, body: json(response) };
}

describe('GET /health', () => {
  it('answers 200 {"status":"ok"}', async () => {
    const response = await main.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(json(response)).toEqual({ status: 'ok' });
  });
});

describe('GET /ready', () => {
  it('answers 200 with the database up and Redis as configured', async () => {
    const { response, body } = await ready(main.app);
    expect(response.statusCode).toBe(200);
    // The test app uses Redis exactly when TEST_REDIS_URL is set.
    const redis = process.env['TEST_REDIS_URL'] ? 'ok' : 'disabled';
    expect(body).toEqual({ status: 'ok', checks: { database: 'ok', redis } });
    // A cached "ready" would hide an outage from the load balancer.
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers 503 with redis "down" at once when REDIS_URL points at a closed port', async () => {
    // An explicit REDIS_URL wins over TEST_REDIS_URL; the database is shared, not dropped.
    const broken = await startTestApp({
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
      redis: false,
      database: main.database,
    });
    try {
      const { response, body, elapsed } = await ready(broken.app);
      expect(response.statusCode).toBe(503);
      expect(body).toEqual({ status: 'unavailable', checks: { database: 'ok', redis: 'down' } });
      // Refused connections are known at once: no need to wait out the probe timeout.
      expect(elapsed).toBeLessThan(1_500);
      // Liveness does not depend on Redis: restarting the process would not fix it.
      expect((await broken.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await broken.close();
    }
  });

  it('answers 503 within its timeout when Redis accepts the connection but never answers', async () => {
    const fake = await startFakeRedis({ answerPing: false });
    const hung = await startTestApp({
      env: { REDIS_URL: fake.url },
      redis: false,
      database: main.database,
    });
    try {
      const { response, body, elapsed } = await ready(hung.app);
      expect(response.statusCode).toBe(503);
      expect(body).toEqual({ status: 'unavailable', checks: { database: 'ok', redis: 'down' } });
      expect(elapsed).toBeLessThan(4_000);
    } finally {
      await hung.close();
      fake.close();
    }
  });

  it('waits for a Redis connection still being set up instead of reporting it down', async () => {
    let release = () => {};
    const holdHandshake = new Promise<void>((resolve) => (release = resolve));
    const fake = await startFakeRedis({ answerPing: true, holdHandshake });
    const starting = await startTestApp({
      env: { REDIS_URL: fake.url },
      redis: false,
      database: main.database,
    });
    try {
      // Asked while the client is still handshaking; the handshake completes shortly after.
      const pending = ready(starting.app);
      setTimeout(release, 200);
      const { response, body } = await pending;
      expect(body).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
      expect(response.statusCode).toBe(200);
    } finally {
      release();
      await starting.close();
      fake.close();
    }
  });

  it('answers 503 with database "down" once the database is gone, within its timeout', async () => {
    // A dedicated app and database: this one is destroyed under the running app.
    const doomed = await startTestApp({ redis: false });
    try {
      await doomed.deps.db.destroy();
      const { response, body, elapsed } = await ready(doomed.app);
      expect(response.statusCode).toBe(503);
      expect(body).toEqual({
        status: 'unavailable',
        checks: { database: 'down', redis: 'disabled' },
      });
      expect(elapsed).toBeLessThan(4_000);
      expect((await doomed.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await doomed.close();
    }
  });
});
