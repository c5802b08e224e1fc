import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Deps } from '../src/deps.js';
import { json, signedInAdmin, signedInUser, startTestApp } from './app.js';
import { servedRoutes } from './served-routes.js';

// Shared by the hostile-input property tests (src/http/hostile-*.test.ts): the routes to throw
// input at, the rows that must not change, and what a good refusal looks like.

const METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** The parts of a JSON Schema the generators read to make a value a field could accept. */
export interface FieldSchema {
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

export interface Operation {
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
 * Every route the router serves. HEAD is GET without a body and OPTIONS belongs to the CORS
 * plugin, so both sit out.
 */
function listRoutes(app: FastifyInstance): { method: Method; path: string }[] {
  return servedRoutes(app).filter((route): route is { method: Method; path: string } =>
    (METHODS as readonly string[]).includes(route.method),
  );
}

/**
 * Every route as an operation, with the body fields and query parameters the OpenAPI
 * document names for it (none for a hidden route).
 */
async function listOperations(app: FastifyInstance): Promise<Operation[]> {
  const doc = json<{ paths: Record<string, Record<string, DocOperation>> }>(
    await app.inject({ method: 'GET', url: '/openapi.json' }),
  );
  const routes = listRoutes(app);
  // The route list is parsed from a printout: every documented operation must be in it, or
  // the parsing broke and routes would silently go untested.
  for (const [path, methods] of Object.entries(doc.paths))
    for (const method of Object.keys(methods))
      expect(routes, `${method} ${path}`).toContainEqual({ method: method.toUpperCase(), path });
  const operations = routes.map(({ method, path }) => {
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
  expect(operations.length).toBeGreaterThan(30);
  return operations;
}

/**
 * The app both hostile-input test files aim at: rate limits off (they send thousands of
 * requests from one address), the routes of features that are off by default on (e-mail
 * links), an admin and a user signed in, and every operation the router serves.
 */
export async function startHostileTarget() {
  const { app, deps } = await startTestApp({
    env: { RATE_LIMIT: 'off', EMAIL_LINK_SIGNIN: 'true' },
  });
  const admin = await signedInAdmin(app, deps);
  const user = await signedInUser(app);
  return { app, deps, admin, user, operations: await listOperations(app) };
}

/** Tables whose rows a refused request must never add, change or remove. */
export const GUARDED_TABLES = [
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
  // Not passkey_challenges: asking for sign-in options with no input (`{}`: usernameless) is
  // meant to write one, as a sign-in attempt, refused or not, may spend one.
  'passkeys',
  'signing_keys',
  // Refusals that are audited (a failed sign-in, a wrong MFA code, a replayed refresh token)
  // need a well-formed request about a real account, session or challenge, which hostile
  // input never is: a malformed or unknown one is refused before anything is recorded.
  'audit_events',
] as const;

export async function snapshot(deps: Deps): Promise<string> {
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

export const hostileString = fc.oneof(
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

/**
 * Percent-encodes every byte but the unreserved ones. A lone surrogate, which UTF-8 cannot
 * encode, goes out as the three bytes a sloppy encoder (WTF-8) would send, not as U+FFFD.
 */
export function encodeSegment(text: string): string {
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

export function fillPath(path: string, values: string[]): string {
  let index = 0;
  return path.replace(/\{[^}]+\}/g, () => values[index++ % values.length]!);
}

/** The hosted sign-in pages: a person reads their refusals, so those are HTML pages. */
const HTML_PAGES = new Set([
  '/oauth/authorize',
  '/oauth/logout',
  '/login',
  '/login/mfa',
  '/login/email-link',
  '/account/email-signin',
  '/login/passkey',
  '/account/passkeys',
  '/account/passkeys/options',
  '/account/passkeys/rename',
  '/account/passkeys/remove',
  '/consent',
  '/logout',
  '/device',
  '/device/confirm',
]);

/** The OAuth endpoints, which answer in RFC 6749's `{error, error_description}`. */
export const OAUTH_FORMAT_PATHS: ReadonlySet<string> = new Set([
  '/api/auth/token',
  '/oauth/revoke',
  '/oauth/introspect',
  '/oauth/device_authorization',
  '/oauth/register',
]);

export function expectGoodFailure(operation: Operation, response: LightMyRequestResponse) {
  const where = `${operation.method} ${operation.path} → ${response.statusCode} ${response.body.slice(0, 200)}`;
  expect(response.statusCode, where).toBeLessThan(500);
  if (response.statusCode < 400) return;
  if (HTML_PAGES.has(operation.path)) {
    expect(response.headers['content-type'], where).toMatch(/^text\/html/);
    expect(response.body, where).toContain('role="alert"');
    return;
  }
  if (OAUTH_FORMAT_PATHS.has(operation.path) && response.statusCode !== 415) {
    expect(json(response)['error'], where).toEqual(expect.any(String));
    return;
  }
  expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
  expect(json(response)['code'], where).toEqual(expect.any(String));
}
