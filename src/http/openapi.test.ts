import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GOOD_PASSWORD,
  json,
  signIn,
  signUp,
  signedInAdmin,
  signedInUser,
  startTestApp,
} from '../../test/app.js';
import { OpenApiConformance } from '../../test/openapi-conformance.js';
import { OAUTH_FORMAT_PATHS } from '../../test/hostile-routes.js';
import type { JsonObject, JsonValue, OpenApiDocument, OperationObject } from './openapi.js';

// The published document must describe what the service sends, so that a generated client
// or a validating proxy accepts real answers. The test app checks every answer of every test
// against /openapi.json (test/app.ts); this file makes sure that every operation is driven
// at least once — its error paths generically, from the document itself, and most success
// paths by hand — and that nothing it saw was undescribed.
const testApp = await startTestApp({ conformance: true });
const { app, deps, openApi } = testApp;
const document = json<OpenApiDocument>(await app.inject({ method: 'GET', url: '/openapi.json' }));
const admin = await signedInAdmin(app, deps);

interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  operation: OperationObject;
}
const operations: Operation[] = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({
    method: method.toUpperCase() as Operation['method'],
    path,
    operation,
  })),
);
const label = ({ method, path }: Pick<Operation, 'method' | 'path'>) => `${method} ${path}`;
// The OAuth endpoints answer in RFC 6749's {error, error_description}, not as problems.
const speaksOAuth = (op: Pick<Operation, 'method' | 'path'>) =>
  op.method === 'POST' && OAUTH_FORMAT_PATHS.has(op.path);

/** A URL for the operation, with a well-formed id that names nothing. */
function urlOf(path: string, value: (name: string) => string = () => randomUUID()): string {
  return path.replace(/\{(\w+)\}/g, (_match, name: string) => value(name));
}

const needsToken = ({ operation }: Operation) =>
  (operation.security ?? []).length > 0 &&
  !(operation.security ?? []).some((entry) => Object.keys(entry).length === 0);
const readsBody = ({ method }: Operation) => method !== 'GET';
/** The hosted pages (/login, /consent, /oauth/authorize…): HTML answers, errors included. */
const isPage = ({ operation }: Pick<Operation, 'operation'>) =>
  Array.isArray(operation['tags']) && operation['tags'].includes('pages');

async function send(options: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject(options);
}

function problemOf(response: LightMyRequestResponse) {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  return json<{ code: string; detail: string; status: number }>(response);
}

describe('the published document', () => {
  it('documents problems as application/problem+json with a schema per status', () => {
    const signup = document.paths['/api/auth/signup']?.['post'];
    expect(Object.keys(signup?.responses['409']?.content ?? {})).toEqual([
      'application/problem+json',
    ]);
    expect(signup?.responses['409']?.content?.['application/problem+json']?.schema).toEqual({
      $ref: '#/components/schemas/Problem409',
    });
    const problem409 = document.components.schemas?.['Problem409'] as JsonObject;
    const properties = problem409['properties'] as Record<string, JsonObject>;
    expect(properties['code']?.['enum']).toEqual(['email_taken', 'conflict']);
    for (const { path, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400 || speaksOAuth({ method: 'POST', path })) continue;
        // The hosted sign-in pages answer a person: their errors are pages too.
        const media = Object.keys(response.content ?? {});
        if (isPage({ operation }) && media.includes('text/html')) continue;
        // Every error a route answers is a problem (the readiness check's JSON 503 besides).
        expect(Object.keys(response.content ?? {}), `${path} ${status}`).toContain(
          'application/problem+json',
        );
      }
    }
  });

  it('documents the errors every route may answer, whatever its own schema says', () => {
    for (const op of operations) {
      const statuses = Object.keys(op.operation.responses);
      expect(statuses, label(op)).toEqual(expect.arrayContaining(['400', '500', '503']));
      if (needsToken(op)) expect(statuses, label(op)).toContain('401');
      // The OAuth endpoints answer an oversized body in their own format, as a 400.
      if (readsBody(op) && !speaksOAuth(op))
        expect(statuses, label(op)).toEqual(expect.arrayContaining(['413', '415']));
    }
    const rotate = document.paths['/api/admin/service-accounts/{id}/rotate']?.['post'];
    expect(Object.keys(rotate?.responses ?? {})).toEqual(
      expect.arrayContaining(['401', '403', '404', '415']),
    );
  });

  it('keeps the token endpoint in its own OAuth error format', () => {
    const token = document.paths['/api/auth/token']?.['post'];
    for (const [status, response] of Object.entries(token?.responses ?? {})) {
      if (Number(status) < 400) continue;
      expect(Object.keys(response.content ?? {}), status).toEqual(['application/json']);
      const schema = response.content?.['application/json']?.schema;
      expect(Object.keys((schema?.['properties'] as JsonObject | undefined) ?? {})).toContain(
        'error',
      );
    }
  });

  it('names the media types of the JWK Set, the metrics and the pages', () => {
    const contentOf = (path: string) =>
      Object.keys(document.paths[path]?.['get']?.responses['200']?.content ?? {});
    expect(contentOf('/.well-known/jwks.json')).toEqual(['application/jwk-set+json']);
    expect(contentOf('/metrics')).toEqual(['text/plain']);
    expect(contentOf('/.well-known/openid-configuration')).toEqual(['application/json']);
    expect(contentOf('/account/verify-email')).toEqual(['text/html']);
  });

  it('does not promise to refuse unknown fields, which are dropped, and says so', () => {
    const closed = (value: JsonValue): boolean =>
      Array.isArray(value)
        ? value.some(closed)
        : typeof value === 'object' && value !== null
          ? value['additionalProperties'] === false || Object.values(value).some(closed)
          : false;
    for (const op of operations) {
      for (const media of Object.values(op.operation.requestBody?.content ?? {}))
        expect(closed(media.schema ?? {}), label(op)).toBe(false);
    }
    expect(document.info.description).toMatch(/unknown fields .* are ignored/i);
    // Rendered again (as YAML for /docs), the document says it once, not twice.
    const yaml = String(app.swagger({ yaml: true }));
    expect(yaml.match(/Unknown fields in a JSON request body/g)).toHaveLength(1);
    // A route that reads no body at all says so too.
    expect(document.paths['/api/auth/signout']?.['post']?.requestBody?.required).toBe(false);
    expect(document.paths['/api/auth/signup']?.['post']?.requestBody?.required).toBe(true);
  });
});

describe('the checker', () => {
  const checker = new OpenApiConformance(document);
  const answer = (status: number, contentType: string | undefined, body: string) =>
    checker.check({ method: 'GET', url: '/api/admin/users/x', status, contentType, body });

  it('finds the operation as the router does, a literal segment before a parameter', () => {
    expect(checker.operationOf('GET', '/api/auth/sessions/')?.key).toBe('GET /api/auth/sessions');
    expect(checker.operationOf('DELETE', `/api/auth/sessions/${randomUUID()}?x=1`)?.key).toBe(
      'DELETE /api/auth/sessions/{id}',
    );
    expect(checker.operationOf('GET', '/no/such/route')).toBeUndefined();
    expect(checker.operationOf('PUT', '/health')).toBeUndefined();
  });

  it('refuses an undocumented status, media type or body', () => {
    const problem = JSON.stringify({
      type: 'urn:hyperion-auth:problem:not_found',
      title: 'Not found',
      status: 404,
      detail: 'Not found',
      code: 'not_found',
      request_id: 'x',
    });
    expect(answer(404, 'application/problem+json; charset=utf-8', problem)).toEqual([]);
    expect(answer(418, 'application/problem+json', problem)[0]).toMatch(/not documented/);
    expect(answer(404, 'application/json', problem)[0]).toMatch(/media type not documented/);
    expect(answer(404, 'application/problem+json', '{"code":"not_found"}')[0]).toMatch(
      /does not match/,
    );
    // A code of another status is caught too.
    expect(
      answer(404, 'application/problem+json', problem.replace(/not_found/g, 'forbidden')),
    ).not.toEqual([]);
    expect(answer(200, 'application/json', '{"id":"not-a-uuid"}')[0]).toMatch(/does not match/);
  });
});

describe('every operation', () => {
  it('answers a NUL in the URL with a documented 400', async () => {
    for (const op of operations) {
      const response = await send({
        method: op.method,
        url: `${urlOf(op.path)}?q=%00`,
        headers: admin.auth,
      });
      expect(response.statusCode, label(op)).toBe(400);
    }
  });

  it('answers an undecodable or malformed path parameter with a documented 400', async () => {
    for (const op of operations.filter(({ path }) => path.includes('{'))) {
      const undecodable = await send({
        method: op.method,
        url: urlOf(op.path, () => '%zz'),
        headers: admin.auth,
      });
      expect(undecodable.statusCode, label(op)).toBe(400);
      const uuid = (op.operation['parameters'] as JsonObject[] | undefined)?.some(
        (parameter) => (parameter['schema'] as JsonObject | undefined)?.['format'] === 'uuid',
      );
      if (!uuid) continue;
      const malformed = await send({
        method: op.method,
        url: urlOf(op.path, () => 'not-an-id'),
        headers: admin.auth,
        ...(op.operation.requestBody ? { payload: {} } : {}),
      });
      expect(malformed.statusCode, label(op)).toBe(400);
    }
  });

  it('answers an id that names nothing with a documented 404 (or a 400 for the body)', async () => {
    for (const op of operations.filter(({ path }) => path.includes('{'))) {
      const response = await send({
        method: op.method,
        url: urlOf(op.path, (name) => (name === 'name' ? 'no-such-role' : randomUUID())),
        headers: admin.auth,
        ...(op.operation.requestBody ? { payload: { description: 'x' } } : {}),
      });
      expect([400, 404], label(op)).toContain(response.statusCode);
    }
  });

  it('answers a missing bearer token with a documented 401', async () => {
    const guarded = operations.filter(needsToken);
    expect(guarded.length).toBeGreaterThan(30);
    for (const op of guarded) {
      const response = await send({ method: op.method, url: urlOf(op.path) });
      expect(response.statusCode, label(op)).toBe(401);
    }
  });

  it('answers a JSON body that is not an object with a documented 400 that says so', async () => {
    // Pages read forms only: a JSON body of any shape is a 415 there (below).
    for (const op of operations.filter((op) => op.operation.requestBody && !isPage(op))) {
      const response = await send({
        method: op.method,
        url: urlOf(op.path),
        headers: { ...admin.auth, 'content-type': 'application/json' },
        payload: '[1, 2]',
      });
      expect(response.statusCode, label(op)).toBe(400);
      if (speaksOAuth(op)) continue;
      expect(problemOf(response).detail, label(op)).toBe('The body must be a JSON object');
    }
  });

  it('answers an unknown content type (415) and an oversized body (413) as documented', async () => {
    for (const op of operations.filter(readsBody)) {
      const url = urlOf(op.path);
      const textual = await send({
        method: op.method,
        url,
        headers: { ...admin.auth, 'content-type': 'text/plain' },
        payload: 'hello',
      });
      const large = await send({
        method: op.method,
        url,
        headers: { ...admin.auth, 'content-type': 'application/json' },
        payload: `{"name":"${'x'.repeat(deps.config.bodyLimit)}"}`,
      });
      // The token endpoint answers both in its own format, as invalid_request: a wrong content
      // type with OAuth's 400, an oversized body keeping HTTP's 413.
      // A page refuses the JSON of the oversized body by its type, before its size.
      const expected = speaksOAuth(op) ? [400, 413] : isPage(op) ? [415, 415] : [415, 413];
      expect([textual.statusCode, large.statusCode], label(op)).toEqual(expected);
      if (speaksOAuth(op))
        for (const answer of [textual, large])
          expect(answer.json(), label(op)).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('says what is wrong with a JSON body that is valid but would poison prototypes', async () => {
    const response = await send({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { 'content-type': 'application/json' },
      payload: '{"email":"a@example.com","password":"x","__proto__":{"admin":true}}',
    });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response).detail).toMatch(/__proto__/);
    const broken = await send({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { 'content-type': 'application/json' },
      payload: '{"email":',
    });
    expect(problemOf(broken).detail).toBe('The body is not valid JSON');
  });
});

describe('success paths', () => {
  it('answers the public documents and pages as documented', async () => {
    for (const url of [
      '/health',
      '/ready',
      '/metrics',
      '/.well-known/jwks.json',
      '/.well-known/openid-configuration',
      '/account/verify-email',
      '/account/reset-password',
    ]) {
      const response = await send({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
    }
  });

  it('answers the account and session operations as documented', async () => {
    const { email, password } = await signUp(app, { name: 'Ada' });
    const tokens = await signIn(app, email, password);
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const ok = async (options: InjectOptions, status: number) => {
      const response = await send(options);
      expect(response.statusCode, `${options.method} ${String(options.url)}`).toBe(status);
      return response;
    };
    await ok({ method: 'GET', url: '/api/auth/me', headers: auth }, 200);
    await ok({ method: 'GET', url: '/api/auth/verify', headers: auth }, 200);
    await ok({ method: 'GET', url: '/api/profile', headers: auth }, 200);
    await ok(
      { method: 'PATCH', url: '/api/profile', headers: auth, payload: { locale: 'en' } },
      200,
    );
    await ok({ method: 'POST', url: '/api/auth/email/verify/request', headers: auth }, 202);
    await ok(
      { method: 'POST', url: '/api/auth/email/verify', payload: { token: 'x'.repeat(43) } },
      400,
    );
    await ok({ method: 'POST', url: '/api/auth/password/forgot', payload: { email } }, 202);
    await ok(
      {
        method: 'POST',
        url: '/api/auth/password/reset',
        payload: { token: 'x'.repeat(43), password: GOOD_PASSWORD },
      },
      400,
    );
    await ok({ method: 'POST', url: '/api/auth/mfa/totp/setup', headers: auth }, 200);
    await ok(
      {
        method: 'POST',
        url: '/api/auth/mfa/totp/confirm',
        headers: auth,
        payload: { code: '000000' },
      },
      401,
    );
    await ok(
      { method: 'POST', url: '/api/auth/mfa/verify', payload: { mfa_token: 'x', code: '000000' } },
      401,
    );
    const refreshed = await ok(
      {
        method: 'POST',
        url: '/api/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
      },
      200,
    );
    const token = await ok(
      {
        method: 'POST',
        url: '/api/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'password',
          username: email,
          password,
        }).toString(),
      },
      200,
    );
    const tokenAuth = {
      authorization: `Bearer ${json<{ access_token: string }>(token).access_token}`,
    };
    const sessions = await ok(
      { method: 'GET', url: '/api/auth/sessions', headers: tokenAuth },
      200,
    );
    const other = json<{ items: { id: string; current: boolean }[] }>(sessions).items.find(
      (session) => !session.current,
    );
    await ok(
      { method: 'DELETE', url: `/api/auth/sessions/${other?.id ?? ''}`, headers: tokenAuth },
      204,
    );
    await ok(
      {
        method: 'POST',
        url: '/api/auth/password/change',
        headers: tokenAuth,
        payload: { current_password: password, new_password: `${GOOD_PASSWORD}-2` },
      },
      200,
    );
    await ok({ method: 'POST', url: '/api/auth/signout', headers: tokenAuth, payload: {} }, 204);
    expect(json(refreshed)).toHaveProperty('access_token');

    const { email: doomed } = await signUp(app);
    const doomedTokens = await signIn(app, doomed, GOOD_PASSWORD);
    await ok(
      {
        method: 'DELETE',
        url: '/api/auth/me',
        headers: { authorization: `Bearer ${doomedTokens.access_token}` },
        payload: { password: GOOD_PASSWORD },
      },
      204,
    );
  });

  it('answers the administration operations as documented', async () => {
    const ok = async (
      method: InjectOptions['method'],
      url: string,
      status: number,
      payload?: object,
    ): Promise<Record<string, unknown>> => {
      const response = await send({
        method,
        url,
        headers: admin.auth,
        ...(payload ? { payload } : {}),
      });
      expect(response.statusCode, `${String(method)} ${url} ${response.body}`).toBe(status);
      return response.body ? json(response) : {};
    };
    const { user } = await signedInUser(app);
    await ok('GET', '/api/admin/users?limit=2', 200);
    await ok('GET', `/api/admin/users/${user.id}`, 200);
    await ok('PATCH', `/api/admin/users/${user.id}`, 200, { name: 'Grace' });
    await ok('POST', `/api/admin/users/${user.id}/signout`, 204);

    const role = `conformance_${randomUUID().slice(0, 8)}`;
    await ok('GET', '/api/admin/roles', 200);
    await ok('POST', '/api/admin/roles', 201, { name: role, permissions: ['users:read'] });
    await ok('GET', `/api/admin/roles/${role}`, 200);
    await ok('PATCH', `/api/admin/roles/${role}`, 200, { description: 'checked' });

    await ok('GET', '/api/admin/groups', 200);
    const group = await ok('POST', '/api/admin/groups', 201, {
      name: `group ${role}`,
      roles: [role],
    });
    const groupId = String(group['id']);
    await ok('GET', `/api/admin/groups/${groupId}`, 200);
    await ok('PATCH', `/api/admin/groups/${groupId}`, 200, { description: 'checked' });
    await ok('POST', `/api/admin/groups/${groupId}/members`, 201, { user_id: user.id });
    await ok('GET', `/api/admin/groups/${groupId}/members`, 200);
    await ok('DELETE', `/api/admin/groups/${groupId}/members/${user.id}`, 204);
    await ok('DELETE', `/api/admin/groups/${groupId}`, 204);
    await ok('DELETE', `/api/admin/roles/${role}`, 204);

    await ok('GET', '/api/admin/service-accounts', 200);
    const account = await ok('POST', '/api/admin/service-accounts', 201, {
      name: 'conformance',
      scopes: ['users:read'],
    });
    const accountId = String(account['id']);
    await ok('GET', `/api/admin/service-accounts/${accountId}`, 200);
    const rotated = await ok('POST', `/api/admin/service-accounts/${accountId}/rotate`, 200);
    const grant = await send({
      method: 'POST',
      url: '/api/auth/token',
      payload: {
        grant_type: 'client_credentials',
        client_id: String(rotated['client_id']),
        client_secret: String(rotated['client_secret']),
      },
    });
    expect(grant.statusCode).toBe(200);
    await ok('DELETE', `/api/admin/service-accounts/${accountId}`, 204);

    await ok('GET', '/api/admin/audit-events?limit=5', 200);
    await ok('DELETE', `/api/admin/users/${user.id}`, 204);
  });
});

afterAll(() => {
  // Run last in the file: every answer above went through the checker in test/app.ts.
  const missing = operations.map(label).filter((key) => !openApi?.covered().has(key));
  expect(missing, 'operations with no answer checked against the document').toEqual([]);
  expect(openApi?.failures ?? []).toEqual([]);
});
