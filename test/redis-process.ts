import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis } from '../src/deps.js';
import { cleanUpAfter } from './cleanup.js';
import { freePort } from './free-port.js';

/** A redis-server of the test's own, to stop and start again without touching the shared one. */
export interface RedisProcess {
  url: string;
  port: number;
  readonly running: boolean;
  /** Kills the server (SIGKILL by default: an outage, not a graceful shutdown). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty (no persistence), and waits until it answers. */
  start(): Promise<void>;
  /** A client as the service makes them (createRedis), quiet on errors, closed after the file. */
  client(): Redis;
}

/** The redis-server executable: REDIS_SERVER_BIN, or the first on PATH; undefined if none. */
function findRedisServer(): string | undefined {
  const explicit = process.env['REDIS_SERVER_BIN'];
  const candidates = explicit
    ? [explicit]
    : [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, 'redis-server'));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const REDIS_SERVER = findRedisServer();

/** True once the server answers PING on the port. */
async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString('utf8').startsWith('+PONG')));
  });
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1, without persistence, and stops it after
 * the file's tests (or the test that called this).
 */
export async function startRedisProcess(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const executable = REDIS_SERVER;
  if (executable === undefined)
    throw new Error(
      'redis-server is not installed: `npm test` installs it (scripts/test-tools.sh), or set REDIS_SERVER_BIN',
    );
  const start = async () => {
    if (child) throw new Error('redis-server is already running');
    const started = spawn(
      executable,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    child = started;
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (child !== started) throw new Error(`redis-server on port ${port} exited`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = child;
    if (!running) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    await exited;
  };

  await start();
  cleanUpAfter(() => stop());
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== undefined;
    },
    stop,
    start,
    client() {
      const created = createRedis(`redis://127.0.0.1:${port}`);
      // Outages are what these tests make: the errors they cause are expected.
      created.on('error', () => {});
      cleanUpAfter(() => created.disconnect());
      return created;
    },
  };
}
