import { beforeAll, describe, expect, it } from 'vitest';
import { signIn, signUp, startTestApp } from '../../test/app.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { deferredChildLogger, loggerOptions, redactUrl } from './logging.js';

// Logs end up in ELK where many people can read them: whatever a request carries as a
// credential must never be written, at any level (the app logs at debug here).
const { app, logs } = await startTestApp({ captureLogs: true });

const COOKIE_VALUE = 'cookie-secret-4b2e9d';
const QUERY_SECRET = 'secret-value';
const secrets: string[] = [];
let serialized = '';

beforeAll(async () => {
  const { email, password } = await signUp(app, { name: 'Logged' });
  const tokens = await signIn(app, email, password);
  secrets.push(password, tokens.access_token, tokens.refresh_token);
  const bearer = { authorization: `Bearer ${tokens.access_token}` };
  const requests = [
    app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer }),
    app.inject({ method: 'GET', url: '/health', headers: { cookie: `session=${COOKIE_VALUE}` } }),
    app.inject({ method: 'GET', url: `/health?token=${QUERY_SECRET}&page=2` }),
    app.inject({ method: 'GET', url: `/no/route?refresh_token=${QUERY_SECRET}` }),
    app.inject({
      method: 'GET',
      url: `/ready?Password=${QUERY_SECRET}&client_secret=${QUERY_SECRET}`,
    }),
    // A failed sign-in and a malformed body: error paths log too.
    app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      payload: { email, password: `${password}x` },
    }),
    app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { 'content-type': 'application/json', ...bearer },
      payload: `{"email":"${email}","password":"${password}"`,
    }),
    app.inject({
      method: 'GET',
      url: '/missing',
      headers: { ...bearer, cookie: `a=${COOKIE_VALUE}` },
    }),
  ];
  for (const response of await Promise.all(requests)) expect(response.statusCode).toBeLessThan(500);
  secrets.push(`${password}x`, COOKIE_VALUE, QUERY_SECRET);
  serialized = JSON.stringify(logs);
});

describe('logs', () => {
  it('were written for these requests at all (so the checks below are not vacuous)', () => {
    const urls = logs.map((line) => (line['req'] as { url?: string } | undefined)?.url);
    expect(urls).toContain('/api/auth/signin');
    expect(urls).toContain('/api/auth/me');
    expect(urls.some((url) => url?.startsWith('/health?token='))).toBe(true);
  });

  it('are JSON lines with level, time and msg', () => {
    expect(logs.length).toBeGreaterThan(10);
    for (const line of logs) {
      expect(line['level']).toEqual(expect.any(Number));
      expect(line['time']).toEqual(expect.any(Number));
      expect(line['msg']).toEqual(expect.any(String));
    }
  });

  it('contain no password, token, cookie, query secret or password hash', () => {
    expect(secrets.length).toBe(6);
    for (const secret of secrets) expect(serialized).not.toContain(secret);
    expect(serialized).not.toContain('$argon2');
    // The JWT's parts, in case one is logged split (header.payload is not secret, the signature is).
    const signature = secrets[1]?.split('.')[2];
    expect(signature).toBeTruthy();
    expect(serialized).not.toContain(signature);
  });

  it("carry the request's id on every line written for it", () => {
    const completed = logs.filter((line) => line['msg'] === 'request completed');
    expect(completed.length).toBeGreaterThan(5);
    for (const line of completed) expect(line['request_id']).toEqual(expect.any(String));
    expect(new Set(completed.map((line) => line['request_id'])).size).toBe(completed.length);
  });

  it('keep the non-secret part of a URL so a request can still be followed', () => {
    const urls = logs.map((line) => (line['req'] as { url?: string } | undefined)?.url ?? '');
    expect(urls).toContain('/health?token=%5BREDACTED%5D&page=2');
  });
});

describe('redactUrl', () => {
  it.each([
    ['/health', '/health'],
    ['/api/x?page=2&q=ada', '/api/x?page=2&q=ada'],
    ['/verify?token=abc', '/verify?token=%5BREDACTED%5D'],
    ['/cb?code=abc&state=s', '/cb?code=%5BREDACTED%5D&state=s'],
    ['/x?ACCESS_TOKEN=abc', '/x?ACCESS_TOKEN=%5BREDACTED%5D'],
    ['/x?api_key=abc&client_secret=def', '/x?api_key=%5BREDACTED%5D&client_secret=%5BREDACTED%5D'],
    ['/x?new_password=abc', '/x?new_password=%5BREDACTED%5D'],
    // Percent-encoding the name does not smuggle a secret past the mask.
    ['/x?%74oken=abc', '/x?token=%5BREDACTED%5D'],
    ['/x?token=a&token=b', '/x?token=%5BREDACTED%5D'],
  ])('masks secret query values: %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe("deferredChildLogger (each request's logger)", () => {
  function capture(level: string) {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const parent = pino({ ...loggerOptions('info'), level }, stream);
    return { parent, lines, flushed: () => new Promise((resolve) => setImmediate(resolve)) };
  }

  it('writes enabled lines with its bindings, redacted as the parent redacts', async () => {
    const { parent, lines, flushed } = capture('warn');
    const log = deferredChildLogger(parent, { request_id: 'r-1' }, {});
    log.info('not at warn');
    log.warn({ password: 'hunter2' }, 'written');
    log.child({ step: 'inner' }, {}).error('inner line');
    await flushed();
    expect(lines.map((line) => line['msg'])).toEqual(['written', 'inner line']);
    expect(lines[0]).toMatchObject({ request_id: 'r-1', password: '[REDACTED]' });
    expect(lines[1]).toMatchObject({ request_id: 'r-1', step: 'inner' });
  });

  it("follows a route's own level, and a level set later", async () => {
    const { parent, lines, flushed } = capture('info');
    const log = deferredChildLogger(parent, { request_id: 'r-2' }, { level: 'error' });
    expect(log.level).toBe('error');
    log.warn('below the route level');
    log.level = 'debug';
    log.debug('now enabled');
    await flushed();
    expect(lines.map((line) => line['msg'])).toEqual(['now enabled']);
    expect(lines[0]).toMatchObject({ request_id: 'r-2' });
  });
});
