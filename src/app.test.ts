import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, startTestApp } from '../test/app.js';
import { servedRoutes } from '../test/served-routes.js';

// The OpenAPI document is generated from the route schemas; these tests make sure no route
// escapes it (a route registered outside the swagger plugin's view would) and that /docs loads.
const { app } = await startTestApp();

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, unknown>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, string>> };
}

// Served by the docs plugins themselves, deliberately left out of the document.
// The docs themselves, and CORS preflight (answered for every path by @fastify/cors).
const UNDOCUMENTED = [/^\/docs(\/|$)/, /^\/openapi\.json$/, /^\/\{\*\}$/];

/** Every route the app really serves, as OpenAPI path → lower-case methods without HEAD. */
function servedPaths(instance: FastifyInstance): Map<string, string[]> {
  const routes = new Map<string, string[]>();
  for (const { method, path } of servedRoutes(instance)) {
    if (method === 'HEAD' || UNDOCUMENTED.some((pattern) => pattern.test(path))) continue;
    routes.set(path, [...(routes.get(path) ?? []), method.toLowerCase()]);
  }
  return routes;
}

let doc: OpenApiDocument;
beforeAll(async () => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  doc = json<OpenApiDocument>(response);
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document of this service', () => {
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(doc.info.title).toBe('Hyperion Auth');
  });

  it('lists the contract routes', () => {
    const expected: [string, string][] = [
      ['/api/auth/signup', 'post'],
      ['/api/auth/signin', 'post'],
      ['/api/auth/me', 'get'],
      ['/health', 'get'],
      ['/ready', 'get'],
      ['/.well-known/jwks.json', 'get'],
      ['/.well-known/openid-configuration', 'get'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], path).toBeDefined();
  });

  it('lists every route the app serves, and nothing it does not serve', () => {
    const served = servedPaths(app);
    // The parser must have found the routes at all, or the comparison below proves nothing.
    expect(served.get('/api/auth/signup')).toEqual(['post']);
    expect(served.size).toBeGreaterThanOrEqual(7);
    for (const [path, methods] of served) {
      for (const method of methods) {
        expect(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
      }
    }
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        expect(served.get(path), `${method.toUpperCase()} ${path}`).toContain(method);
      }
    }
  });

  it('requires the bearer scheme on authenticated routes, and only there', () => {
    expect(doc.components.securitySchemes['bearerAuth']).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    // Alternatives (e.g. Swagger UI's OAuth2 sign-in) may follow; the bearer token is required.
    expect(doc.paths['/api/auth/me']?.['get']?.security).toContainEqual({ bearerAuth: [] });
    expect(doc.paths['/api/auth/signup']?.['post']?.security).toBeUndefined();
    expect(doc.paths['/api/auth/signin']?.['post']?.security).toBeUndefined();
    expect(doc.paths['/health']?.['get']?.security).toBeUndefined();
  });

  it('refers only to security schemes it defines', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const name of (operation.security ?? []).flatMap((entry) => Object.keys(entry))) {
          expect(doc.components.securitySchemes, `${method.toUpperCase()} ${path}`).toHaveProperty(
            name,
          );
        }
      }
    }
  });

  it('documents request bodies and problem responses from the route schemas', () => {
    const signup = doc.paths['/api/auth/signup']?.['post'];
    const body = signup?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body?.properties ?? {})).toEqual(
      expect.arrayContaining(['email', 'password', 'name']),
    );
    expect(Object.keys(signup?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '400', '409']),
    );
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const success = Object.keys(operation.responses).filter((status) => /^2/.test(status));
        // The authorization endpoint succeeds only by redirecting (to the client, or a page).
        const redirects = Object.keys(operation.responses).filter((status) => /^3/.test(status));
        if (success.length === 0 && redirects.length > 0) continue;
        // One success each, but for adding a group member: 201 added, 200 already a member.
        expect(success.length, `${method.toUpperCase()} ${path} documents a success`).toBe(
          path === '/api/admin/groups/{id}/members' && method === 'post' ? 2 : 1,
        );
      }
    }
  });
});

describe('GET /docs', () => {
  it('serves the interactive documentation as HTML', async () => {
    let response = await app.inject({ method: 'GET', url: '/docs' });
    for (
      let hops = 0;
      hops < 3 && response.statusCode >= 300 && response.statusCode < 400;
      hops++
    ) {
      const location = new URL(String(response.headers['location']), 'http://auth.test/docs/');
      response = await app.inject({ method: 'GET', url: location.pathname + location.search });
    }
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toMatch(/<html/i);
  });

  it('serves the assets the page loads and the same document it describes', async () => {
    const css = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
    expect(css.statusCode).toBe(200);
    const spec = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(spec.statusCode).toBe(200);
    expect(json(spec)).toEqual(doc);
  });
});
