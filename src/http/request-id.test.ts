import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, startTestApp, uniqueEmail } from '../../test/app.js';

// Every answer carries an X-Request-Id that joins it to its log lines; a client's id is kept
// only when it cannot corrupt a log or a header (so traces across services still join up).
const { app, logs } = await startTestApp({ captureLogs: true });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function requestIdOf(response: LightMyRequestResponse): string {
  const id = response.headers['x-request-id'];
  expect(typeof id).toBe('string');
  return id as string;
}

/** The log lines written for one request. */
const linesFor = (id: string) => logs.filter((line) => line['request_id'] === id);

describe('X-Request-Id on every response', () => {
  it.each([
    ['a success', 'GET', '/health', undefined, 200],
    [
      'a creation',
      'POST',
      '/api/auth/signup',
      { email: uniqueEmail(), password: GOOD_PASSWORD },
      201,
    ],
    ['the OpenAPI document', 'GET', '/openapi.json', undefined, 200],
    ['an unknown route', 'GET', '/no/such/route', undefined, 404],
    ['a validation failure', 'POST', '/api/auth/signup', { email: 'x' }, 400],
    ['a missing token', 'GET', '/api/auth/me', undefined, 401],
    ['an undecodable URL', 'GET', '/api/%zz', undefined, 400],
  ] as const)('is generated (a UUID) for %s', async (_label, method, url, payload, status) => {
    const response = await app.inject({ method, url, ...(payload ? { payload } : {}) });
    expect(response.statusCode).toBe(status);
    expect(requestIdOf(response)).toMatch(UUID);
  });

  it('differs between requests', async () => {
    const ids = await Promise.all(
      Array.from({ length: 5 }, () => app.inject({ method: 'GET', url: '/health' })),
    );
    expect(new Set(ids.map(requestIdOf)).size).toBe(5);
  });
});

describe('a client-sent X-Request-Id', () => {
  it.each(['abc-123', 'trace.span:42_x', 'A'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e'])(
    'is echoed when sane (%s), on success and error, and every log line carries it',
    async (sent) => {
      const ok = await app.inject({
        method: 'GET',
        url: '/health',
        headers: { 'x-request-id': sent },
      });
      expect(requestIdOf(ok)).toBe(sent);
      const failed = await app.inject({
        method: 'GET',
        url: '/missing',
        headers: { 'x-request-id': sent },
      });
      expect(requestIdOf(failed)).toBe(sent);
      expect(failed.json()).toMatchObject({ request_id: sent });
      // At least "incoming request" and "request completed" for each of the two requests.
      const lines = linesFor(sent);
      expect(lines.length).toBeGreaterThanOrEqual(4);
      expect(lines.map((line) => line['msg'])).toContain('request completed');
    },
  );

  it.each([
    ['200 characters long', 'x'.repeat(200)],
    ['with spaces', 'abc 123'],
    ['with an injected log line', 'abc\n{"level":60,"msg":"forged"}'],
    ['with an injected header', 'abc\r\nSet-Cookie: session=evil'],
    ['non-ASCII', 'réquête-ü-123'],
    ['with markup', '<script>alert(1)</script>'],
    ['empty', ''],
    ['sent twice', ['abc-1', 'abc-2']],
  ])('is replaced by a generated UUID when %s', async (_label, sent) => {
    const response = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': sent },
    });
    const id = requestIdOf(response);
    expect(id).toMatch(UUID);
    expect(response.headers['set-cookie']).toBeUndefined();
    // The request's log lines carry the generated id, and the hostile value appears nowhere.
    expect(linesFor(id).length).toBeGreaterThanOrEqual(2);
    const hostile = Array.isArray(sent) ? sent.join(', ') : sent;
    if (hostile) expect(JSON.stringify(logs)).not.toContain(JSON.stringify(hostile).slice(1, -1));
  });
});

describe('log lines of a request', () => {
  it('all carry the request id, including the ones an error handler writes', async () => {
    const sent = 'req-log-check-1';
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { 'x-request-id': sent, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(response.statusCode).toBe(415);
    const lines = linesFor(sent);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    // Any line about a request (it has req or res) must say which request.
    const requestLines = logs.filter((line) => 'req' in line || 'res' in line);
    expect(requestLines.length).toBeGreaterThan(0);
    for (const line of requestLines) expect(line['request_id']).toEqual(expect.any(String));
  });
});
