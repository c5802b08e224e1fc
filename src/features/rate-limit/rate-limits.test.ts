import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  json,
  signUp,
  signedInUser,
  startTestApp,
  uniqueEmail,
} from '../../../test/app.js';
import { cleanUpAfter } from '../../../test/cleanup.js';
import { startRedisProcess } from '../../../test/redis-process.js';
import { startSmtpSink } from '../../../test/smtp.js';
import { createRedis } from '../../deps.js';
import { AppError } from '../../errors.js';
import type { ProblemBody } from '../../http/problem.js';
import { type LimitName, type LimitSpecs, RateLimits } from './rate-limits.js';

const ON = { RATE_LIMIT: 'on' };

type App = Awaited<ReturnType<typeof startTestApp>>['app'];

const signInFrom = (app: App, ip: string, email: string, password: string) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/signin',
    remoteAddress: ip,
    payload: { email, password },
  });

function expectLimited(response: Awaited<ReturnType<typeof signInFrom>>) {
  expect(response.statusCode, response.body).toBe(429);
  expect(json<ProblemBody>(response).code).toBe('rate_limited');
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  expect(response.headers['ratelimit-limit']).toBeDefined();
  expect(response.headers['ratelimit-remaining']).toBe('0');
}

describe('failed sign-ins per account and source', () => {
  it('the 11th attempt from one source is refused, even with the right password; other sources are not', async () => {
    const { app } = await startTestApp({ env: ON });
    const { email } = await signUp(app);
    for (let i = 0; i < 10; i += 1)
      expect((await signInFrom(app, '10.0.0.1', email, 'wrong-guess-123')).statusCode).toBe(401);
    expectLimited(await signInFrom(app, '10.0.0.1', email, 'wrong-guess-123'));
    expectLimited(await signInFrom(app, '10.0.0.1', email, GOOD_PASSWORD));
    // The owner, elsewhere, is not locked out by the attacker.
    expect((await signInFrom(app, '10.0.0.2', email, GOOD_PASSWORD)).statusCode).toBe(200);
  });

  it('slows down before it blocks: failures after the fifth are answered later each time', async () => {
    const { app } = await startTestApp({ env: ON });
    const { email } = await signUp(app);
    const delays: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const started = performance.now();
      expect((await signInFrom(app, '10.0.0.9', email, 'wrong-guess-123')).statusCode).toBe(401);
      delays.push(performance.now() - started);
    }
    // The sixth waits at least 100 ms, the tenth at least 500 ms (a lower bound: it is a
    // deliberate delay, not a speed).
    expect(delays[5]).toBeGreaterThanOrEqual(95);
    expect(delays[9]).toBeGreaterThanOrEqual(495);
  });

  it('an unknown address is counted exactly like a known one', async () => {
    const { app } = await startTestApp({ env: ON });
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 10; i += 1)
      expect((await signInFrom(app, '10.0.0.3', ghost, 'whatever-123456')).statusCode).toBe(401);
    expectLimited(await signInFrom(app, '10.0.0.3', ghost, 'whatever-123456'));
  });

  it('a success forgives that source its failures', async () => {
    const { app } = await startTestApp({ env: ON });
    const { email } = await signUp(app);
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 9; i += 1) await signInFrom(app, '10.0.0.4', email, 'typo-password-1');
      expect((await signInFrom(app, '10.0.0.4', email, GOOD_PASSWORD)).statusCode).toBe(200);
    }
  });

  it('50 parallel wrong passwords do not get past a limit of 10', async () => {
    const { app } = await startTestApp({ env: ON });
    const { email } = await signUp(app);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => signInFrom(app, '10.0.0.5', email, 'parallel-guess-1')),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40);
  });

  it('the token endpoint answers 429 with Retry-After in its own error format', async () => {
    const { app } = await startTestApp({ env: { ...ON, RATE_LIMIT_SIGNIN_FAILURES: '2' } });
    const { email } = await signUp(app);
    const attempt = () =>
      app.inject({
        method: 'POST',
        url: '/api/auth/token',
        remoteAddress: '10.0.0.6',
        payload: { grant_type: 'password', username: email, password: 'not-it-123456' },
      });
    expect((await attempt()).statusCode).toBe(400);
    expect((await attempt()).statusCode).toBe(400);
    const limited = await attempt();
    expect(limited.statusCode).toBe(429);
    expect(json(limited)['error']).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('failed sign-ins per account from every source', () => {
  it('block the account everywhere only after many, and a password reset lifts it', async () => {
    const sink = await startSmtpSink();
    const { app } = await startTestApp({
      env: { ...ON, RATE_LIMIT_ACCOUNT_FAILURES: '4', SMTP_URL: sink.url },
    });
    const { email } = await signUp(app);
    // An attacker spreads guesses over many addresses.
    for (let i = 0; i < 4; i += 1)
      expect((await signInFrom(app, `10.1.0.${i}`, email, 'spread-guess-123')).statusCode).toBe(
        401,
      );
    expectLimited(await signInFrom(app, '10.2.0.1', email, GOOD_PASSWORD));

    // The owner can always ask for a reset, and the reset lifts the block.
    const forgot = await app.inject({
      method: 'POST',
      url: '/api/auth/password/forgot',
      remoteAddress: '10.2.0.1',
      payload: { email },
    });
    expect(forgot.statusCode).toBe(202);
    const mail = await sink.waitForMail((m) => m.to === email, 10_000);
    const token = /#token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    const newPassword = 'fresh-Start-Passphrase-7';
    const reset = await app.inject({
      method: 'POST',
      url: '/api/auth/password/reset',
      remoteAddress: '10.2.0.1',
      payload: { token, password: newPassword },
    });
    expect(reset.statusCode).toBe(200);
    expect((await signInFrom(app, '10.2.0.1', email, newPassword)).statusCode).toBe(200);
  });
});

describe('auth requests per source address', () => {
  it('POSTs under /api/auth are counted per address; reads are not', async () => {
    const { app } = await startTestApp({ env: { ...ON, RATE_LIMIT_AUTH_PER_MINUTE: '3' } });
    const refresh = (ip: string) =>
      app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: ip,
        payload: { refresh_token: 'nope' },
      });
    for (let i = 0; i < 3; i += 1) expect((await refresh('10.3.0.1')).statusCode).toBe(401);
    expectLimited(await refresh('10.3.0.1'));
    expect((await refresh('10.3.0.2')).statusCode).toBe(401);
    const health = await app.inject({ method: 'GET', url: '/health', remoteAddress: '10.3.0.1' });
    expect(health.statusCode).toBe(200);
  });

  it('so are the other requests that change something: DELETE /me, DELETE /sessions/{id}', async () => {
    const { app } = await startTestApp({ env: { ...ON, RATE_LIMIT_AUTH_PER_MINUTE: '2' } });
    const { auth } = await signedInUser(app);
    const from = '10.3.0.9';
    const deleteSession = () =>
      app.inject({
        method: 'DELETE',
        url: `/api/auth/sessions/${randomUUID()}`,
        headers: auth,
        remoteAddress: from,
      });
    expect((await deleteSession()).statusCode).toBe(404);
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: '/api/auth/me',
          headers: auth,
          remoteAddress: from,
          payload: { password: 'not-my-password' },
        })
      ).statusCode,
    ).toBe(400);
    expectLimited(await deleteSession());
    // Reads stay free: the gateway's forward-auth check comes from one address.
    for (let i = 0; i < 5; i += 1) {
      const verify = await app.inject({
        method: 'GET',
        url: '/api/auth/verify',
        headers: auth,
        remoteAddress: from,
      });
      expect(verify.statusCode).toBe(200);
    }
  });

  it('password-reset requests per account and source are capped, alike for unknown addresses', async () => {
    const { app } = await startTestApp({ env: ON });
    const forgot = (email: string) =>
      app.inject({
        method: 'POST',
        url: '/api/auth/password/forgot',
        remoteAddress: '10.3.0.3',
        payload: { email },
      });
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 5; i += 1) expect((await forgot(ghost)).statusCode).toBe(202);
    expectLimited(await forgot(ghost));
  });
});

describe('RATE_LIMIT=off', () => {
  it('counts nothing', async () => {
    const { app } = await startTestApp({
      env: { RATE_LIMIT: 'off', RATE_LIMIT_SIGNIN_FAILURES: '1' },
    });
    const { email } = await signUp(app);
    for (let i = 0; i < 5; i += 1)
      expect((await signInFrom(app, '10.4.0.1', email, 'wrong-guess-123')).statusCode).toBe(401);
  });
});

describe('two instances', () => {
  const redis = Boolean(process.env['TEST_REDIS_URL']);

  it(
    redis
      ? 'share the counters through Redis: failures on one count on the other'
      : 'without Redis, each counts in its own memory',
    async () => {
      const prefix = `test:${randomUUID()}`;
      const first = await startTestApp({ env: ON, rateLimitPrefix: prefix });
      const second = await startTestApp({
        env: ON,
        rateLimitPrefix: prefix,
        database: first.database,
        clock: first.clock,
      });
      const { email } = await signUp(first.app);
      for (let i = 0; i < 5; i += 1) {
        await signInFrom(first.app, '10.5.0.1', email, 'wrong-guess-123');
        await signInFrom(second.app, '10.5.0.1', email, 'wrong-guess-123');
      }
      const next = await signInFrom(second.app, '10.5.0.1', email, 'wrong-guess-123');
      expect(next.statusCode).toBe(redis ? 429 : 401);
    },
  );
});

describe('when Redis cannot answer', () => {
  it('sign-in is still answered, counted per instance in memory, and /ready says Redis is down', async () => {
    const { app } = await startTestApp({
      env: { ...ON, REDIS_URL: 'redis://127.0.0.1:1' },
      redis: false,
    });
    const email = uniqueEmail('down');
    for (let i = 0; i < 10; i += 1)
      expect((await signInFrom(app, '10.6.0.1', email, 'whatever-123456')).statusCode).toBe(401);
    expectLimited(await signInFrom(app, '10.6.0.1', email, 'whatever-123456'));
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(json<{ checks: { redis: string } }>(ready).checks.redis).toBe('down');
  });
});

describe('mail that requests cause', () => {
  it('reset mail per recipient is capped; the request is still answered 202', async () => {
    const { app, deps } = await startTestApp({ env: ON });
    const { email } = await signUp(app);
    for (let i = 0; i < 12; i += 1) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/password/forgot',
        remoteAddress: `10.7.0.${i}`,
        payload: { email },
      });
      expect(response.statusCode).toBe(202);
    }
    // The mail is written after the answer; give it a moment.
    let queued = 0;
    for (let attempt = 0; attempt < 50 && queued < 10; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const rows = await deps.db
        .selectFrom('mail_outbox')
        .select('id')
        .where('recipient', '=', email)
        .where('template', '=', 'password_reset')
        .execute();
      queued = rows.length;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const rows = await deps.db
      .selectFrom('mail_outbox')
      .select('id')
      .where('recipient', '=', email)
      .where('template', '=', 'password_reset')
      .execute();
    expect(rows).toHaveLength(10);
  });

  it('verification mail on request: 429 over the global cap (RATE_LIMIT_MAIL_PER_HOUR)', async () => {
    const { app } = await startTestApp({ env: { ...ON, RATE_LIMIT_MAIL_PER_HOUR: '2' } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const user = await signedInUser(app);
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/email/verify/request',
        headers: user.auth,
      });
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, 2).every((status) => status < 300)).toBe(true);
    expect(statuses[2]).toBe(429);
  });
});

describe('TRUST_PROXY', () => {
  it('X-Forwarded-For is believed only from the listed proxies, so it cannot dodge a limit', async () => {
    const { app, deps } = await startTestApp({
      env: { ...ON, TRUST_PROXY: '10.8.0.1', RATE_LIMIT_SIGNIN_FAILURES: '2' },
    });
    const ghost = uniqueEmail('proxy');
    const attempt = (remoteAddress: string, forwardedFor: string) =>
      app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        remoteAddress,
        headers: { 'x-forwarded-for': forwardedFor },
        payload: { email: ghost, password: 'wrong-guess-123' },
      });
    // Through the trusted proxy, the client's own address counts (and is what the trail shows).
    expect((await attempt('10.8.0.1', '203.0.113.7')).statusCode).toBe(401);
    const [event] = await deps.db
      .selectFrom('audit_events')
      .select('ip')
      .where('type', '=', 'user.signin_failed')
      .execute();
    expect(event?.ip).toBe('203.0.113.7');

    // From anywhere else the header is ignored: a new forged address each time changes nothing.
    expect((await attempt('10.8.0.2', '198.51.100.1')).statusCode).toBe(401);
    expect((await attempt('10.8.0.2', '198.51.100.2')).statusCode).toBe(401);
    expect((await attempt('10.8.0.2', '198.51.100.3')).statusCode).toBe(429);
  });
});

describe('rate limits while their Redis is away', () => {
  const THREE_A_MINUTE: LimitSpecs = Object.fromEntries(
    (
      [
        'auth_ip',
        'signin_account_ip',
        'signin_account',
        'reset_account_ip',
        'mail_recipient',
        'mail_global',
      ] satisfies LimitName[]
    ).map((name) => [name, { points: 3, duration: 60 }]),
  ) as LimitSpecs;

  /** Limits counted in a Redis of the test's own, which the test can stop. */
  async function limitsOnOwnRedis() {
    const redis = await startRedisProcess();
    const client = createRedis(redis.url);
    client.on('error', () => {});
    cleanUpAfter(() => client.disconnect());
    await new Promise((resolve) => client.once('ready', resolve));
    const limits = new RateLimits({
      enabled: true,
      redis: client,
      limits: THREE_A_MINUTE,
      keyPrefix: `test:${randomUUID()}`,
    });
    const stopRedis = async () => {
      await redis.stop();
      // Bounded: the client notices a killed server at once.
      for (let i = 0; i < 250 && client.status === 'ready'; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(client.status).not.toBe('ready');
    };
    return { limits, client, redis, stopRedis };
  }

  async function refusal(attempt: Promise<unknown>): Promise<AppError> {
    const error = await attempt.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it('counts in memory instead of refusing with 503, and still refuses past the limit with 429', async () => {
    const { limits, stopRedis } = await limitsOnOwnRedis();
    await stopRedis();
    for (let i = 1; i <= 3; i += 1) expect(await limits.consume('auth_ip', '10.1.0.1')).toBe(i);
    const refused = await refusal(limits.consume('auth_ip', '10.1.0.1'));
    expect(refused.code).toBe('rate_limited');
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThan(0);
    // Other keys have budgets of their own.
    expect(await limits.consume('auth_ip', '10.1.0.2')).toBe(1);
  });

  it('refund and clear work on the in-memory counts', async () => {
    const { limits, stopRedis } = await limitsOnOwnRedis();
    await stopRedis();
    for (let i = 0; i < 3; i += 1) await limits.consume('signin_account_ip', 'a|10.1.0.3');
    await limits.refund('signin_account_ip', 'a|10.1.0.3');
    expect(await limits.consume('signin_account_ip', 'a|10.1.0.3')).toBe(3);
    expect((await refusal(limits.consume('signin_account_ip', 'a|10.1.0.3'))).code).toBe(
      'rate_limited',
    );
    await limits.clear('signin_account_ip', 'a|10.1.0.3');
    expect(await limits.consume('signin_account_ip', 'a|10.1.0.3')).toBe(1);
  });

  it('giving back a point Redis counted before it went away grants no extra attempt', async () => {
    const { limits, stopRedis } = await limitsOnOwnRedis();
    expect(await limits.consume('signin_account_ip', 'b|10.1.0.4')).toBe(1);
    await stopRedis();
    await limits.refund('signin_account_ip', 'b|10.1.0.4');
    for (let i = 1; i <= 3; i += 1)
      expect(await limits.consume('signin_account_ip', 'b|10.1.0.4')).toBe(i);
    expect((await refusal(limits.consume('signin_account_ip', 'b|10.1.0.4'))).code).toBe(
      'rate_limited',
    );
  });

  it('requests in flight when Redis dies are answered promptly, none with 503', async () => {
    const { limits, redis } = await limitsOnOwnRedis();
    const started = performance.now();
    const attempts = Array.from({ length: 20 }, (_, i) =>
      limits.consume('auth_ip', `10.2.0.${i}`).then(
        () => 'counted',
        (error: unknown) => (error instanceof AppError ? error.code : 'other'),
      ),
    );
    await redis.stop();
    const outcomes = await Promise.all(attempts);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(outcomes.every((outcome) => outcome === 'counted')).toBe(true);
  });

  it('counts in Redis again once it is back', async () => {
    const { limits, client, redis, stopRedis } = await limitsOnOwnRedis();
    await stopRedis();
    await limits.consume('auth_ip', '10.1.0.5');
    await redis.start();
    for (let i = 0; i < 100 && client.status !== 'ready'; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.status).toBe('ready');
    // The restarted Redis is empty: the count starts over there, not from the memory's 1.
    expect(await limits.consume('auth_ip', '10.1.0.5')).toBe(1);
    expect(await client.keys('test:*')).toHaveLength(1);
  });
});
