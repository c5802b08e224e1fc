import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/free-port.js';
import { type OidcTestApp, startOidcApp } from '../../../test/oidc.js';
import {
  type GuardOptions,
  type VerifiedToken,
  authOf,
  createNodeHandler,
  createVerifier,
  expressAuth,
  hyperionAuth,
} from '../src/index.js';
import { registerResource, resourceToken } from './kit.js';

// Each middleware of the kit in front of a real server, judged by oauth4webapi (an
// independent OAuth client): RFC 9728 metadata at both well-known paths, 401 with the
// resource_metadata challenge, 403 insufficient_scope naming the scope, 200 with req.auth.

let t: OidcTestApp;
beforeAll(async () => {
  t = await startOidcApp();
});
afterAll(async () => t.close());

interface Running {
  origin: string;
  close(): Promise<void>;
}

type Starter = (port: number, options: GuardOptions) => Promise<Running>;

const answer = (auth: VerifiedToken) => ({ sub: auth.sub, scopes: auth.scopes });

async function listening(server: Server, port: number): Promise<Running> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const starters: Record<string, Starter> = {
  fastify: async (port, options) => {
    const app = Fastify();
    await app.register(async (api) => {
      await api.register(hyperionAuth, options);
      api.get('/api/files', async (request) => answer(authOf(request)));
    });
    // Outside the protected scope: no token needed.
    app.get('/open', async () => ({ open: true }));
    await app.listen({ port, host: '127.0.0.1' });
    return { origin: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  express: async (port, options) => {
    const app = express();
    app.get('/open', (_req, res) => void res.json({ open: true }));
    app.use(expressAuth(options));
    app.get('/api/files', (req, res) => void res.json(answer(authOf(req))));
    return listening(createServer(app), port);
  },
  node: async (port, options) => {
    const handle = createNodeHandler(options);
    const server = createServer((req, res) => {
      void handle(req, res).then((auth) => {
        if (!auth) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer(auth)));
      });
    });
    return listening(server, port);
  },
};

/** The challenge of a refused request, parsed by oauth4webapi. */
async function challengeOf(url: URL, token: string) {
  const error = await oauth
    .protectedResourceRequest(token, 'GET', url, undefined, undefined, {
      [oauth.allowInsecureRequests]: true,
    })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
  expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
  const { status, cause } = error as oauth.WWWAuthenticateChallengeError;
  expect(cause).toHaveLength(1);
  return { status, scheme: cause[0]!.scheme, parameters: cause[0]!.parameters };
}

describe.each(Object.keys(starters))('%s', (name) => {
  let server: Running;
  let resource: string;
  beforeAll(async () => {
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/api`;
    await registerResource(t, resource, ['files:read', 'files:write']);
    const verifier = createVerifier({ issuer: t.issuer, audience: resource });
    server = await starters[name]!(port, {
      verifier,
      scopes: ['files:read'],
      scopesSupported: ['files:read', 'files:write'],
      resourceName: 'Team files',
    });
  });
  afterAll(async () => server.close());

  const metadataUrl = () => `${server.origin}/.well-known/oauth-protected-resource/api`;

  it('serves RFC 9728 metadata at the path-inserted, the bare and the appended well-known path', async () => {
    // oauth4webapi finds it from the resource identifier and checks `resource` matches.
    const found = await oauth.processResourceDiscoveryResponse(
      new URL(resource),
      await oauth.resourceDiscoveryRequest(new URL(resource), {
        [oauth.allowInsecureRequests]: true,
      }),
    );
    expect(found).toMatchObject({
      resource,
      authorization_servers: [t.issuer],
      scopes_supported: ['files:read', 'files:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Team files',
    });
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/api/.well-known/oauth-protected-resource',
    ]) {
      const other = await fetch(`${server.origin}${path}`);
      expect(other.status).toBe(200);
      expect(await other.json()).toEqual(found);
    }
  });

  it('answers 401 with the resource_metadata challenge without a token, or with a bad one', async () => {
    const missing = await fetch(`${server.origin}/api/files`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${metadataUrl()}", scope="files:read"`,
    );
    const bad = await challengeOf(new URL(`${server.origin}/api/files`), 'not.a.token');
    expect(bad).toEqual({
      status: 401,
      scheme: 'bearer',
      parameters: {
        resource_metadata: metadataUrl(),
        scope: 'files:read',
        error: 'invalid_token',
      },
    });
  });

  it('answers 403 insufficient_scope naming the scope, and lets a good token through', async () => {
    const writer = await resourceToken(t, resource, { scope: 'files:write' });
    const refused = await challengeOf(new URL(`${server.origin}/api/files`), writer);
    expect(refused).toEqual({
      status: 403,
      scheme: 'bearer',
      parameters: {
        error: 'insufficient_scope',
        scope: 'files:read',
        resource_metadata: metadataUrl(),
      },
    });
    const raw = await fetch(`${server.origin}/api/files`, {
      headers: { authorization: `Bearer ${writer}` },
    });
    expect(raw.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="files:read", resource_metadata="${metadataUrl()}"`,
    );
    const reader = await resourceToken(t, resource, { scope: 'files:read', sub: 'reader-1' });
    const ok = await fetch(`${server.origin}/api/files`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sub: 'reader-1', scopes: ['files:read'] });
  });

  it('refuses a token for another resource', async () => {
    const other = await resourceToken(t, 'https://elsewhere.example.com/api', {
      scope: 'files:read',
    }).catch(() => undefined);
    // The signer binds any audience it is given; what matters is this server's refusal.
    const response = await fetch(`${server.origin}/api/files`, {
      headers: { authorization: `Bearer ${other}` },
    });
    expect(response.status).toBe(401);
  });
});
