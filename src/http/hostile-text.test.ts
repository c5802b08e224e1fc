import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, json } from '../../test/app.js';
import {
  type FieldSchema,
  type Operation,
  encodeSegment,
  expectGoodFailure,
  fillPath,
  hostileString,
  OAUTH_FORMAT_PATHS,
  startHostileTarget,
  snapshot,
} from '../../test/hostile-routes.js';

// Odd text in every string field of every route the router serves, as JSON and as a form:
// body fields and query parameters by their documented names, and path parameters. Values
// start from something a schema would take (a real account's e-mail, a strong password, a real
// id) so the odd text gets past validation and reaches the services and the database, where
// a NUL once made a 500. Random and hostile input of other shapes: hostile-input.test.ts.

const { app, deps, admin, user, operations } = await startHostileTarget();

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
  if (OAUTH_FORMAT_PATHS.has(path))
    expect(json(response)['error'], where).toEqual(expect.any(String));
}

describe('unstorable and odd text in every field of every route, as JSON and as a form', () => {
  it('a NUL or a lone surrogate in any one field of a plausible request: refused, nothing written', async () => {
    const before = await snapshot(deps);
    let sent = 0;
    for (const operation of operations)
      for (const request of plausibleRequests(operation))
        for (const carry of carriers(request))
          for (const bad of ['\u0000', '\ud800']) {
            await expectRefused(carry(bad, 1));
            sent += 1;
          }
    expect(sent).toBeGreaterThan(operations.length * 2);
    expect(await snapshot(deps)).toBe(before);
  });

  it('and among odd text in every other field: refused, nothing written', async () => {
    const before = await snapshot(deps);
    for (const operation of operations) {
      const requests = fc
        .tuple(oddRequest(operation), fc.nat(), unstorable, fc.nat())
        .map(([request, slot, bad, at]) => {
          const list = carriers(request);
          return list[slot % list.length]!(bad, at);
        });
      await fc.assert(fc.asyncProperty(requests, expectRefused), { numRuns: 6 });
    }
    expect(await snapshot(deps)).toBe(before);
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
