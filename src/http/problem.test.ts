import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ENV, json } from '../../test/app.js';
import { createTestDatabase } from '../../test/db.js';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/config.js';
import { createDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { loggerOptions } from './logging.js';
import { toAppError } from './problem.js';
import type { ProblemBody as Problem } from './problem.js';

// The app is built by hand (as test/app.ts does) so that test-only routes can throw what real
// handlers might throw before the app is sealed by ready().
const database = await createTestDatabase();
const deps = await createDeps(loadConfig(TEST_ENV), { db: await database.open() });
const logs: Record<string, unknown>[] = [];
const stream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
    done();
  },
});
const app: FastifyInstance = await buildApp(deps, {
  logger: { ...loggerOptions('debug'), stream },
});
const SECRET_CAUSE = 'relation "credentials" leaked detail 7f3a';
const throwables: Record<string, () => unknown> = {
  error: () => new Error(SECRET_CAUSE),
  string: () => SECRET_CAUSE,
  null: () => null,
  status500: () => Object.assign(new Error(SECRET_CAUSE), { statusCode: 500 }),
  status502: () => Object.assign(new Error(SECRET_CAUSE), { statusCode: 502 }),
  type: () => new TypeError(`Cannot read properties of undefined (${SECRET_CAUSE})`),
};
app.get<{ Params: { kind: string } }>('/test/throw/:kind', async (request) => {
  throw throwables[request.params.kind]?.();
});
app.get('/test/db-down', async () => {
  throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
});
app.get('/test/rate-limited', async () => {
  throw new AppError('rate_limited', 'Slow down', undefined, { 'retry-after': '30' });
});
// A request held open while the app shuts down, and a hook to know the shutdown has begun.
let releaseSlow = () => {};
const slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));
let slowEntered = () => {};
const slowStarted = new Promise<void>((resolve) => (slowEntered = resolve));
app.get('/test/slow', async () => {
  slowEntered();
  await slowGate;
  return { done: true };
});
let closeBegun = () => {};
const closeStarted = new Promise<void>((resolve) => (closeBegun = resolve));
app.addHook('preClose', async () => closeBegun());
let closed: Promise<unknown> | undefined;
await app.ready();
afterAll(async () => {
  releaseSlow();
  await (closed ?? app.close());
  await deps.close();
  await database.drop();
});

function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json<Problem>(response);
  expect(Object.keys(body).sort()).toEqual(
    ['code', 'detail', 'request_id', 'status', 'title', 'type'].sort(),
  );
  expect(body).toMatchObject({ status, code, type: `urn:hyperion-auth:problem:${code}` });
  expect(body.title).toEqual(expect.any(String));
  expect(body.detail).toEqual(expect.any(String));
  expect(body.request_id).toBe(response.headers['x-request-id']);
  return body;
}

describe('routing errors', () => {
  it('answers an unknown route with a 404 not_found problem', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/nope' }), 404, 'not_found');
    const post = await app.inject({ method: 'POST', url: '/api/auth/nope', payload: { a: 1 } });
    expectProblem(post, 404, 'not_found');
  });

  it('keeps the query string (which may hold a token) out of the 404 detail', async () => {
    const response = await app.inject({ method: 'GET', url: '/nope?token=secret-value' });
    expect(expectProblem(response, 404, 'not_found').detail).not.toContain('secret-value');
  });

  it.each([
    ['GET', '/api/auth/signup'],
    ['DELETE', '/health'],
    ['POST', '/health'],
    ['PUT', '/api/auth/me'],
    ['PATCH', '/.well-known/jwks.json'],
  ] as const)(
    'answers %s %s (a known path, wrong method) with a 4xx problem',
    async (method, url) => {
      const response = await app.inject({ method, url });
      expect([404, 405]).toContain(response.statusCode);
      expectProblem(
        response,
        response.statusCode,
        response.statusCode === 404 ? 'not_found' : 'method_not_allowed',
      );
    },
  );

  it.each(['/api/auth/%zz', '/health%', '/api/auth/me%E0%A4%A'])(
    'answers the undecodable URL %s with a 400 problem that has a request id',
    async (url) => {
      // Raised by the router before any hook ran: it used to be plain JSON without an id.
      expectProblem(await app.inject({ method: 'GET', url }), 400, 'validation_failed');
    },
  );
});

describe('unexpected errors', () => {
  it.each(Object.keys(throwables))(
    'answers a thrown %s with a generic 500 internal problem, logged with the request id',
    async (kind) => {
      const response = await app.inject({ method: 'GET', url: `/test/throw/${kind}` });
      const body = expectProblem(response, 500, 'internal');
      expect(response.body).not.toContain('7f3a');
      expect(response.body).not.toMatch(/\bat .+:\d+:\d+/); // no stack frames
      expect(body.detail).toBe('An unexpected error occurred');
      const logged = logs.filter((line) => line['request_id'] === body.request_id);
      const errorLine = logged.find((line) => line['level'] === 50);
      expect(errorLine?.['msg']).toBe('unhandled error');
      // The operator, unlike the client, learns the cause.
      if (kind !== 'null') expect(JSON.stringify(errorLine)).toContain('7f3a');
    },
  );

  it('answers an unreachable database with 503 service_unavailable, not 500', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/db-down' });
    const body = expectProblem(response, 503, 'service_unavailable');
    expect(body.detail).not.toContain('5432');
    const warning = logs.find(
      (line) => line['request_id'] === body.request_id && line['level'] === 40,
    );
    expect(warning?.['msg']).toBe('dependency unavailable');
  });

  it('sends the headers an AppError carries (Retry-After on 429)', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/rate-limited' });
    expect(expectProblem(response, 429, 'rate_limited').detail).toBe('Slow down');
    expect(response.headers['retry-after']).toBe('30');
  });

  it('caps the number of field errors a hostile body can make the answer echo', () => {
    const issues = Array.from({ length: 5_000 }, (_, i) => ({
      instancePath: `/roles/${i}`,
      message: 'must be string',
    }));
    const mapped = toAppError(Object.assign(new Error('bad'), { validation: issues }));
    expect(mapped?.code).toBe('validation_failed');
    expect(mapped?.fieldErrors?.length).toBeGreaterThan(0);
    expect(mapped?.fieldErrors?.length).toBeLessThanOrEqual(20);
    expect(mapped?.fieldErrors?.[0]).toEqual({ field: 'roles.0', message: 'must be string' });
  });
});

describe('on a real socket', () => {
  /** Opens a raw connection to the listening app; `answer` is everything received until close. */
  async function rawConnection() {
    if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    const socket = connect(address.port, '127.0.0.1');
    const answer = new Promise<string>((resolve, reject) => {
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    return { socket, answer };
  }
  async function rawExchange(bytes: string): Promise<string> {
    const { socket, answer } = await rawConnection();
    socket.write(bytes);
    return answer;
  }

  it('answers unparseable HTTP with a 400 problem carrying an id, and logs no raw bytes', async () => {
    const answer = await rawExchange(
      'GET /health HTTP/1.1\r\nHost: x\r\nCookie: session=raw-cookie-9c1\r\nBad Header\r\n\r\n',
    );
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    const requestId = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head)?.[1];
    expect(requestId).toBeDefined();
    const problem = JSON.parse(body) as Problem;
    expect(problem).toMatchObject({
      status: 400,
      code: 'validation_failed',
      request_id: requestId,
    });
    expect(logs.some((line) => line['request_id'] === requestId)).toBe(true);
    expect(JSON.stringify(logs)).not.toContain('raw-cookie-9c1');
  });

  // Last: it shuts the app down.
  it('refuses requests arriving during shutdown with a 503 problem, not plain JSON', async () => {
    const { socket, answer } = await rawConnection();
    socket.write('GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await slowStarted;
    closed = app.close();
    await closeStarted;
    // Same kept-alive connection, so it still reaches the app after the listener has closed.
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    setTimeout(releaseSlow, 100);
    const responses = (await answer).split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
    const [head = '', body = ''] = (responses[1] ?? '').split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(head).toMatch(/\r\nconnection: close/i);
    const requestId = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head)?.[1];
    expect(JSON.parse(body)).toMatchObject({
      status: 503,
      code: 'service_unavailable',
      request_id: requestId,
    });
    await closed;
  });
});
