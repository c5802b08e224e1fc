import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json, signedInAdmin, signedInUser, startTestApp } from '../../test/app.js';

// Property tests: random and hostile bodies, headers, query strings and path parameters,
// thrown at every route the router serves. Whatever arrives, the answer is never a
// 5xx, an error is a problem (or, at the token endpoint, an OAuth error), and nothing that
// matters is written.
const { app, deps } = await startTestApp({ env: { RATE_LIMIT: 'off' } });
const admin = await signedInAdmin(app, deps);
const user = await signedInUser(app);

const METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** The parts of a JSON Schema the generators read to make a value a field could accept. */
interface FieldSchema {
  type?: string;
  format?: string;
  enum?: string[];
  anyOf?: FieldSchema[];
  items?: FieldSchema;
}

interface DocOperation {
  parameters?: { in: string; name: string; schema?: FieldSchema }[];
  requestBody?: {
    content: Record<string, { schema?: { properties?: Record<string, FieldSchema> } }>;
  };
}

interface Operation {
  method: Method;
  /** With `{name}` placeholders, as OpenAPI writes them. */
  path: string;
  /** Every documented body field (of any media type) and its schema. */
  bodySchemas: Record<string, FieldSchema>;
  queryFields: Record<string, FieldSchema>;
  /** The route takes a body: documented, or its method has one. */
  hasBody: boolean;
}

/**
 * Every route the router serves, read from app.printRoutes(): the OpenAPI document leaves
 * hidden routes out, and a route added later must be covered without editing this file. Each
 * line of the tree is its parent's path plus a segment; `:id` becomes `{id}` and a wildcard
 * `{*}`. HEAD is GET without a body and OPTIONS belongs to the CORS plugin, so both sit out.
 */
function listRoutes(): { method: Method; path: string }[] {
  const routes: { method: Method; path: string }[] = [];
  const pathAtDepth: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const parent = pathAtDepth[depth - 1] ?? '';
    const segment = match[2]!.split('|')[0]!.replace(/:([\w-]+)(?:\([^)]*\))?/g, '{$1}');
    // The printer drops the slash before a wildcard (it restarts the prefix at `*`).
    const path =
      segment === '*' ? `${parent.endsWith('/') ? parent : `${parent}/`}{*}` : parent + segment;
    pathAtDepth.length = depth;
    pathAtDepth.push(path);
    for (const method of (match[3] ?? '').split(', '))
      if ((METHODS as readonly string[]).includes(method))
        routes.push({ method: method as Method, path });
  }
  return routes;
}

let operations: Operation[] = [];
beforeAll(async () => {
  const doc = json<{ paths: Record<string, Record<string, DocOperation>> }>(
    await app.inject({ method: 'GET', url: '/openapi.json' }),
  );
  const routes = listRoutes();
  // The route list is parsed from a printout: every documented operation must be in it, or
  // the parsing broke and routes would silently go untested.
  for (const [path, methods] of Object.entries(doc.paths))
    for (const method of Object.keys(methods))
      expect(routes, `${method} ${path}`).toContainEqual({ method: method.toUpperCase(), path });
  operations = routes.map(({ method, path }) => {
    const documented = doc.paths[path]?.[method.toLowerCase()];
    const bodySchemas = Object.assign(
      {},
      ...Object.values(documented?.requestBody?.content ?? {}).map(
        (media) => media.schema?.properties ?? {},
      ),
    ) as Record<string, FieldSchema>;
    const queryFields = Object.fromEntries(
      (documented?.parameters ?? [])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => [parameter.name, parameter.schema ?? {}]),
    );
    return {
      method,
      path,
      bodySchemas,
      queryFields,
      hasBody: documented?.requestBody !== undefined || !['GET', 'DELETE'].includes(method),
    };
  });
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

/**
 * Percent-encodes every byte but the unreserved ones. A lone surrogate, which UTF-8 cannot
 * encode, goes out as the three bytes a sloppy encoder (WTF-8) would send, not as U+FFFD.
 */
function encodeSegment(text: string): string {
  let encoded = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const bytes =
      code >= 0xd800 && code <= 0xdfff
        ? [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        : [...Buffer.from(char, 'utf8')];
    for (const byte of bytes)
      encoded += /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded;
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

// Odd text in every string field of every route, as JSON and as a form: body fields and query
// parameters by their documented names, and path parameters. Values start from something a
// schema would take (a real account's e-mail, a strong password, a real id) so the odd text
// gets past validation and reaches the services and the database, where it once made 500s.

/** Unstorable in PostgreSQL text (see unstorable-text.ts): a request holding one is refused. */
const unstorable = fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff');

/**
 * Legal but odd text: bidi overrides and isolates, zero-width characters and a BOM,
 * noncharacters, the replacement character, line separators, a combining mark, case-mapping
 * traps, astral characters and a ZWJ sequence, a terminal escape, and overlong multi-byte runs.
 */
const oddity = fc.constantFrom(
  '\u202e',
  '\u202d',
  '\u2066',
  '\u2069',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\uffff',
  '\ufffe',
  '\ufffd',
  '\u0085',
  '\u2028',
  'e\u0301',
  '\u0130',
  'ß',
  '\u01c5',
  '😀',
  '\ud83d\udc69\u200d\ud83d\udcbb',
  '\r\n',
  '\u001b[31m',
  'é'.repeat(3_000),
  '😀'.repeat(1_000),
);

/** Inserts `extra` at a character boundary: splitting a surrogate pair would add oddities. */
function insertAt(base: string, extra: string, position: number): string {
  let at = position % (base.length + 1);
  if (/[\ud800-\udbff]/.test(base.charAt(at - 1)) && /[\udc00-\udfff]/.test(base.charAt(at)))
    at += 1;
  return base.slice(0, at) + extra + base.slice(at);
}

/** Values the field's schema (or, failing that, its name) suggests it would accept. */
function plausibleValues(name: string, schema: FieldSchema): string[] {
  const text = schema.anyOf?.find((option) => option.type === 'string') ?? schema;
  if (text.enum && text.enum.length > 0) return text.enum;
  if (text.format === 'uuid') return [admin.user.id, user.user.id];
  if (text.format === 'date-time') return ['2026-01-01T00:00:00Z'];
  if (/email|username/.test(name)) return [admin.email, user.email];
  if (/password|secret/.test(name)) return [GOOD_PASSWORD];
  if (/code/.test(name)) return ['123456'];
  if (/url/.test(name)) return ['https://example.com/avatar.png'];
  if (/phone/.test(name)) return ['+14155550123'];
  if (/role|permission|scope/.test(name)) return ['reports:read'];
  return ['Ada'];
}

/** A path parameter a route could find: a real user's id, or a real role's name. */
function plausiblePathValues(placeholder: string): string[] {
  return placeholder === '{name}' ? ['user', 'reports'] : [admin.user.id, user.user.id];
}

const placeholdersOf = (operation: Operation) => operation.path.match(/\{[^}]+\}/g) ?? [];

/** A plausible value with odd text inserted somewhere, the plausible value, or hostile text. */
function oddText(values: string[]): fc.Arbitrary<string> {
  const base = fc.constantFrom(...values);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(base, oddity, fc.nat()).map(([b, x, at]) => insertAt(b, x, at)),
    },
    { weight: 1, arbitrary: base },
    { weight: 1, arbitrary: hostileString },
  );
}

function arrayOption(schema: FieldSchema): FieldSchema | undefined {
  return (schema.anyOf ?? [schema]).find((option) => option.type === 'array');
}

function isTypedAs(schema: FieldSchema, ...types: string[]): boolean {
  return (schema.anyOf ?? [schema]).some((option) => types.includes(option.type ?? ''));
}

function oddFieldValue(name: string, schema: FieldSchema): fc.Arbitrary<unknown> {
  const array = arrayOption(schema);
  if (array)
    return fc.array(oddText(plausibleValues(name, array.items ?? {})), {
      minLength: 1,
      maxLength: 2,
    });
  if (isTypedAs(schema, 'boolean')) return fc.boolean();
  if (isTypedAs(schema, 'integer', 'number')) return fc.integer({ min: 1, max: 100 });
  return oddText(plausibleValues(name, schema));
}

/** The plausible values of a field; every one for an enum (each grant_type has its fields). */
function plainFieldValues(name: string, schema: FieldSchema): unknown[] {
  const array = arrayOption(schema);
  if (array) return [plausibleValues(name, array.items ?? {}).slice(0, 1)];
  if (isTypedAs(schema, 'boolean')) return [false];
  if (isTypedAs(schema, 'integer', 'number')) return [1];
  const values = plausibleValues(name, schema);
  return (schema.anyOf?.find((option) => option.type === 'string') ?? schema).enum
    ? values
    : values.slice(0, 1);
}

interface TextRequest {
  operation: Operation;
  encoding: 'json' | 'form';
  body: Record<string, unknown>;
  /** Pairs, not an object: a parameter named `__proto__` is a parameter like any other. */
  query: [string, string][];
  /** One per placeholder of the path, not yet encoded. */
  pathValues: string[];
  authorization: string | undefined;
}

/** Encodings a route can be sent: a body in either, or no body at all. */
const encodingsOf = (operation: Operation) =>
  operation.hasBody ? (['json', 'form'] as const) : (['json'] as const);

/** Requests with a plausible value in every documented field, one per enum value. */
function plausibleRequests(operation: Operation): TextRequest[] {
  let bodies: Record<string, unknown>[] = [{}];
  for (const [name, schema] of Object.entries(operation.bodySchemas)) {
    const values = plainFieldValues(name, schema);
    bodies = bodies.flatMap((body) => values.map((value) => ({ ...body, [name]: value })));
  }
  const query = Object.entries(operation.queryFields).map(([name, schema]): [string, string] => [
    name,
    String(plainFieldValues(name, schema)[0]),
  ]);
  const pathValues = placeholdersOf(operation).map((p) => plausiblePathValues(p)[0]!);
  return encodingsOf(operation).flatMap((encoding) =>
    bodies.map((body) => ({
      operation,
      encoding,
      body,
      // Besides the documented parameters, one the route does not know: it is parsed too.
      query: [...query, ['q', '1'] as [string, string]],
      pathValues,
      authorization: admin.auth.authorization,
    })),
  );
}

/** A request with odd text in every documented field, sent as any caller. */
function oddRequest(operation: Operation): fc.Arbitrary<TextRequest> {
  const bodyFields = Object.entries(operation.bodySchemas).map(([name, schema]) => [
    name,
    oddFieldValue(name, schema),
  ]);
  const queryFields = Object.entries(operation.queryFields).map(([name, schema]) =>
    oddFieldValue(name, schema).map((value): [string, string] => [name, String(value)]),
  );
  return fc.record({
    operation: fc.constant(operation),
    encoding: fc.constantFrom(...encodingsOf(operation)),
    body: fc.oneof(
      fc.record(Object.fromEntries(bodyFields)),
      fc.record(Object.fromEntries(bodyFields), { requiredKeys: [] }),
    ),
    query: fc.tuple(
      ...queryFields,
      fc.tuple(fc.constantFrom('q', 'x', '__proto__'), oddText(['1'])),
    ),
    pathValues: fc.tuple(...placeholdersOf(operation).map((p) => oddText(plausiblePathValues(p)))),
    authorization: fc.constantFrom(undefined, admin.auth.authorization, user.auth.authorization),
  });
}

/**
 * Each way to put text into one of the request's values: a string body field (or an array's
 * first item), a query parameter or a path parameter. A form or a query string carries a lone
 * surrogate only as bytes the server decodes to U+FFFD (storable), so there it becomes a NUL.
 */
function carriers(request: TextRequest): ((bad: string, position: number) => TextRequest)[] {
  const asNul = (bad: string) => (/[\ud800-\udfff]/.test(bad) ? '\u0000' : bad);
  const inBody = (bad: string) => (request.encoding === 'form' ? asNul(bad) : bad);
  const list: ((bad: string, position: number) => TextRequest)[] = [];
  for (const [key, value] of Object.entries(request.body)) {
    if (typeof value === 'string')
      list.push((bad, at) => ({
        ...request,
        body: { ...request.body, [key]: insertAt(value, inBody(bad), at) },
      }));
    else if (Array.isArray(value) && typeof value[0] === 'string')
      list.push((bad, at) => ({
        ...request,
        body: { ...request.body, [key]: [insertAt(value[0], inBody(bad), at), ...value.slice(1)] },
      }));
  }
  request.query.forEach(([key, value], index) =>
    list.push((bad, at) => ({
      ...request,
      // A query value that does not decode (a lone surrogate's bytes) is kept as sent, %00
      // and all, which is storable; so the value is made well formed for its NUL to arrive.
      query: request.query.map((pair, i): [string, string] =>
        i === index ? [key, insertAt(value.replace(/\p{Cs}/gu, '\ufffd'), asNul(bad), at)] : pair,
      ),
    })),
  );
  request.pathValues.forEach((value, index) =>
    list.push((bad, at) => ({
      ...request,
      pathValues: request.pathValues.map((old, i) => (i === index ? insertAt(old, bad, at) : old)),
    })),
  );
  return list;
}

/** JSON escapes a lone surrogate; a form can only carry one as bytes UTF-8 forbids. */
function formEncode(body: Record<string, unknown>): string {
  return Object.entries(body)
    .flatMap(([key, value]) =>
      (Array.isArray(value) ? value : [value]).map(
        (item) => `${encodeSegment(key)}=${encodeSegment(String(item))}`,
      ),
    )
    .join('&');
}

async function sendText(request: TextRequest) {
  const { operation } = request;
  const query = request.query
    .map(([key, value]) => `${encodeSegment(key)}=${encodeSegment(value)}`)
    .join('&');
  const url = `${fillPath(operation.path, request.pathValues.map(encodeSegment))}?${query}`;
  const headers: Record<string, string> = {};
  if (request.authorization !== undefined) headers['authorization'] = request.authorization;
  if (!operation.hasBody) return app.inject({ method: operation.method, url, headers });
  const form = request.encoding === 'form';
  headers['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json';
  const payload = form ? formEncode(request.body) : JSON.stringify(request.body);
  return app.inject({ method: operation.method, url, headers, payload });
}

/** Refused, as a problem or, at the token endpoint, as RFC 6749's invalid_request. */
async function expectRefused(request: TextRequest) {
  const response = await sendText(request);
  const { method, path } = request.operation;
  const where = `${method} ${path} (${request.encoding}) → ${response.statusCode} ${response.body.slice(0, 200)}`;
  expectGoodFailure(request.operation, response);
  expect(response.statusCode, where).toBeGreaterThanOrEqual(400);
  if (path === '/api/auth/token')
    expect(json(response), where).toMatchObject({ error: 'invalid_request' });
}

describe('unstorable and odd text in every field of every route, as JSON and as a form', () => {
  it('a NUL or a lone surrogate in any one field of a plausible request: refused, nothing written', async () => {
    const before = await snapshot();
    let sent = 0;
    for (const operation of operations)
      for (const request of plausibleRequests(operation))
        for (const carry of carriers(request))
          for (const bad of ['\u0000', '\ud800']) {
            await expectRefused(carry(bad, 1));
            sent += 1;
          }
    expect(sent).toBeGreaterThan(operations.length * 2);
    expect(await snapshot()).toBe(before);
  });

  it('and among odd text in every other field: refused, nothing written', async () => {
    const before = await snapshot();
    for (const operation of operations) {
      const requests = fc
        .tuple(oddRequest(operation), fc.nat(), unstorable, fc.nat())
        .map(([request, slot, bad, at]) => {
          const list = carriers(request);
          return list[slot % list.length]!(bad, at);
        });
      await fc.assert(fc.asyncProperty(requests, expectRefused), { numRuns: 6 });
    }
    expect(await snapshot()).toBe(before);
  });

  // Most of this text is legal and may be taken (a name with a bidi override is a name), so
  // rows may be written; what matters is that nothing answers 5xx and every refusal is well
  // formed. Last in the file: a request here may change the signed-in users' passwords, roles
  // or existence.
  it('odd text of any kind in every field: never a 5xx, every refusal well formed', async () => {
    for (const operation of operations)
      await fc.assert(
        fc.asyncProperty(oddRequest(operation), async (request) => {
          expectGoodFailure(request.operation, await sendText(request));
        }),
        { numRuns: 6 },
      );
  });
});
