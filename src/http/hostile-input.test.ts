import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, signedInAdmin, signedInUser, startTestApp } from '../../test/app.js';

// Property tests: random and hostile bodies, headers, query strings and path parameters,
// thrown at every route the OpenAPI document lists. Whatever arrives, the answer is never a
// 5xx, an error is a problem (or, at the token endpoint, an OAuth error), and nothing that
// matters is written.
const { app, deps } = await startTestApp({ env: { RATE_LIMIT: 'off' } });
const admin = await signedInAdmin(app, deps);
const user = await signedInUser(app);

interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  path: string;
  bodyFields: string[];
}

let operations: Operation[] = [];
beforeAll(async () => {
  const doc = json<{
    paths: Record<
      string,
      Record<
        string,
        { requestBody?: { content: Record<string, { schema?: { properties?: object } }> } }
      >
    >;
  }>(await app.inject({ method: 'GET', url: '/openapi.json' }));
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase() as Operation['method'],
      path,
      bodyFields: Object.keys(
        operation.requestBody?.content['application/json']?.schema?.properties ?? {},
      ),
    })),
  );
  expect(operations.length).toBeGreaterThan(30);
});

/** Tables whose rows a refused request must never add, change or remove. */
const GUARDED_TABLES = [
  'users',
  'credentials',
  'profiles',
  'user_roles',
  'roles',
  'groups',
  'group_roles',
  'group_members',
  'service_accounts',
  'sessions',
  'refresh_tokens',
  'email_tokens',
  'mail_outbox',
  'mfa_totp',
  'mfa_recovery_codes',
  'mfa_challenges',
  'signing_keys',
  // Refusals that are audited (a failed sign-in, a wrong MFA code, a replayed refresh token)
  // need a well-formed request about a real account, session or challenge, which hostile
  // input never is: a malformed or unknown one is refused before anything is recorded.
  'audit_events',
] as const;

async function snapshot(): Promise<string> {
  const counts = await Promise.all(
    GUARDED_TABLES.map(async (table) => {
      const row = await deps.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      return `${table}=${row.n}`;
    }),
  );
  const users = await deps.db
    .selectFrom('users')
    .select(['id', 'name', 'is_active', 'email_verified', 'updated_at'])
    .orderBy('id')
    .execute();
  return `${counts.join(',')}|${JSON.stringify(users)}`;
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '../../../etc/passwd',
    '%00',
    '%',
    "' or 1=1 --",
    '<script>alert(1)</script>',
    '{"$ne":null}',
    '__proto__',
    'a'.repeat(5000),
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
  ),
);

/** A value of the wrong shape for any field a route documents. */
const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  fc.constant('x'.repeat(70_000)),
);

function bodyFor(operation: Operation) {
  const shaped =
    operation.bodyFields.length > 0
      ? fc.record(Object.fromEntries(operation.bodyFields.map((field) => [field, wrongValue])), {
          requiredKeys: [],
        })
      : fc.constant({});
  return fc.oneof(
    shaped.map((value) => ({ payload: JSON.stringify(value), type: 'application/json' })),
    fc.jsonValue({ maxDepth: 3 }).map((value) => ({
      payload: JSON.stringify(value),
      type: 'application/json',
    })),
    fc.record({
      payload: fc.oneof(hostileString, fc.constant('{"a":'), fc.constant('[[[[[[[[[[')),
      type: fc.constantFrom(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
      ),
    }),
  );
}

/** Percent-encodes every byte but the unreserved ones (lone surrogates become U+FFFD). */
function encodeSegment(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

/** Path parameters: any text, encoded, or raw escapes that are themselves broken. */
const pathValue = fc.oneof(
  hostileString.map(encodeSegment),
  fc.constantFrom('%ff%fe', '%', '%zz', '%2e%2e%2f', '..', '%00', 'a'.repeat(300)),
);

function fillPath(path: string, values: string[]): string {
  let index = 0;
  return path.replace(/\{[^}]+\}/g, () => values[index++ % values.length]!);
}

function expectGoodFailure(operation: Operation, response: LightMyRequestResponse) {
  const where = `${operation.method} ${operation.path} → ${response.statusCode} ${response.body.slice(0, 200)}`;
  expect(response.statusCode, where).toBeLessThan(500);
  if (response.statusCode < 400) return;
  if (operation.path === '/api/auth/token' && response.statusCode !== 415) {
    expect(json(response)['error'], where).toEqual(expect.any(String));
    return;
  }
  expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
  expect(json(response)['code'], where).toEqual(expect.any(String));
}

/**
 * With a valid token these act on the caller without any input to get wrong (sign out, start
 * MFA setup, ask for a verification mail): they are meant to write, so they sit out.
 */
const ACTS_WITHOUT_INPUT = new Set([
  'POST /api/auth/signout',
  'POST /api/auth/mfa/totp/setup',
  'POST /api/auth/email/verify/request',
]);

function requestArbitrary(
  authorization: fc.Arbitrary<string | undefined>,
  options: { skipActions?: boolean } = {},
) {
  return fc.integer({ min: 0, max: 1_000 }).chain((pick) => {
    const pool = options.skipActions
      ? operations.filter((op) => !ACTS_WITHOUT_INPUT.has(`${op.method} ${op.path}`))
      : operations;
    const operation = pool[pick % pool.length]!;
    return fc.record({
      operation: fc.constant(operation),
      body: bodyFor(operation),
      pathValues: fc.array(pathValue, { minLength: 1, maxLength: 2 }),
      query: fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 3 }),
      authorization,
      requestId: fc.option(hostileString, { nil: undefined }),
      cookie: fc.option(hostileString, { nil: undefined }),
    });
  });
}

async function send(input: {
  operation: Operation;
  body: { payload: string; type: string };
  pathValues: string[];
  query: Record<string, string>;
  authorization: string | undefined;
  requestId: string | undefined;
  cookie: string | undefined;
}) {
  const headers: Record<string, string> = {};
  const ascii = (text: string) => text.replace(/[^\x20-\x7e]/g, '?');
  if (input.authorization !== undefined) headers['authorization'] = ascii(input.authorization);
  if (input.requestId !== undefined) headers['x-request-id'] = ascii(input.requestId);
  if (input.cookie !== undefined) headers['cookie'] = ascii(input.cookie);
  const hasBody = input.operation.method !== 'GET' && input.operation.method !== 'DELETE';
  if (hasBody) headers['content-type'] = input.body.type;
  return app.inject({
    method: input.operation.method,
    url: fillPath(input.operation.path, input.pathValues),
    query: input.query,
    headers,
    ...(hasBody ? { payload: input.body.payload } : {}),
  });
}

const garbageAuthorization = fc.option(
  fc.oneof(
    hostileString.map((text) => `Bearer ${text}`),
    hostileString.map((text) => `Basic ${text}`),
    hostileString,
  ),
  { nil: undefined },
);

describe('hostile input at every route', () => {
  it('without valid credentials: never a 5xx, always a problem, nothing written', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(requestArbitrary(garbageAuthorization), async (input) => {
        expectGoodFailure(input.operation, await send(input));
      }),
      { numRuns: 400 },
    );
    expect(await snapshot()).toBe(before);
  });

  it("with a signed-in user's or an admin's token and wrong-shaped input: the same", async () => {
    const before = await snapshot();
    const tokens = fc.constantFrom(admin.auth.authorization, user.auth.authorization);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(tokens, { skipActions: true }), async (input) => {
        expectGoodFailure(input.operation, await send(input));
      }),
      { numRuns: 400 },
    );
    expect(await snapshot()).toBe(before);
  });
});
