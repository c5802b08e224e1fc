import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Operation,
  encodeSegment,
  expectGoodFailure,
  fillPath,
  hostileString,
  startHostileTarget,
  snapshot,
} from '../../test/hostile-routes.js';

// Property tests: random and hostile bodies, headers, query strings and path parameters,
// thrown at every route the router serves. Whatever arrives, the answer is never a
// 5xx, an error is a problem (or, at the token endpoint, an OAuth error), and nothing that
// matters is written. Odd text in each field is hostile-text.test.ts's.
const { app, deps, admin, user, operations } = await startHostileTarget();

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
  const fields = Object.keys(operation.bodySchemas);
  const shaped =
    fields.length > 0
      ? fc.record(Object.fromEntries(fields.map((field) => [field, wrongValue])), {
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

/** Path parameters: any text, encoded, or raw escapes that are themselves broken. */
const pathValue = fc.oneof(
  hostileString.map(encodeSegment),
  fc.constantFrom('%ff%fe', '%', '%zz', '%2e%2e%2f', '..', '%00', 'a'.repeat(300)),
);

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
  const { hasBody } = input.operation;
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
    const before = await snapshot(deps);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(garbageAuthorization), async (input) => {
        expectGoodFailure(input.operation, await send(input));
      }),
      { numRuns: 400 },
    );
    expect(await snapshot(deps)).toBe(before);
  });

  it("with a signed-in user's or an admin's token and wrong-shaped input: the same", async () => {
    const before = await snapshot(deps);
    const tokens = fc.constantFrom(admin.auth.authorization, user.auth.authorization);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(tokens, { skipActions: true }), async (input) => {
        expectGoodFailure(input.operation, await send(input));
      }),
      { numRuns: 400 },
    );
    expect(await snapshot(deps)).toBe(before);
  });
});
