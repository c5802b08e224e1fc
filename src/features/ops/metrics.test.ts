import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  json,
  signedInAdmin,
  signUp,
  signedInUser,
  startTestApp,
} from '../../../test/app.js';
import type { ProblemBody } from '../../http/problem.js';

// What an operator's Prometheus sees: every series the operations issue names, with labels
// that stay bounded (route templates, never raw URLs) and never a secret.
const main = await startTestApp();
const onServer = process.env['TEST_DATABASE_URL'] !== undefined;

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: '/metrics', headers });
  return { response, text: response.body };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The value of one sample; labels must match exactly and in exposition order. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const series = labels ? `${name}{${labels}}` : name;
  const match = new RegExp(`^${escapeRegExp(series)} (\\S+)$`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe('GET /metrics', () => {
  it('answers Prometheus text with the process metrics, event-loop lag among them', async () => {
    const { response, text } = await scrape(main.app);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^# TYPE hyperion_http_requests_total counter$/m);
    expect(text).toMatch(/^# TYPE hyperion_http_request_duration_seconds histogram$/m);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts and times requests by route template and status, not by raw URL', async () => {
    const id = randomUUID();
    for (let i = 0; i < 3; i++) {
      await main.app.inject({ method: 'GET', url: `/api/admin/users/${id}` });
    }
    await main.app.inject({ method: 'GET', url: `/no/such/${id}` });
    const { text } = await scrape(main.app);
    const labels = 'method="GET",route="/api/admin/users/:id",status="401"';
    expect(sample(text, 'hyperion_http_requests_total', labels)).toBe(3);
    expect(sample(text, 'hyperion_http_request_duration_seconds_count', labels)).toBe(3);
    expect(
      sample(text, 'hyperion_http_request_duration_seconds_bucket', `le="+Inf",${labels}`),
    ).toBe(3);
    expect(
      sample(text, 'hyperion_http_requests_total', 'method="GET",route="unmatched",status="404"'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
  });

  it('counts sign-in outcomes, password hash timings and issued tokens, and names no user', async () => {
    const { app } = await startTestApp();
    const { email } = await signUp(app);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: GOOD_PASSWORD },
    });
    await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: 'not-the-password-at-all' },
    });
    await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { grant_type: 'password', username: email, password: GOOD_PASSWORD },
    });
    const { text } = await scrape(app);
    expect(sample(text, 'hyperion_signin_attempts_total', 'outcome="success"')).toBe(2);
    expect(sample(text, 'hyperion_signin_attempts_total', 'outcome="invalid_credentials"')).toBe(1);
    expect(
      sample(text, 'hyperion_password_hash_duration_seconds_count', 'operation="hash"'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'hyperion_password_hash_duration_seconds_count', 'operation="verify"'),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'hyperion_access_tokens_issued_total', 'kind="user"')).toBe(2);
    expect(text).not.toContain(email);
    expect(text).not.toContain(GOOD_PASSWORD);
  });

  it('counts service-account tokens apart from users’ ones', async () => {
    const { app, deps } = await startTestApp();
    const admin = await signedInAdmin(app, deps);
    const created = await app.inject({
      method: 'POST',
      url: '/api/admin/service-accounts',
      headers: admin.auth,
      payload: { name: 'metrics-agent', scopes: ['users:read'] },
    });
    expect(created.statusCode).toBe(201);
    const { client_id, client_secret } = json<{ client_id: string; client_secret: string }>(
      created,
    );
    const token = await app.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { grant_type: 'client_credentials', client_id, client_secret },
    });
    expect(token.statusCode).toBe(200);
    const { text } = await scrape(app);
    expect(sample(text, 'hyperion_access_tokens_issued_total', 'kind="service"')).toBe(1);
    expect(text).not.toContain(client_secret);
  });

  it('counts rate-limit rejections by the limit that refused', async () => {
    const { app } = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '2' },
    });
    const { email } = await signUp(app);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        payload: { email, password: 'wrong-password-guess' },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([401, 401, 429]);
    const { text } = await scrape(app);
    expect(sample(text, 'hyperion_rate_limit_rejections_total', 'limit="signin_account_ip"')).toBe(
      1,
    );
    expect(sample(text, 'hyperion_signin_attempts_total', 'outcome="rate_limited"')).toBe(1);
  });

  it('reports the outbox depth: mail not yet sent', async () => {
    const before = sample((await scrape(main.app)).text, 'hyperion_mail_outbox_depth') ?? -1;
    expect(before).toBeGreaterThanOrEqual(0);
    // Due in an hour: the worker leaves it waiting.
    const later = new Date(Date.now() + 3_600_000);
    await main.deps.db
      .insertInto('mail_outbox')
      .values({
        recipient: 'waiting@example.com',
        template: 'verify_email',
        subject: 'Verify',
        text_body: 'text',
        html_body: '<p>html</p>',
        created_at: new Date(),
        next_attempt_at: later,
      })
      .execute();
    const { text } = await scrape(main.app);
    expect(sample(text, 'hyperion_mail_outbox_depth')).toBe(before + 1);
    expect(text).not.toContain('waiting@example.com');
  });

  it('reports the PostgreSQL pool’s connections, and none on the embedded database', async () => {
    await signedInUser(main.app);
    const { text } = await scrape(main.app);
    if (!onServer) {
      expect(text).not.toContain('hyperion_db_pool_connections{');
      return;
    }
    const total = sample(text, 'hyperion_db_pool_connections', 'state="total"');
    expect(total).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hyperion_db_pool_connections', 'state="idle"')).toBeLessThanOrEqual(
      total ?? 0,
    );
    expect(sample(text, 'hyperion_db_pool_connections', 'state="waiting"')).toBe(0);
  });
});

describe('GET /metrics passes Prometheus’s own linter', () => {
  // promtool (Debian's `prometheus` package; .ci/run installs it) knows the naming rules a
  // Prometheus server and its users rely on: a missing one fails here, never skips.
  function promtoolCheck(text: string): { status: number | null; output: string } {
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (run.error) {
      throw new Error(
        `promtool is needed to lint /metrics and could not run (${run.error.message}): ` +
          'install it with `apt-get install --no-install-recommends prometheus`, as .ci/run does',
      );
    }
    return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
  }

  it('finds nothing to report in a scrape taken after real traffic', async () => {
    const { app } = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_SIGNIN_FAILURES: '1' },
    });
    const { email } = await signUp(app);
    await app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: GOOD_PASSWORD },
    });
    for (let i = 0; i < 2; i++) {
      await app.inject({
        method: 'POST',
        url: '/api/auth/signin',
        payload: { email, password: 'wrong-password-guess' },
      });
    }
    await app.inject({ method: 'GET', url: `/no/such/${randomUUID()}` });
    const { response, text } = await scrape(app);
    expect(response.statusCode).toBe(200);
    // Every kind of series the service exposes is in the scrape the linter reads.
    for (const name of [
      'hyperion_http_requests_total',
      'hyperion_http_request_duration_seconds_bucket',
      'hyperion_signin_attempts_total',
      'hyperion_access_tokens_issued_total',
      'hyperion_password_hash_duration_seconds_bucket',
      'hyperion_rate_limit_rejections_total',
      'hyperion_mail_outbox_depth',
      'nodejs_eventloop_lag_seconds',
      'nodejs_active_handles',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    }
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  const secret = 'metrics-scrape-token-0123456789';

  it('refuses a scrape without the token, or with another, as a 401 problem', async () => {
    const { app } = await startTestApp({ env: { METRICS_TOKEN: secret } });
    const refused: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: secret },
    ];
    for (const headers of refused) {
      const { response } = await scrape(app, headers);
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(json<ProblemBody>(response).code).toBe('unauthorized');
      expect(response.body).not.toContain('hyperion_http_requests_total');
    }
    const { response, text } = await scrape(app, { authorization: `Bearer ${secret}` });
    expect(response.statusCode).toBe(200);
    expect(text).toContain('hyperion_http_requests_total');
    expect(text).not.toContain(secret);
  });
});
