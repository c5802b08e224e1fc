import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json, startTestApp, uniqueEmail } from '../../test/app.js';
import type { ProblemBody as Problem } from './problem.js';

// Hostile or broken bodies must end as a 4xx problem before any work is done: never a 5xx,
// never a row. Every test here sends a request that must not create a user, and the afterEach
// hook fails the test if one was created anyway.
const { app, deps } = await startTestApp();

/** The RFC 9457 shape every error answer has, with the given status and code. */
function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json<Problem>(response);
  expect(body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
  expect(typeof body.detail).toBe('string');
  expect(body.request_id).toBe(response.headers['x-request-id']);
  expect(body.request_id).toBeTruthy();
  return body;
}

async function countUsers(): Promise<number> {
  const row = await deps.db
    .selectFrom('users')
    .select(deps.db.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

let usersBefore = 0;
beforeEach(async () => {
  usersBefore = await countUsers();
});
afterEach(async () => {
  expect(await countUsers()).toBe(usersBefore);
});

/** A body that would create a user if the request got through. */
const validBody = () => ({ email: uniqueEmail('bad-input'), password: GOOD_PASSWORD });

const post = (
  payload: string | Buffer | Readable | undefined,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  url = '/api/auth/signup',
) => app.inject({ method: 'POST', url, payload, headers });

describe('malformed and mistyped JSON', () => {
  it('answers 400 validation_failed for malformed JSON', async () => {
    const response = await post('{"email": "a@example.com", "password":');
    expectProblem(response, 400, 'validation_failed');
  });

  it.each([
    ['a number as password', { email: 'a@example.com', password: 123 }, 'password'],
    ['an array as e-mail', { email: [], password: GOOD_PASSWORD }, 'email'],
    ['an object as e-mail', { email: {}, password: GOOD_PASSWORD }, 'email'],
    ['a boolean as name', { email: 'a@example.com', password: GOOD_PASSWORD, name: true }, 'name'],
    ['an array body', [{ email: 'a@example.com', password: GOOD_PASSWORD }], 'body'],
    ['a string body', 'a@example.com', 'body'],
    ['a number body', 42, 'body'],
    ['a null body', null, 'body'],
  ])('answers 400 with field errors for %s', async (_label, payload, field) => {
    const body = expectProblem(await post(JSON.stringify(payload)), 400, 'validation_failed');
    expect(body.errors).toBeInstanceOf(Array);
    for (const error of body.errors ?? []) {
      expect(Object.keys(error).sort()).toEqual(['field', 'message']);
      expect(error.message).toEqual(expect.any(String));
    }
    expect(body.errors?.map((e) => e.field)).toContain(field);
  });

  it('lists every wrong field at once, not only the first', async () => {
    const response = await post(JSON.stringify({ email: 1, password: 2, name: 3 }));
    const fields = expectProblem(response, 400, 'validation_failed').errors?.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['email', 'password', 'name']));
  });

  it.each([
    ['with a JSON content type', { 'content-type': 'application/json' }],
    ['without a content type', {} as Record<string, string>],
  ])('answers 400 for an empty body %s', async (_label, headers) => {
    expectProblem(await post(undefined, headers), 400, 'validation_failed');
    expectProblem(await post('', headers), 400, 'validation_failed');
  });

  it('does not crash on deeply nested JSON', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const response = await post(`{"email":"a@example.com","password":"x","name":${deep}}`);
    expectProblem(response, 400, 'validation_failed');
  });
});

describe('prototype pollution', () => {
  // Written as text: a `__proto__` key in an object literal would set a prototype, not a key.
  const withExtra = (extra: string) => `${JSON.stringify(validBody()).slice(0, -1)},${extra}}`;

  it.each([
    ['__proto__ at the top', '"__proto__":{"roles":["admin"],"polluted":true}'],
    ['constructor.prototype', '"constructor":{"prototype":{"polluted":true}}'],
    ['__proto__ nested in a field', '"name":{"__proto__":{"polluted":true}}'],
  ])('refuses %s with 400 and leaves Object.prototype alone', async (_label, extra) => {
    expectProblem(await post(withExtra(extra)), 400, 'validation_failed');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['roles']).toBeUndefined();
  });
});

describe('unsupported content types', () => {
  it.each([
    ['text/plain', 'text/plain'],
    ['application/xml', 'application/xml'],
    ['multipart/form-data', 'multipart/form-data; boundary=----x'],
    ['form encoding', 'application/x-www-form-urlencoded'],
    ['a JSON look-alike', 'application/jsonp'],
  ])('answers 415 unsupported_media_type for %s', async (_label, contentType) => {
    const response = await post(JSON.stringify(validBody()), { 'content-type': contentType });
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('answers 415 for a body sent without any content type', async () => {
    const response = await post(JSON.stringify(validBody()), {});
    expectProblem(response, 415, 'unsupported_media_type');
  });
});

describe('body size (default limit 64 KiB)', () => {
  /** A sign-up body of exactly `size` bytes (its name, padded, is over its maxLength). */
  function bodyOfSize(size: number): string {
    const skeleton = JSON.stringify({ ...validBody(), name: '' });
    return skeleton.replace('"name":""', `"name":"${'n'.repeat(size - skeleton.length)}"`);
  }

  it('takes a body of exactly the limit and refuses one byte more with 413', async () => {
    expect(deps.config.bodyLimit).toBe(65_536);
    const atLimit = bodyOfSize(65_536);
    expect(Buffer.byteLength(atLimit)).toBe(65_536);
    // Parsed and validated (the name is too long), so the size itself was accepted.
    expectProblem(await post(atLimit), 400, 'validation_failed');
    const response = await post(bodyOfSize(65_537));
    expectProblem(response, 413, 'payload_too_large');
  });

  it('refuses an oversized body sent chunked, with no Content-Length to trust', async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(8_192, 'a'));
    const response = await post(Readable.from(chunks));
    expectProblem(response, 413, 'payload_too_large');
  });
});

describe('text that is not valid Unicode or cannot be stored', () => {
  const withBytes = (bytes: number[]) =>
    Buffer.concat([
      Buffer.from('{"email":"a@example.com","password":"violet-Harbor-917-quiet","name":"'),
      Buffer.from(bytes),
      Buffer.from('"}'),
    ]);

  it.each([
    ['a stray continuation byte', [0x80]],
    ['an invalid lead byte', [0xff, 0xfe]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
  ])('answers 400 for %s inside a JSON string', async (_label, bytes) => {
    expectProblem(await post(withBytes(bytes)), 400, 'validation_failed');
  });

  it('answers 400 for an escaped lone surrogate, which would be stored as U+FFFD', async () => {
    const text = JSON.stringify({ ...validBody(), name: 'x' }).replace('"x"', '"ab\\ud800cd"');
    expectProblem(await post(text), 400, 'validation_failed');
  });

  it.each(['name', 'email', 'password'])(
    'answers 400 for an escaped NUL in the %s, which PostgreSQL cannot store (was a 500)',
    async (field) => {
      const body: Record<string, string> = { ...validBody(), name: 'Ada' };
      body[field] = `${body[field]}\u0000`;
      expectProblem(await post(JSON.stringify(body)), 400, 'validation_failed');
      const signin = JSON.stringify({ email: body['email'], password: body['password'] });
      const response = await post(signin, undefined, '/api/auth/signin');
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
    },
  );

  it('answers 400 for a NUL in the URL, before it reaches a query', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/auth/me?x=a%00b' });
    expectProblem(response, 400, 'validation_failed');
  });

  it('answers 400 for a NUL in a path parameter', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/admin/users/a%00b' });
    expectProblem(response, 400, 'validation_failed');
  });

  const postTokenForm = (form: string | Buffer) =>
    post(form, { 'content-type': 'application/x-www-form-urlencoded' }, '/api/auth/token');

  // The token endpoint's form parser hands its handler the raw text, so a %00 only became a
  // NUL after the JSON parser's check, and reached the database: a 500 server_error.
  it.each([
    ['username', 'grant_type=password&username=a%00b&password=x'],
    ['password', 'grant_type=password&username=a%40example.com&password=x%00'],
    ['refresh_token', 'grant_type=refresh_token&refresh_token=a%00b'],
    ['client_id', 'grant_type=client_credentials&client_id=a%00b&client_secret=x'],
    ['parameter name', 'grant_type=password&username=a&password=x&a%00=1'],
  ])('answers 400 invalid_request for a NUL in a form-encoded %s (was a 500)', async (_f, form) => {
    const response = await postTokenForm(form);
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(/NUL/),
    });
  });

  it('answers 400 invalid_request for a JSON string the token endpoint reads as a form', async () => {
    const form = JSON.stringify('grant_type=password&username=a%00b&password=x');
    const response = await post(form, undefined, '/api/auth/token');
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toBe('invalid_request');
  });

  // A form decodes invalid UTF-8 to U+FFFD silently; JSON bodies already refused it.
  it.each([
    [
      'raw bytes that are not UTF-8',
      Buffer.from([
        ...Buffer.from('grant_type=password&username=a'),
        0xff,
        ...Buffer.from('&password=x'),
      ]),
    ],
    ['an escape of a byte that is not UTF-8', 'grant_type=password&username=a%FFb&password=x'],
    ['an escaped lone surrogate', 'grant_type=password&username=a&password=x%ED%A0%80'],
    ['a truncated escaped sequence', 'grant_type=refresh_token&refresh_token=a%E2%82'],
  ])('answers 400 invalid_request for %s in a form', async (_label, form) => {
    const response = await postTokenForm(form);
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      error: 'invalid_request',
      error_description: 'The body is not valid UTF-8',
    });
  });

  it('answers 400 invalid_request for an invalid escape in a JSON string read as a form', async () => {
    const form = JSON.stringify('grant_type=password&username=a%FFb&password=x');
    const response = await post(form, undefined, '/api/auth/token');
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      error: 'invalid_request',
      error_description: 'The body is not valid UTF-8',
    });
  });

  it('reads a form with escaped UTF-8 and a bare % as before: the grant, not the encoding, refuses', async () => {
    const response = await postTokenForm(
      'grant_type=password&username=%E2%82%ACuro%40example.com&password=100%',
    );
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toBe('invalid_grant');
  });

  it('still accepts an escaped surrogate pair (a real emoji)', async () => {
    const body = validBody();
    const text = JSON.stringify({ ...body, name: 'x' }).replace('"x"', '"Ada \\ud83d\\ude00"');
    const response = await post(text);
    expect(response.statusCode).toBe(201);
    expect(json(response)['name']).toBe('Ada 😀');
    usersBefore += 1; // the one user this file means to create
  });
});

describe('absurd lengths', () => {
  it.each([
    ['email', (s: string) => ({ email: `${s}@example.com`, password: GOOD_PASSWORD })],
    ['password', (s: string) => ({ email: uniqueEmail(), password: s })],
    ['name', (s: string) => ({ ...validBody(), name: s })],
  ])('answers 400 for a 10,000-character %s field', async (field, build) => {
    const body = expectProblem(
      await post(JSON.stringify(build('x'.repeat(10_000)))),
      400,
      'validation_failed',
    );
    expect(body.errors?.map((e) => e.field)).toContain(field);
  });

  it('checks an e-mail address in linear time (no regex backtracking blow-up)', async () => {
    // Shaped to make a naive `[^@]+\.[^@]+` pattern backtrack quadratically: ~9 s before the fix.
    const email = `a@${'b.'.repeat(30_000)} x`;
    const started = performance.now();
    const response = await post(JSON.stringify({ email, password: GOOD_PASSWORD }));
    expect(performance.now() - started).toBeLessThan(1_500);
    expectProblem(response, 400, 'validation_failed');
  });

  it('refuses a 1 MB e-mail address when BODY_LIMIT is raised to let it in', async () => {
    const big = await startTestApp({ env: { BODY_LIMIT: '2097152' } });
    const email = `${'a'.repeat(1_000_000)}@example.com`;
    const response = await big.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email, password: GOOD_PASSWORD },
    });
    const body = expectProblem(response, 400, 'validation_failed');
    expect(body.errors?.map((e) => e.field)).toContain('email');
    // The raised limit is a limit too.
    const tooBig = await big.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: { email: `${'a'.repeat(2_200_000)}@example.com`, password: GOOD_PASSWORD },
    });
    expectProblem(tooBig, 413, 'payload_too_large');
    await big.close();
  });
});
